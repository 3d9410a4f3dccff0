// The compiler: cluster state + node name → the node's `inet palisade` table. Pure and total: a broken policy
// becomes a diagnostic and a chain that allows nothing, never an exception.
//
// Shape (design.md "nftables shape"):
//   chain egress  (forward, priority 0):  ct established/related accept; ct invalid drop; iifname vmap @endpoints_eg
//   chain ingress (forward, priority 10): the same, oifname vmap @endpoints_in
//   chain ep_<pod>_<dir>:  jump np_<policy>_<dir> for each policy selecting the pod; drop ("isolated")
//   chain np_<policy>_<dir>: one accept rule per peer-kind × port-kind of each rule, peers in named sets
// `accept` in a policy chain ends only that base chain, so a packet between two local pods passes the sender's
// egress and then the receiver's ingress; `drop` is final. Per-packet work is two map lookups plus the chains of
// the policies that select the two pods, whatever the number of policies and pods elsewhere.
import type { ClusterState, PodInfo } from '../model/cluster.js';
import { type NetworkPolicy, policyKey } from '../model/network-policy.js';
import { selectorMatches } from '../model/selector.js';
import { compileRule } from './compile-rule.js';
import {
  accept,
  type Chain,
  createChain,
  createRule,
  drop,
  goto,
  jump,
  type NamedSet,
  type Rule,
  type Table,
  type VerdictMap,
} from './ir.js';
import {
  baseChainName,
  type Direction,
  endpointChainName,
  endpointMapName,
  originComment,
  policyChainName,
  TABLE_NAME,
} from './names.js';
import { buildIndex, type ClusterIndex } from './peers.js';

export interface Diagnostic {
  readonly policy: string;
  readonly problems: readonly string[];
}

export interface CompileResult {
  readonly table: Table;
  readonly diagnostics: readonly Diagnostic[];
}

const DIRECTIONS: readonly Direction[] = ['egress', 'ingress'];
const PRIORITY: Record<Direction, number> = { egress: 0, ingress: 10 };

function podKeyOf(p: { namespace: string; name: string }): string {
  return `${p.namespace}/${p.name}`;
}

export function selects(policy: NetworkPolicy, pod: PodInfo, d: Direction): boolean {
  const type = d === 'ingress' ? 'Ingress' : 'Egress';
  return (
    policy.namespace === pod.namespace &&
    policy.policyTypes.includes(type) &&
    selectorMatches(policy.podSelector, pod.labels)
  );
}

function baseChain(d: Direction): Chain {
  const key = d === 'egress' ? 'iifname' : 'oifname';
  const who = d === 'egress' ? 'sending' : 'receiving';
  return createChain(
    baseChainName(d),
    [
      createRule({
        matches: [{ kind: 'ct-state', states: ['established', 'related'] }],
        verdict: accept,
        counter: false,
        comment: 'return traffic of allowed connections',
      }),
      createRule({ matches: [{ kind: 'ct-state', states: ['invalid'] }], verdict: drop, comment: 'invalid' }),
      createRule({
        vmap: { key, map: endpointMapName(d) },
        counter: false,
        comment: `${d} policy of the ${who} pod`,
      }),
    ],
    { base: { hook: 'forward', priority: PRIORITY[d], policy: 'accept' } },
  );
}

function policyChain(
  idx: ClusterIndex,
  policy: NetworkPolicy,
  d: Direction,
  endpoints: readonly PodInfo[],
): { chain: Chain; sets: NamedSet[] } {
  const key = policyKey(policy);
  const name = policyChainName(key, d);
  if (policy.problems.length > 0) {
    const why = originComment(`np:${key}: invalid, allows nothing: ${policy.problems[0]}`);
    return { chain: createChain(name, [createRule({ comment: why })]), sets: [] };
  }
  const rules: Rule[] = [];
  const sets: NamedSet[] = [];
  (d === 'ingress' ? policy.ingress : policy.egress).forEach((rule, i) => {
    const out = compileRule({ idx, policy, direction: d, index: i, rule, endpoints });
    rules.push(...out.rules);
    sets.push(...out.sets);
  });
  return { chain: createChain(name, rules, { comment: `np:${key} ${d}` }), sets };
}

export function compileNode(state: ClusterState, node: string): CompileResult {
  const idx = buildIndex(state);
  const policies = [...state.policies].sort((a, b) => policyKey(a).localeCompare(policyKey(b)));
  const local = idx.pods
    .filter((p) => p.node === node && p.interface !== undefined)
    .sort((a, b) => podKeyOf(a).localeCompare(podKeyOf(b)));
  const chains: Chain[] = DIRECTIONS.map(baseChain);
  const sets: NamedSet[] = [];
  const maps: VerdictMap[] = [];
  for (const d of DIRECTIONS) {
    const selectedBy = new Map<string, PodInfo[]>();
    const mapElements: VerdictMap['elements'][number][] = [];
    const endpointChains: Chain[] = [];
    for (const pod of local) {
      const mine = policies.filter((p) => selects(p, pod, d));
      if (mine.length === 0) continue;
      for (const p of mine) selectedBy.set(policyKey(p), [...(selectedBy.get(policyKey(p)) ?? []), pod]);
      const epChain = endpointChainName(podKeyOf(pod), d);
      endpointChains.push(
        createChain(epChain, [
          ...mine.map((p) =>
            createRule({
              verdict: jump(policyChainName(policyKey(p), d)),
              counter: false,
              comment: `np:${policyKey(p)}`,
            }),
          ),
          createRule({
            verdict: drop,
            comment: originComment(`isolated ${d}: ${podKeyOf(pod)}, no policy allows`),
          }),
        ]),
      );
      mapElements.push({ key: pod.interface!, verdict: goto(epChain) });
    }
    for (const p of policies) {
      const endpoints = selectedBy.get(policyKey(p));
      if (!endpoints) continue;
      const out = policyChain(idx, p, d, endpoints);
      chains.push(out.chain);
      sets.push(...out.sets);
    }
    chains.push(...endpointChains);
    maps.push({ kind: 'map', name: endpointMapName(d), key: 'ifname', elements: mapElements });
  }
  const diagnostics = policies
    .filter((p) => p.problems.length > 0)
    .map((p) => ({ policy: policyKey(p), problems: p.problems }));
  // Port sets are named by their content and shared: keep one of each.
  const uniqueSets = [...new Map(sets.map((s) => [s.name, s])).values()];
  return {
    table: { kind: 'table', family: 'inet', name: TABLE_NAME, sets: uniqueSets, maps, chains },
    diagnostics,
  };
}
