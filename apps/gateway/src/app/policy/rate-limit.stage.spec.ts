import { MemoryRateLimiter, type LimitDecision } from '@fabric/platform-limits';
import type { Operation, OperationContext, OperationRequest } from '../operations/operation';
import { parsePolicy } from './policy-file';
import { RateLimitRules } from './rate-limit.rules';
import { RateLimitStage } from './rate-limit.stage';

const rules = RateLimitRules.of(
  parsePolicy({
    rateLimits: [
      { name: 'echo-burst', principal: '*', tool: 'testbed_echo', limit: 2, windowMs: 1_000 },
      { name: 'hourly', principal: '*', tool: 'testbed_*', limit: 3, windowMs: 3_600_000 },
    ],
  }).rateLimits,
);

describe('RateLimitStage', () => {
  let now: number;
  let limiter: MemoryRateLimiter;
  let refused: string[];
  let backend: number;
  let stage: RateLimitStage;

  beforeEach(() => {
    now = 0;
    limiter = new MemoryRateLimiter(() => now);
    refused = [];
    backend = 0;
    stage = new RateLimitStage(rules, limiter, (rule) => refused.push(rule));
  });

  afterEach(() => limiter.close());

  const run = (operation: Operation, context: OperationContext = {}) => {
    const request: OperationRequest = { operation, context, served: {} };
    return stage.handle(request, async () => ({ content: [{ type: 'text', text: `ok ${++backend}` }] }));
  };
  const call = (name: string, context?: OperationContext) => run({ kind: 'tools/call', name }, context);

  it('refuses a call over a limit with an isError result naming the limit and the wait, reaching no service', async () => {
    const alice = { principal: { subject: 'alice', scopes: [] } };
    await call('testbed_echo', alice);
    now = 250;
    await call('testbed_echo', alice);
    expect(await call('testbed_echo', alice)).toEqual({
      isError: true,
      content: [
        {
          type: 'text',
          text: 'Rate limit "echo-burst" exceeded: 2 calls per 1000 ms for alice on testbed_echo; retry in 1 s',
        },
      ],
    });
    expect(backend).toBe(2);
    expect(refused).toEqual(['echo-burst']);
    // The refused call was counted nowhere: the hourly window still has room for one more.
    now = 1_000;
    expect(await call('testbed_echo', alice)).toEqual({ content: [{ type: 'text', text: 'ok 3' }] });
    expect(await call('testbed_echo', alice)).toMatchObject({
      isError: true,
      content: [{ text: expect.stringMatching(/^Rate limit "hourly" exceeded: .* retry in 3599 s$/) }],
    });
    // Each tool has windows of its own.
    expect(await call('testbed_stamp', alice)).toEqual({ content: [{ type: 'text', text: 'ok 4' }] });
  });

  it('limits callers without a principal together, as anonymous, apart from authenticated ones', async () => {
    await call('testbed_echo');
    await call('testbed_echo', { sessionId: 'another' });
    expect(await call('testbed_echo')).toMatchObject({ isError: true, content: [{ text: /for anonymous on/ }] });
    expect(await call('testbed_echo', { principal: { subject: 'bob', scopes: [] } })).not.toHaveProperty('isError');
  });

  it('passes calls no rule covers, and other operations, without asking the limiter', async () => {
    const consume = jest.spyOn(limiter, 'consume');
    await call('knowledge_search');
    await run({ kind: 'tools/list' });
    await run({ kind: 'resources/read', uri: 'testbed://x' });
    expect(consume).not.toHaveBeenCalled();
    expect(backend).toBe(3);
  });

  it('refuses when the limiter cannot check (fails closed), and lets the call through when it fails open', async () => {
    const answer = (decision: LimitDecision) => jest.spyOn(limiter, 'consume').mockResolvedValue(decision);
    answer({ outcome: 'unavailable', retryAfterMs: 1_000 });
    expect(await call('testbed_echo')).toEqual({
      isError: true,
      content: [{ type: 'text', text: 'Rate limits cannot be checked right now; retry in 1 s' }],
    });
    expect(refused).toEqual(['unavailable']);
    answer({ outcome: 'allowed', unchecked: true });
    expect(await call('testbed_echo')).toEqual({ content: [{ type: 'text', text: 'ok 1' }] });
  });
});
