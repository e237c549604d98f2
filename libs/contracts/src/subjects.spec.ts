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

  it('gives a cancel subject that the two-token request wildcard does not match', () => {
    const subjects = fabricSubjects('ns');
    const wildcardTokens = subjects.requestWildcard('orders').split('.').length;
    expect(subjects.cancel('orders').split('.').length).not.toBe(wildcardTokens);
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
