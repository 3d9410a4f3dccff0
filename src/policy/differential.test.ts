// The compiler against the reference evaluator: random clusters and policies (seeded), every flow between every
// pod, node and some outside addresses on a spread of ports and protocols, decided by running the compiled
// tables (ir-eval) and by the reference semantics. Any mismatch is a bug in one of them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ClusterState, Flow } from '../model/cluster.js';
import type { Protocol } from '../model/k8s.js';
import { compileNode } from './compile.js';
import { decideFlow } from './flow-path.js';
import { evaluateFlow } from './reference.js';
import { PORT_NUMBERS, randomCluster } from './testdata/random.js';

const OUTSIDE = ['10.244.3.9', '192.0.2.1'];
const PROTOCOLS: Protocol[] = ['TCP', 'UDP', 'SCTP'];

function allFlows(state: ClusterState): Flow[] {
  const ends = [...state.pods.flatMap((p) => p.ips), ...state.nodes.flatMap((n) => n.ips), ...OUTSIDE];
  const flows: Flow[] = [];
  for (const srcIp of ends) {
    for (const dstIp of ends) {
      if (srcIp === dstIp) continue;
      for (const protocol of PROTOCOLS) {
        for (const dstPort of [...PORT_NUMBERS, 5050, 9999]) flows.push({ srcIp, dstIp, protocol, dstPort });
      }
    }
  }
  return flows;
}

function mismatches(state: ClusterState, mergeAbove?: number): string[] {
  const tables = new Map(state.nodes.map((n) => [n.name, compileNode(state, n.name, { mergeAbove }).table]));
  const out: string[] = [];
  for (const f of allFlows(state)) {
    const want = evaluateFlow(state, f);
    const got = decideFlow(state, tables, f);
    if (got.allowed !== want.allowed) {
      out.push(
        `${f.srcIp} -> ${f.dstIp} ${f.protocol}/${f.dstPort}: compiled ${got.allowed}, reference ${want.allowed} (${want.egress.reason} / ${want.ingress.reason}; ${JSON.stringify(got.hops.map((h) => h.trail))})`,
      );
    }
  }
  return out;
}

// mergeAbove 0: every endpoint's policies merged into its own chain (compile-endpoint.ts), as for a pod that
// many policies select; undefined: the default, jumps to shared policy chains for these small clusters.
for (const mergeAbove of [undefined, 0])
  describe(`compiled tables agree with the reference semantics (${mergeAbove === 0 ? 'merged' : 'jumps'})`, () => {
    for (let seed = 1; seed <= 40; seed++) {
      it(`random cluster #${seed}`, () => {
        const state = randomCluster(seed, { pods: 8, policies: 1 + (seed % 6) });
        const bad = mismatches(state, mergeAbove);
        assert.deepEqual(
          bad.slice(0, 5),
          [],
          `${bad.length} mismatches; policies: ${JSON.stringify(state.policies)}`,
        );
      });
    }
  });

// ClusterNetworkPolicies of both tiers beside the NetworkPolicies: tier order, priorities equal and distinct,
// Accept, Deny and Pass, namespaces, pods, networks and domainNames peers, ports, ranges and named ports.
for (const mergeAbove of [undefined, 0])
  describe(`with ClusterNetworkPolicies, compiled tables agree with the reference (${mergeAbove === 0 ? 'merged' : 'jumps'})`, () => {
    for (let seed = 1; seed <= 40; seed++) {
      it(`random cluster #${seed}`, () => {
        const state = randomCluster(5000 + seed, {
          pods: 8,
          policies: seed % 4,
          clusterPolicies: 1 + (seed % 5),
        });
        const bad = mismatches(state, mergeAbove);
        assert.deepEqual(
          bad.slice(0, 5),
          [],
          `${bad.length} mismatches; cluster policies: ${JSON.stringify(state.clusterPolicies)}; policies: ${JSON.stringify(state.policies)}`,
        );
      });
    }
  });

// GlobalNetworkPolicies interleaved with NetworkPolicies by order, beside ClusterNetworkPolicies: Allow, Deny,
// Pass (on to Baseline) and Log, Calico selectors, nets, notNets, notSelector, ports, notPorts, protocols.
for (const mergeAbove of [undefined, 0])
  describe(`with GlobalNetworkPolicies, compiled tables agree with the reference (${mergeAbove === 0 ? 'merged' : 'jumps'})`, () => {
    for (let seed = 1; seed <= 40; seed++) {
      it(`random cluster #${seed}`, () => {
        const state = randomCluster(9000 + seed, {
          pods: 8,
          policies: seed % 3,
          clusterPolicies: seed % 3,
          globalPolicies: 1 + (seed % 5),
        });
        const bad = mismatches(state, mergeAbove);
        assert.deepEqual(
          bad.slice(0, 5),
          [],
          `${bad.length} mismatches; global policies: ${JSON.stringify(state.globalPolicies)}; host endpoints: ${JSON.stringify(state.hostEndpoints)}`,
        );
      });
    }
  });

describe('the compiler is total', () => {
  it('never throws on 300 random clusters', () => {
    for (let seed = 1000; seed < 1300; seed++) {
      const state = randomCluster(seed, { pods: 6, policies: 8 });
      for (const n of state.nodes) {
        compileNode(state, n.name);
        compileNode(state, n.name, { mergeAbove: 0 });
      }
    }
  });
});
