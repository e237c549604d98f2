import type { CallEvent } from '@fabric/contracts';
import { increasingProgress, type CallListener } from './call-events';

describe('increasingProgress', () => {
  function relay(): { listener: CallListener; passed: CallEvent[] } {
    const passed: CallEvent[] = [];
    const inner: CallListener = { event: (event) => void passed.push(event), request: async () => 'answer' };
    return { listener: increasingProgress(inner), passed };
  }

  it('passes on only progress above the highest passed on so far, and every log', async () => {
    const { listener, passed } = relay();
    const progress = (value: number): CallEvent => ({ type: 'progress', progress: value });
    const log: CallEvent = { type: 'log', level: 'info', data: 'restarted' };
    for (const event of [progress(1), progress(2), progress(2), log, progress(0.5), progress(2.5), progress(2)])
      await listener.event(event);
    expect(passed).toEqual([progress(1), progress(2), log, progress(2.5)]);
  });

  it('passes requests to the client through unchanged', async () => {
    const { listener } = relay();
    const request = { type: 'request', method: 'elicitation/create', params: {} } as const;
    const origin = { callId: 'c1', replyTo: '_INBOX.x' };
    await expect(listener.request(request, new AbortController().signal, origin)).resolves.toBe('answer');
  });
});
