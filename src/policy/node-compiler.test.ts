// The incremental node compiler against a fresh compile: after every step of a random walk through cluster
// changes (pods, labels, ports, addresses, interfaces, namespaces, policies), the table it keeps must equal the
// table compiled from scratch for the same state. And what a change does not touch is reused by reference.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Table } from '../ir/ir.js';
import { setChangeFrom } from '../ir/set-change.js';
import type { ClusterState, PodInfo } from '../model/cluster.js';
import type { NetworkPolicy } from '../model/network-policy.js';
import { compileNode } from './compile.js';
import { NodeCompiler } from './node-compiler.js';
import { makeNamespace } from './testdata/builders.js';
import {
  Gen,
  LABEL_KEYS,
  LABEL_VALUES,
  NAMESPACES,
  prng,
  randomCluster,
  randomClusterPolicy,
  randomPolicy,
} from './testdata/random.js';

/** Sets compared as sets: the incremental compiler appends elements in the order pods come. */
function normalise(t: Table): Table {
  return { ...t, sets: t.sets.map((s) => ({ ...s, elements: [...s.elements].sort() })) };
}

function labels(g: Gen): Record<string, string> {
  return Object.fromEntries(LABEL_KEYS.filter(() => g.chance(0.6)).map((k) => [k, g.pick(LABEL_VALUES)]));
}

const NAMES = ['http', 'dns', 'metrics'];
const STEPS = [
  'cluster policy add/remove/edit',
  'node relabel',
  'pod add',
  'pod shares an address',
  'pod remove',
  'pod relabel',
  'pod ports',
  'pod ipv6',
  'pod unwired',
  'pod moves node',
  'namespace relabel',
  'namespace add/remove',
  'policy add',
  'policy remove',
  'policy edit',
  'policy break/fix',
  'nothing',
] as const;

/** One random change of the kind `step` (the same seed, the same change). */
function change(state: ClusterState, g: Gen, step: (typeof STEPS)[number], n: number): ClusterState {
  const pods = [...state.pods];
  const policies: NetworkPolicy[] = [...state.policies];
  const pick = () => g.int(0, pods.length - 1);
  const setPod = (k: number, p: Partial<PodInfo>) => {
    pods[k] = { ...pods[k]!, ...p };
  };
  switch (step) {
    case 'pod add': {
      const node = g.pick(['node-1', 'node-2']);
      pods.push({
        namespace: g.pick([...NAMESPACES, 'd']),
        name: `new${n}`,
        node,
        ips: [`10.244.${node === 'node-1' ? 1 : 2}.${100 + (n % 150)}`],
        labels: labels(g),
        ports: g.chance(0.5) ? [{ name: g.pick(NAMES), containerPort: 80, protocol: 'TCP' }] : [],
        interface: g.chance(0.9) ? `palnew${n}` : undefined,
      });
      break;
    }
    case 'pod remove':
      if (pods.length > 0) pods.splice(pick(), 1);
      break;
    case 'pod relabel':
      if (pods.length > 0) setPod(pick(), { labels: labels(g) });
      break;
    case 'pod ports':
      if (pods.length > 0)
        setPod(pick(), {
          ports: [{ name: g.pick(NAMES), containerPort: g.pick([53, 80, 8080]), protocol: 'TCP' }],
        });
      break;
    case 'pod ipv6':
      if (pods.length > 0) {
        const k = pick();
        const v4 = pods[k]!.ips.find((ip) => !ip.includes(':'));
        setPod(k, { ips: g.chance(0.3) && v4 ? [v4] : [...(v4 ? [v4] : []), `fd00::${n + 1}`] });
      }
      break;
    case 'pod unwired':
      if (pods.length > 0) {
        const k = pick();
        setPod(k, {
          interface: pods[k]!.interface ? undefined : `palre${n}`,
          ips: g.chance(0.2) ? [] : pods[k]!.ips,
        });
      }
      break;
    case 'pod moves node':
      if (pods.length > 0) {
        const k = pick();
        setPod(k, { node: pods[k]!.node === 'node-1' ? 'node-2' : 'node-1' });
      }
      break;
    case 'cluster policy add/remove/edit': {
      const cluster = [...(state.clusterPolicies ?? [])];
      const op = g.int(0, 2);
      if (op === 0 || cluster.length === 0) cluster.push(randomClusterPolicy(g, 100 + n));
      else if (op === 1) cluster.splice(g.int(0, cluster.length - 1), 1);
      else {
        const k = g.int(0, cluster.length - 1);
        cluster[k] = { ...randomClusterPolicy(g, 0), name: cluster[k]!.name };
      }
      return { ...state, clusterPolicies: cluster };
    }
    case 'node relabel': {
      const k = g.int(0, state.nodes.length - 1);
      return { ...state, nodes: state.nodes.map((x, i) => (i === k ? { ...x, labels: labels(g) } : x)) };
    }
    case 'pod shares an address':
      // Two pods with one address (host-network pods of a node): an element stays while either contributes it.
      if (pods.length > 0) {
        const twin = pods[g.int(0, pods.length - 1)]!;
        pods.push({ ...twin, name: `twin${n}`, labels: labels(g), interface: undefined });
      }
      break;
    case 'namespace relabel': {
      const ns = g.pick(state.namespaces);
      return {
        ...state,
        namespaces: state.namespaces.map((x) => (x === ns ? makeNamespace(x.name, labels(g)) : x)),
      };
    }
    case 'namespace add/remove': {
      const has = state.namespaces.some((x) => x.name === 'd');
      return {
        ...state,
        namespaces: has
          ? state.namespaces.filter((x) => x.name !== 'd')
          : [...state.namespaces, makeNamespace('d', labels(g))],
      };
    }
    case 'policy add':
      policies.push(randomPolicy(g, 100 + n));
      break;
    case 'policy remove':
      if (policies.length > 0) policies.splice(g.int(0, policies.length - 1), 1);
      break;
    case 'policy edit':
      if (policies.length > 0) {
        const k = g.int(0, policies.length - 1);
        const p = randomPolicy(g, 0);
        policies[k] = { ...p, namespace: policies[k]!.namespace, name: policies[k]!.name };
      }
      break;
    case 'policy break/fix':
      if (policies.length > 0) {
        const k = g.int(0, policies.length - 1);
        const p = policies[k]!;
        policies[k] = { ...p, problems: p.problems.length > 0 ? [] : ['spec: broken by the test'] };
      }
      break;
    case 'nothing':
      return { ...state, pods: state.pods.map((p) => ({ ...p })) };
  }
  return { ...state, pods, policies };
}

/** Each set's recorded change (set-change.ts) is exactly the difference from the previous table's version. */
function assertRecordedChanges(prev: Table | undefined, next: Table, where: string): void {
  const before = new Map((prev?.sets ?? []).map((s) => [s.name, s]));
  for (const s of next.sets) {
    assert.equal(new Set(s.elements).size, s.elements.length, `${where}: ${s.name} lists an element twice`);
    const p = before.get(s.name);
    const change = p && setChangeFrom(p, s);
    if (!p || !change) continue;
    const had = new Set(p.elements);
    const has = new Set(s.elements);
    assert.deepEqual(
      { add: [...change.add].sort(), del: [...change.del].sort() },
      {
        add: s.elements.filter((e) => !had.has(e)).sort(),
        del: p.elements.filter((e) => !has.has(e)).sort(),
      },
      `${where}: recorded change of ${s.name}`,
    );
  }
}

describe('incremental compiler', () => {
  for (let seed = 1; seed <= 30; seed++) {
    // Every third walk merges the policies of pods selected by more than one (compile-endpoint.ts).
    const mergeAbove = seed % 3 === 0 ? 1 : undefined;
    it(`equals a fresh compile after each of 60 random changes (walk #${seed}${mergeAbove === 1 ? ', merged' : ''})`, () => {
      const g = new Gen(prng(seed * 7919));
      let state = randomCluster(seed, { pods: 10, policies: 2 + (seed % 7), clusterPolicies: seed % 3 });
      const compilers = ['node-1', 'node-2'].map((n) => new NodeCompiler(n, { mergeAbove }));
      const last = new Map<string, Table>();
      for (let step = 0; step < 60; step++) {
        const kind = g.pick(STEPS);
        state = change(state, g, kind, step);
        for (const c of compilers) {
          const got = c.compile(state);
          assertRecordedChanges(last.get(c.node), got.table, `step ${step} (${kind}) on ${c.node}`);
          last.set(c.node, got.table);
          const want = compileNode(state, c.node, { mergeAbove });
          assert.deepEqual(
            normalise(got.table),
            normalise(want.table),
            `step ${step} (${kind}) on ${c.node}`,
          );
          assert.deepEqual(got.diagnostics, want.diagnostics);
        }
      }
    });
  }
});

describe('what a change does not touch is reused', () => {
  const state = randomCluster(3, { pods: 12, policies: 8 });
  it('the same objects for an unchanged state', () => {
    const c = new NodeCompiler('node-1');
    const a = c.compile(state).table;
    const b = c.compile({ ...state, pods: state.pods.map((p) => ({ ...p })) }).table;
    assert.ok(a.chains.every((ch, i) => ch === b.chains[i]));
    assert.ok(a.sets.every((s, i) => s === b.sets[i]));
  });
  it('a remote pod relabelled: only sets change, every chain is the same object', () => {
    const c = new NodeCompiler('node-1');
    const a = c.compile(state).table;
    const k = state.pods.findIndex((p) => p.node === 'node-2');
    const pods = state.pods.map((p, i) =>
      i === k ? { ...p, labels: { app: 'x', tier: 'y', env: 'z' } } : p,
    );
    const b = c.compile({ ...state, pods }).table;
    assert.ok(a.chains.every((ch, i) => ch === b.chains[i]));
  });
  it('a policy edited: the other policies keep their chains', () => {
    const c = new NodeCompiler('node-1');
    const a = c.compile(state).table;
    const victim = state.policies[0]!;
    const edited = { ...victim, ingress: [], egress: [] };
    const b = c.compile({ ...state, policies: [edited, ...state.policies.slice(1)] }).table;
    const victimChains = new Set([
      `np:${victim.namespace}/${victim.name} ingress`,
      `np:${victim.namespace}/${victim.name} egress`,
    ]);
    for (const ch of a.chains) {
      if (!ch.name.startsWith('np_') || victimChains.has(ch.comment ?? '')) continue;
      assert.ok(b.chains.includes(ch), `${ch.name} (${ch.comment}) reused`);
    }
  });
});
