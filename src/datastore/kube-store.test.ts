import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seedDocuments } from '../model/testdata/seed-003-calico.js';
import { compactObject } from './kube-convert.js';
import { KubeStore, kubeResources } from './kube-store.js';

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
    const store = new KubeStore(kubeResources([]).filter((r) => !r.includes('.')));
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
  it('watches GlobalNetworkPolicies and HostEndpoints of palisade.dev and each Calico group asked for', () => {
    const calicoKinds = (groups: Parameters<typeof kubeResources>[0]) =>
      kubeResources(groups).filter((r) => r.includes('.'));
    assert.deepEqual(calicoKinds([]), ['globalnetworkpolicies.palisade.dev', 'hostendpoints.palisade.dev']);
    assert.deepEqual(calicoKinds(undefined), [
      'globalnetworkpolicies.palisade.dev',
      'hostendpoints.palisade.dev',
      'globalnetworkpolicies.crd.projectcalico.org',
      'hostendpoints.crd.projectcalico.org',
      'globalnetworkpolicies.projectcalico.org',
      'hostendpoints.projectcalico.org',
    ]);
  });
  it('merges the groups, sorted by key, parsed as of the group listed; a group not served holds none', () => {
    const resources = kubeResources();
    const store = new KubeStore(resources);
    // List items come without apiVersion and kind: the resource's group says which.
    const item = (doc: Record<string, unknown>, rv: string) => {
      const { apiVersion: _a, kind: _k, ...rest } = doc;
      return { ...rest, metadata: { ...(rest.metadata as object), resourceVersion: rv } };
    };
    const [outbound, internal, drop, hep] = seedDocuments('node-a') as [
      Record<string, unknown>,
      Record<string, unknown>,
      Record<string, unknown>,
      Record<string, unknown>,
    ];
    const cache = (resource: string, docs: Record<string, unknown>[]) =>
      store.setCache(resource as (typeof resources)[number], {
        list: () => docs.map((d, i) => compactObject(resource, item(d, String(10 + i)))),
      });
    cache('globalnetworkpolicies.projectcalico.org', [outbound, internal, drop]);
    cache('globalnetworkpolicies.palisade.dev', [drop]);
    cache('globalnetworkpolicies.crd.projectcalico.org', [internal]);
    cache('hostendpoints.crd.projectcalico.org', [hep]);
    cache('hostendpoints.palisade.dev', [{ metadata: { name: 'broken' }, spec: { node: 'node-a' } }]);
    for (const r of resources) store.applyList(r, '20');
    store.applyNotServed('globalnetworkpolicies.crd.projectcalico.org');
    const s = store.snapshot();
    assert.equal(s.synced, true);
    assert.deepEqual(
      s.globalPolicies?.map((p) => [p.group, p.name, p.problems.length]),
      [
        ['palisade.dev', 'drop-other-ingress', 0],
        ['projectcalico.org', 'allow-cluster-internal-ingress', 0],
        ['projectcalico.org', 'allow-outbound-external', 0],
        ['projectcalico.org', 'drop-other-ingress', 0],
      ],
    );
    assert.deepEqual(
      s.hostEndpoints?.map((h) => [h.group, h.name, h.interfaceName, h.problems.length]),
      [
        ['palisade.dev', 'broken', undefined, 1], // hep:broken
        ['crd.projectcalico.org', 'node-a', '*', 0], // hep:crd.projectcalico.org/node-a
      ],
    );
    assert.deepEqual(store.snapshot().globalPolicies?.[0], s.globalPolicies?.[0], 'memoised per object');
  });
});
