// Seeded random changes to a cluster (for diff and apply tests): the same seed, the same changes.
import type { ClusterState, PodInfo } from '../../model/cluster.js';
import type { NetworkPolicy } from '../../model/network-policy.js';
import { Gen, LABEL_KEYS, LABEL_VALUES, NAMESPACES, prng, randomPolicy } from './random.js';

function randomLabels(g: Gen): Record<string, string> {
  return Object.fromEntries(LABEL_KEYS.filter(() => g.chance(0.6)).map((k) => [k, g.pick(LABEL_VALUES)]));
}

function newPod(g: Gen, n: number): PodInfo {
  const node = g.pick(['node-1', 'node-2']);
  return {
    namespace: g.pick(NAMESPACES),
    name: `new${n}`,
    node,
    ips: [`10.244.${node === 'node-1' ? 1 : 2}.${200 + n}`],
    labels: randomLabels(g),
    ports: g.chance(0.5) ? [{ name: 'http', containerPort: 80, protocol: 'TCP' }] : [],
    interface: `palnew${n}`,
  };
}

/** 1-3 changes: pods removed, added or relabelled; a policy removed, added, broken or fixed. */
export function mutate(state: ClusterState, seed: number): ClusterState {
  const g = new Gen(prng(seed));
  let pods = [...state.pods];
  const policies: NetworkPolicy[] = [...state.policies];
  for (let i = 0, n = g.int(1, 3); i < n; i++) {
    const op = g.int(0, 5);
    if (op === 0) pods = pods.filter(() => !g.chance(0.2));
    if (op === 1) pods.push(newPod(g, i));
    if (op === 2 && pods.length > 0) {
      const k = g.int(0, pods.length - 1);
      pods[k] = { ...pods[k]!, labels: randomLabels(g) };
    }
    if (op === 3 && policies.length > 0) policies.splice(g.int(0, policies.length - 1), 1);
    if (op === 4) policies.push(randomPolicy(g, 100 + i));
    if (op === 5 && policies.length > 0) {
      const k = g.int(0, policies.length - 1);
      const p = policies[k]!;
      policies[k] = { ...p, problems: p.problems.length > 0 ? [] : ['spec: broken by the test'] };
    }
  }
  return { ...state, pods, policies };
}
