// planRepairs: which unredirected pods the repair controller acts on, which it holds back, and never twice.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NamespaceInfo, PodInfo } from '../model/cluster.js';
import { CODESEALER_PROFILE } from './profile.js';
import { markerKey, planRepairs, type RepairInput } from './repair.js';

const NOW = Date.parse('2026-11-24T12:00:00Z');
const ns: NamespaceInfo[] = [
  { name: 'shop', labels: { 'codesealer.com/webhook': 'enabled' } },
  { name: 'plain', labels: {} },
];

function pod(
  name: string,
  over: Partial<PodInfo> & { ageS?: number; owner?: string; namespace?: string } = {},
): PodInfo {
  const { ageS = 600, owner, ...rest } = over;
  return {
    namespace: 'shop',
    name,
    node: 'node-1',
    ips: ['10.244.1.5'],
    labels: {},
    ports: [],
    workload: {
      annotations: { 'sidecar.codesealer.com/status': 'injected', 'codesealer.com/dport': '8080' },
      containers: [{ name: 'codesealer-core', ports: [] }],
      initContainers: [],
      uid: `uid-${name}`,
      createdAt: new Date(NOW - ageS * 1000).toISOString(),
      ...(owner ? { owner } : {}),
    },
    ...rest,
  };
}

function input(pods: PodInfo[], over: Partial<RepairInput> = {}): RepairInput {
  return {
    node: 'node-1',
    pods,
    namespaces: ns,
    markers: new Set(),
    selection: { excludeNamespaces: ['kube-system'], profile: CODESEALER_PROFILE },
    action: 'label',
    nowMs: NOW,
    graceMs: 60_000,
    acted: new Set(),
    ownerDeletedAt: new Map(),
    ownerCooldownMs: 600_000,
    ...over,
  };
}

const names = (xs: readonly { pod: PodInfo }[]) => xs.map((x) => x.pod.name);

describe('planRepairs', () => {
  it('acts on a selected pod of this node without a marker', () => {
    const plan = planRepairs(input([pod('missed')]));
    assert.deepEqual(names(plan.act), ['missed']);
    assert.match(
      plan.act[0]!.reason,
      /shop\/missed should have its traffic redirected .* but left no marker/,
    );
    assert.equal(plan.act[0]!.key, 'uid-missed');
  });
  it('leaves alone: pods with a marker, pods it does not select, pods of other nodes, pods without an IP', () => {
    const plan = planRepairs(
      input(
        [
          pod('redirected'),
          pod('other-node', { node: 'node-2' }),
          pod('no-ip', { ips: [] }),
          pod('not-selected', { namespace: 'plain' }),
        ],
        { markers: new Set([markerKey({ uid: 'uid-redirected', namespace: 'shop', name: 'redirected' })]) },
      ),
    );
    assert.deepEqual(plan, { act: [], held: [] });
  });
  it('holds a pod younger than the grace period (its ADD may still run)', () => {
    const plan = planRepairs(input([pod('young', { ageS: 10 })]));
    assert.deepEqual(names(plan.held), ['young']);
    assert.match(plan.held[0]!.reason, /grace period/);
  });
  it('never acts on a pod twice', () => {
    assert.deepEqual(planRepairs(input([pod('missed')], { acted: new Set(['uid-missed']) })), {
      act: [],
      held: [],
    });
  });
  it('deleting: an owner whose pod was just deleted waits for its cool-down; labelling does not', () => {
    const owned = pod('web-2', { owner: 'ReplicaSet/web-7d9f' });
    const recent = new Map([['ReplicaSet/web-7d9f', NOW - 60_000]]);
    const del = planRepairs(input([owned], { action: 'delete', ownerDeletedAt: recent }));
    assert.deepEqual(names(del.held), ['web-2']);
    assert.match(del.held[0]!.reason, /ReplicaSet\/web-7d9f was deleted for this recently/);
    const later = planRepairs(
      input([owned], { action: 'delete', ownerDeletedAt: recent, nowMs: NOW + 600_000 }),
    );
    assert.deepEqual(names(later.act), ['web-2']);
    assert.deepEqual(names(planRepairs(input([owned], { ownerDeletedAt: recent })).act), ['web-2']);
  });
  it('deleting: a pod no controller owns is never deleted (it would not come back)', () => {
    const plan = planRepairs(input([pod('bare')], { action: 'delete' }));
    assert.deepEqual(names(plan.act), []);
    assert.match(plan.held[0]!.reason, /no owner to recreate it/);
    assert.deepEqual(names(planRepairs(input([pod('bare')])).act), ['bare'], 'labelling it is fine');
  });
  it('a pod without a UID is keyed by namespace.name, as the plugin names its marker', () => {
    const p = pod('anon');
    const noUid: PodInfo = { ...p, workload: { ...p.workload!, uid: undefined } };
    assert.equal(planRepairs(input([noUid])).act[0]!.key, 'shop.anon');
    assert.deepEqual(planRepairs(input([noUid], { markers: new Set(['shop.anon']) })).act, []);
  });
});
