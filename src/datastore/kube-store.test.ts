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
});
