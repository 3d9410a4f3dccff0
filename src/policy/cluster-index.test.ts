// ClusterIndex.update: the differences it reports between successive full states.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ClusterState, PodInfo } from '../model/cluster.js';
import { ClusterIndex } from './cluster-index.js';
import { makeNamespace, makePod, makePolicy } from './testdata/builders.js';

const a = makePod('shop', 'a', { app: 'a' }, { node: 'node-1', ip: '10.244.1.1' });
const b = makePod('shop', 'b', { app: 'b' }, { node: 'node-2', ip: '10.244.2.1' });
const c = makePod('bill', 'c', { app: 'c' }, { node: 'node-2', ip: '10.244.2.2' });
const ns = [makeNamespace('shop'), makeNamespace('bill')];
const state = (pods: PodInfo[], extra: Partial<ClusterState> = {}): ClusterState => ({
  namespaces: ns,
  nodes: [],
  pods,
  policies: [],
  ...extra,
});
const keys = (d: ReturnType<ClusterIndex['update']>) =>
  d.pods.map(([k, before, after]) => `${k}:${before ? 'old' : '-'}>${after ? 'new' : '-'}`);

describe('ClusterIndex.update', () => {
  it('reports pods added, changed and removed, and nothing for the same state again', () => {
    const idx = new ClusterIndex();
    assert.deepEqual(keys(idx.update(state([a, b]))), ['shop/a:->new', 'shop/b:->new']);
    assert.deepEqual(keys(idx.update(state([a, b]))), []);
    const b2 = { ...b, labels: { app: 'x' } };
    assert.deepEqual(keys(idx.update(state([a, b2, c]))), ['shop/b:old>new', 'bill/c:->new']);
    assert.deepEqual(keys(idx.update(state([b2, c]))), ['shop/a:old>-']);
    assert.deepEqual([...idx.podsByNs.keys()], ['shop', 'bill']);
    assert.deepEqual(keys(idx.update(state([c]))), ['shop/b:old>-']);
    assert.deepEqual([...idx.podsByNs.keys()], ['bill'], 'an emptied namespace leaves the index');
  });
  it('a copy with the same content is no change, and is kept as the current object', () => {
    const idx = new ClusterIndex();
    idx.update(state([a, b]));
    const copies = [{ ...a }, { ...b, labels: { ...b.labels } }];
    assert.deepEqual(keys(idx.update(state(copies))), []);
    assert.equal(idx.pods.get('shop/a'), copies[0]);
    assert.deepEqual(keys(idx.update(state(copies))), []);
  });
  it('a pod that loses its addresses leaves; one without addresses never enters', () => {
    const idx = new ClusterIndex();
    const pending: PodInfo = { ...c, ips: [] };
    assert.deepEqual(keys(idx.update(state([a, pending]))), ['shop/a:->new']);
    assert.deepEqual(keys(idx.update(state([{ ...a, ips: [] }, pending]))), ['shop/a:old>-']);
    assert.equal(idx.pods.size, 0);
  });
  it('a pod listed twice counts once; a removal is still found', () => {
    const idx = new ClusterIndex();
    idx.update(state([a, b]));
    assert.deepEqual(keys(idx.update(state([a, a, { ...a, labels: { app: 'other' } }]))), ['shop/b:old>-']);
    assert.equal(idx.pods.get('shop/a'), a);
  });
  it('tracks the address families and namespace label changes', () => {
    const idx = new ClusterIndex();
    idx.update(state([a]));
    assert.deepEqual(idx.families, [4]);
    const dual = { ...a, ips: ['10.244.1.1', 'fd00::1'] };
    assert.equal(idx.update(state([dual])).namespaceLabels, false);
    assert.deepEqual(idx.families, [4, 6]);
    idx.update(state([a]));
    assert.deepEqual(idx.families, [4]);
    const relabelled = [makeNamespace('shop', { env: 'prod' }), makeNamespace('bill')];
    assert.equal(idx.update(state([a], { namespaces: relabelled })).namespaceLabels, true);
    assert.equal(idx.update(state([a], { namespaces: relabelled })).namespaceLabels, false);
    assert.equal(idx.update(state([a], { namespaces: [relabelled[0]!] })).namespaceLabels, true);
  });
  it('reports policies added, edited and removed; an equal copy is no change', () => {
    const idx = new ClusterIndex();
    const p = makePolicy('shop', 'deny');
    const q = makePolicy('shop', 'other');
    const pol = (d: ReturnType<ClusterIndex['update']>) =>
      d.policies.map(([k, x, y]) => `${k}:${x ? 1 : 0}${y ? 1 : 0}`);
    assert.deepEqual(pol(idx.update(state([], { policies: [p, q] }))), ['shop/deny:01', 'shop/other:01']);
    assert.deepEqual(pol(idx.update(state([], { policies: [{ ...p }, q] }))), []);
    assert.deepEqual(pol(idx.update(state([], { policies: [{ ...p, policyTypes: ['Egress'] }] }))), [
      'shop/deny:11',
      'shop/other:10',
    ]);
    assert.deepEqual([...(idx.policiesByNs.get('shop')?.keys() ?? [])], ['shop/deny']);
  });
});
