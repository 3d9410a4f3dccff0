// The rules of one endpoint and direction with the selecting policies merged, for a pod that many policies
// select. Jumping to each policy's chain costs the first packet of a connection one jump and one lookup per
// policy: with 5,000 policies selecting a pod, new connections ran at 11% of the no-policy rate. Merged, the
// rules of all those policies are grouped by their port match, and each group becomes one rule per family on
// the union of its peers (one peer set, one CIDR set), so the first packet pays one lookup per distinct port
// match instead. Equivalent to the jumps: a policy rule is (peers × ports), and a union of rules with the same
// ports is (union of peers × ports). Named ports of ingress rules resolve here to the endpoint's own numbers;
// named ports of egress rules resolve per destination, so those rules stay as they are (shared named sets).
// Pure.

import {
  accept,
  createRule,
  createSet,
  type Family,
  type Match,
  type NamedSet,
  type Rule,
} from '../ir/ir.js';
import type { Cidr } from '../model/cidr.js';
import { disjointCidrs, formatCidr } from '../model/cidr.js';
import type { PodInfo } from '../model/cluster.js';
import type { Protocol } from '../model/k8s.js';
import { blockCidrs, portMatch } from './compile-rule.js';
import { type Direction, originComment, sharedSetName } from './names.js';
import { type OrderedPolicy, type OrderedRule, rulesOf } from './ordered.js';
import { egressNamedSet, type PodSetSpec, peerAddressSet, peerMatchers } from './pod-sets.js';
import { mergeRanges, planPorts } from './ports.js';

export interface MergedRules {
  readonly rules: readonly Rule[];
  readonly sets: readonly NamedSet[];
  readonly podSets: readonly PodSetSpec[];
}

type Matcher = ReturnType<typeof peerMatchers>[number];

/** The rules of every selecting policy that share one port match: their peers, united. */
interface Group {
  readonly ports: readonly Match[];
  any: boolean;
  readonly matchers: Matcher[];
  readonly cidrs: Cidr[];
  readonly policies: Set<string>;
}

const FAMILIES: readonly Family[] = [4, 6];

function comment(d: Direction, policies: ReadonlySet<string>): string {
  const keys = [...policies].sort();
  const shown = keys.slice(0, 3).join(',');
  return originComment(`np:${shown}${keys.length > 3 ? ` +${keys.length - 3}` : ''}:${d} (merged)`);
}

/** Each (protocol, port ranges) a rule allows, as a key and its match; one any-port entry for no ports. */
function portVariants(
  rule: OrderedRule,
  d: Direction,
  endpoint: PodInfo,
  sets: NamedSet[],
): { key: string; match: Match[] }[] {
  const plan = planPorts(rule.ports);
  if (plan.any) return [{ key: '*', match: [] }];
  const numeric = new Map<Protocol, { from: number; to: number }[] | 'all'>();
  for (const [proto, ranges] of plan.numeric) numeric.set(proto, ranges.length === 0 ? 'all' : [...ranges]);
  if (d === 'ingress') {
    // The destination is this endpoint: its named ports are plain numbers here.
    for (const n of plan.named) {
      const cp = endpoint.ports.find((p) => p.name === n.name && p.protocol === n.protocol);
      if (!cp) continue;
      const cur = numeric.get(n.protocol) ?? [];
      if (cur !== 'all') numeric.set(n.protocol, [...cur, { from: cp.containerPort, to: cp.containerPort }]);
    }
  }
  return [...numeric.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([protocol, ranges]) => {
      const merged = ranges === 'all' ? [] : mergeRanges(ranges);
      return {
        key: `${protocol}:${merged.map((r) => `${r.from}-${r.to}`).join(',') || '*'}`,
        match: [{ kind: 'l4proto', protocol } as Match, ...portMatch(merged, sets)],
      };
    });
}

export function mergedEndpointRules(
  endpoint: PodInfo,
  d: Direction,
  policies: readonly OrderedPolicy[],
  families: readonly Family[],
): MergedRules {
  const sets: NamedSet[] = [];
  const podSets: PodSetSpec[] = [];
  const rules: Rule[] = [];
  const groups = new Map<string, Group>();
  const namedEgress: Rule[] = [];
  const broken: Rule[] = [];
  for (const policy of policies) {
    const key = policy.key;
    if (policy.problems.length > 0) {
      // A broken policy isolates and allows nothing; a counting rule says why, as its chain would.
      const why = originComment(`${policy.origin}: invalid, allows nothing: ${policy.problems[0]}`);
      broken.push(createRule({ comment: why }));
      continue;
    }
    if (policy.tier !== 'NetworkPolicy' || (rulesOf(policy, d) ?? []).some((r) => r.action !== 'allow'))
      throw new Error(`${policy.origin}: only allow rules of the NetworkPolicy tier merge`);
    for (const rule of rulesOf(policy, d) ?? []) {
      const i = rule.index;
      for (const v of portVariants(rule, d, endpoint, sets)) {
        let g = groups.get(v.key);
        if (!g) {
          g = { ports: v.match, any: false, matchers: [], cidrs: [], policies: new Set() };
          groups.set(v.key, g);
        }
        g.policies.add(key);
        if (rule.peers.length === 0) g.any = true;
        else {
          g.matchers.push(...peerMatchers(policy.subject.namespace, rule.peers));
          g.cidrs.push(...blockCidrs(rule));
        }
      }
      const named = planPorts(rule.ports).named;
      if (d === 'egress' && named.length > 0) {
        const peers = {
          any: rule.peers.length === 0,
          matchers: peerMatchers(policy.subject.namespace, rule.peers),
          cidrs: blockCidrs(rule),
        };
        for (const family of FAMILIES.filter((f) => families.includes(f))) {
          const spec = egressNamedSet(peers, named, family);
          podSets.push(spec);
          namedEgress.push(
            createRule({
              matches: [{ kind: 'daddr-proto-port-in-set', family, set: spec.name }],
              verdict: accept,
              comment: originComment(`${policy.origin}:${d}[${i}]`),
            }),
          );
        }
      }
    }
  }
  const field = d === 'ingress' ? 'saddr' : 'daddr';
  for (const [, g] of [...groups].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const why = comment(d, g.policies);
    if (g.any) {
      rules.push(createRule({ matches: g.ports, verdict: accept, comment: why }));
      continue;
    }
    const cidrs = disjointCidrs(g.cidrs);
    for (const family of FAMILIES.filter((f) => families.includes(f) || cidrs.some((c) => c.family === f))) {
      if (g.matchers.length > 0) {
        const spec = peerAddressSet(g.matchers, family);
        podSets.push(spec);
        rules.push(
          createRule({
            matches: [{ kind: 'addr-in-set', field, family, set: spec.name }, ...g.ports],
            verdict: accept,
            comment: why,
          }),
        );
      }
      const mine = cidrs.filter((c) => c.family === family).map(formatCidr);
      if (mine.length > 0) {
        const name = sharedSetName('blocks', family, mine.join(','));
        sets.push(
          createSet({ name, type: family === 4 ? 'ipv4_addr' : 'ipv6_addr', interval: true, elements: mine }),
        );
        rules.push(
          createRule({
            matches: [{ kind: 'addr-in-set', field, family, set: name }, ...g.ports],
            verdict: accept,
            comment: why,
          }),
        );
      }
    }
  }
  return { rules: [...rules, ...namedEgress, ...broken], sets, podSets };
}
