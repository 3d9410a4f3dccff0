import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KubeStore } from './kube-store.js';

const object = (resourceVersion: string) => ({ metadata: { name: 'x', namespace: 'n', resourceVersion } });

describe('kube store revisions', () => {
  it('advance overall and per resource with lists and object events, never with bookmarks or errors', () => {
    const store = new KubeStore();
    store.applyList('pods', '5');
    store.applyList('networkpolicies', '3');
    store.applyEvent('networkpolicies', 'MODIFIED', object('9'));
    store.applyEvent('pods', 'BOOKMARK', object('20'));
    store.applyEvent('pods', 'ERROR', { code: 410 });
    store.applyEvent('namespaces', 'DELETED', object('7'));
    const snap = store.snapshot();
    assert.equal(snap.revision, '9');
    assert.deepEqual(snap.revisions, { pods: '5', networkpolicies: '9', namespaces: '7' });
  });
  it('an older event (a relist of one resource) moves neither', () => {
    const store = new KubeStore();
    store.applyEvent('pods', 'ADDED', object('12'));
    store.applyList('pods', '10');
    assert.deepEqual(store.snapshot().revisions, { pods: '12' });
  });
  it('a resource not served counts as synced and holds nothing, until a list succeeds', () => {
    const store = new KubeStore();
    const cached = [{ metadata: { name: 'p', resourceVersion: '3' }, model: { name: 'p', problems: [] } }];
    store.setCache('clusternetworkpolicies', { list: () => cached });
    for (const r of ['namespaces', 'pods', 'nodes', 'networkpolicies'] as const) store.applyList(r, '2');
    assert.equal(store.snapshot().synced, false);
    assert.equal(store.applyNotServed('clusternetworkpolicies'), true);
    assert.equal(store.applyNotServed('clusternetworkpolicies'), false, 'news only once');
    assert.equal(store.snapshot().synced, true);
    assert.deepEqual(store.snapshot().clusterPolicies, []);
    assert.deepEqual(store.clusterPolicyObjects(), []);
    store.applyList('clusternetworkpolicies', '3');
    assert.deepEqual(
      store.snapshot().clusterPolicies?.map((p) => p.name),
      ['p'],
    );
    assert.equal(store.clusterPolicyObjects().length, 1);
    assert.equal(store.applyNotServed('clusternetworkpolicies'), true, 'gone again: news again');
  });
});
