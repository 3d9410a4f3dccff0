// The single changes bench/agent-sync.ts times, and how each is made to the synthetic cluster (outside the timed
// part). Pod and NetworkPolicy changes always; GlobalNetworkPolicy ones when the cluster has pod GNPs; a host
// policy change (one port of one host policy, which cuts nothing) when it has host endpoints.
import { LOCAL_NODE, POOLS, type SyntheticCluster } from './agent-sync-cluster.js';
import { HOST_POLICIES, hostPolicyName, makeHostPolicy, makePodGlobalPolicy } from './agent-sync-global.js';

export const BASE_KINDS = [
  'pod add (remote)',
  'pod add (local)',
  'pod remove (remote)',
  'pod remove (local)',
  'pod relabel (remote)',
  'pod relabel (local)',
  'policy add',
  'policy change',
] as const;
export const GLOBAL_KINDS = ['gnp add', 'gnp change'] as const;
export const HOST_KINDS = ['host policy change'] as const;
export type Kind = (typeof BASE_KINDS)[number] | (typeof GLOBAL_KINDS)[number] | (typeof HOST_KINDS)[number];

export function kindsFor(c: SyntheticCluster): Kind[] {
  return [
    ...BASE_KINDS,
    ...((c.opts.globalPolicies ?? 0) > 0 ? GLOBAL_KINDS : []),
    ...(c.opts.hostEndpoints ? HOST_KINDS : []),
  ];
}

/** Applies one change of `kind` to the model. */
export function mutate(c: SyntheticCluster, kind: Kind): void {
  const g = c.g;
  const remote = () => g.pick(c.pods.filter((p) => p.node !== LOCAL_NODE));
  switch (kind) {
    case 'pod add (remote)':
      c.addPod(g.pick(c.nodes.slice(1)).name);
      return;
    case 'pod add (local)':
      c.addPod(LOCAL_NODE);
      return;
    case 'pod remove (remote)':
      c.removePod(remote());
      return;
    case 'pod remove (local)':
      c.removePod(g.pick(c.localPods()));
      return;
    case 'pod relabel (remote)':
      c.relabelPod(remote());
      return;
    case 'pod relabel (local)':
      c.relabelPod(g.pick(c.localPods()));
      return;
    case 'policy add':
      c.addPolicy();
      return;
    case 'policy change':
      c.changePolicy(g.pick(c.policies));
      return;
    case 'gnp add':
      c.globalPolicies = [
        ...c.globalPolicies,
        makePodGlobalPolicy(c.gg, POOLS, `gnp-${c.nextGlobalPolicy++}`),
      ];
      return;
    case 'gnp change': {
      const pods = c.globalPolicies.filter((p) => p.name.startsWith('gnp-'));
      const old = c.gg.pick(pods);
      const fresh = makePodGlobalPolicy(c.gg, POOLS, old.name);
      c.globalPolicies = c.globalPolicies.map((p) => (p === old ? fresh : p));
      return;
    }
    case 'host policy change': {
      // Not host policy 0 (the node's API server and DNS allowances): any other one's extra port moves.
      const i = c.gg.int(1, HOST_POLICIES - 1);
      c.hostPolicyVersion += 1;
      const fresh = makeHostPolicy(i, c.hostPolicyVersion);
      c.globalPolicies = c.globalPolicies.map((p) => (p.name === hostPolicyName(i) ? fresh : p));
      return;
    }
  }
}
