import { OPERATIONS, fabricSubjects, operationOfSubject } from './subjects';

describe('fabricSubjects', () => {
  it('puts the default namespace "fabric" and the contract version at the root of every subject', () => {
    const subjects = fabricSubjects();
    expect(subjects.request('orders', 'tools.call')).toBe('fabric.v1.svc.orders.tools.call');
    expect(subjects.announce).toBe('fabric.v1.discovery.announce');
  });

  it('builds the request, wildcard, cancel and discovery subjects of a namespace', () => {
    const subjects = fabricSubjects('t1a2');
    expect(subjects).toMatchObject({
      announce: 't1a2.v1.discovery.announce',
      goodbye: 't1a2.v1.discovery.goodbye',
      hello: 't1a2.v1.discovery.hello',
    });
    expect(subjects.request('orders', 'resources.read')).toBe('t1a2.v1.svc.orders.resources.read');
    expect(subjects.requestWildcard('orders')).toBe('t1a2.v1.svc.orders.*.*');
    expect(subjects.cancel('orders')).toBe('t1a2.v1.svc.orders.cancel');
  });

  it('names the queue group after the namespace and the service, so replicas of one fabric share calls', () => {
    expect(fabricSubjects('t1a2').queueGroup('orders')).toBe('t1a2.orders');
    expect(fabricSubjects('other').queueGroup('orders')).not.toBe(fabricSubjects('t1a2').queueGroup('orders'));
  });

  it('gives cancel and probe subjects that the request wildcard does not match', () => {
    const subjects = fabricSubjects('ns');
    const wildcard = subjects.requestWildcard('orders');
    expect(matches(wildcard, subjects.request('orders', 'tools.call'))).toBe(true);
    expect(matches(wildcard, subjects.cancel('orders'))).toBe(false);
    expect(matches(wildcard, subjects.probe('orders', 'orders-1a2b'))).toBe(false);
  });

  it('turns any instance id into one token of its probe subject', () => {
    const probe = fabricSubjects('ns').probe('orders', 'pod.orders-7d9f abc>*');
    expect(probe).toBe('ns.v1.instance.orders.pod_orders-7d9f_abc__.probe');
  });
});

describe('operationOfSubject', () => {
  it.each(OPERATIONS)('recovers %s from its request subject', (operation) => {
    expect(operationOfSubject(fabricSubjects('ns').request('orders', operation))).toBe(operation);
  });

  it('returns undefined for subjects that are not requests', () => {
    const subjects = fabricSubjects('ns');
    expect(operationOfSubject(subjects.cancel('orders'))).toBeUndefined();
    expect(operationOfSubject(subjects.announce)).toBeUndefined();
    expect(operationOfSubject('ns.v1.svc.orders.tools.delete')).toBeUndefined();
    expect(operationOfSubject('')).toBeUndefined();
  });
});

/** NATS subject matching: `*` is one token, `>` the rest. */
function matches(pattern: string, subject: string): boolean {
  const want = pattern.split('.');
  const got = subject.split('.');
  for (let i = 0; i < want.length; i++) {
    if (want[i] === '>') return got.length > i;
    if (i >= got.length || (want[i] !== '*' && want[i] !== got[i])) return false;
  }
  return want.length === got.length;
}
