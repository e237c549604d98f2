import { Cancellations, REMEMBER_CANCEL_MS } from './cancellations';

describe('Cancellations', () => {
  it('stops a registered request and forgets it', () => {
    const cancellations = new Cancellations();
    const reasons: string[] = [];
    cancellations.register('s1', 7, (reason) => reasons.push(reason));
    expect(cancellations.runs('s1', 7)).toBe(true);
    expect(cancellations.cancel('s1', 7, 'user')).toBe(true);
    expect(reasons).toEqual(['user']);
    expect(cancellations.runs('s1', 7)).toBe(false);
  });

  it('keeps sessions and id types apart', () => {
    const cancellations = new Cancellations();
    const stopped: string[] = [];
    cancellations.register('s1', 1, () => stopped.push('s1/1'));
    cancellations.register('s2', 1, () => stopped.push('s2/1'));
    cancellations.register('s1', '1', () => stopped.push("s1/'1'"));
    cancellations.cancel('s2', 1, 'x');
    expect(stopped).toEqual(['s2/1']);
  });

  it('applies a cancellation that arrived before its request was registered', () => {
    const cancellations = new Cancellations();
    expect(cancellations.cancel('s1', 'early', 'overtook the request')).toBe(false);
    const reasons: string[] = [];
    cancellations.register('s1', 'early', (reason) => reasons.push(reason));
    expect(reasons).toEqual(['overtook the request']);
  });

  it('forgets an early cancellation after a few seconds', () => {
    let now = 1_000;
    const cancellations = new Cancellations(() => now);
    cancellations.cancel('s1', 3, 'too early');
    now += REMEMBER_CANCEL_MS + 1;
    const reasons: string[] = [];
    cancellations.register('s1', 3, (reason) => reasons.push(reason));
    expect(cancellations.runs('s1', 3)).toBe(true);
    expect(reasons).toEqual([]);
  });

  it('an unregistered request is no longer stopped', () => {
    const cancellations = new Cancellations();
    const reasons: string[] = [];
    const unregister = cancellations.register('s1', 9, (reason) => reasons.push(reason));
    unregister();
    cancellations.cancel('s1', 9, 'late');
    expect(reasons).toEqual([]);
  });

  it('stops every request of an ended session, and only those', () => {
    const cancellations = new Cancellations();
    const stopped: string[] = [];
    cancellations.register('s1', 1, () => stopped.push('s1/1'));
    cancellations.register('s1', 2, () => stopped.push('s1/2'));
    cancellations.register('s10', 1, () => stopped.push('s10/1'));
    cancellations.cancelSession('s1', 'session closed');
    expect(stopped.sort()).toEqual(['s1/1', 's1/2']);
    expect(cancellations.runs('s10', 1)).toBe(true);
  });
});
