// One NetworkPolicy rule → accept rules and the named sets they use. Pure.
//
// A rule is (peers) × (ports). Peers become up to two address matches per family: a set of peer pod addresses
// (kept even while empty, so a pod that appears later only adds a set element) and an interval set of ipBlock
// CIDRs minus their excepts. Ports become one match per protocol (`meta l4proto x th dport { ... }`), and named
// ports a set of (pod address . protocol . port) triples resolved per destination pod.
import { type Cidr, cidrContains, formatCidr, parseIp } from '../model/cidr.js';
import type { PodInfo } from '../model/cluster.js';
import { type NetworkPolicy, type PolicyRule, policyKey } from '../model/network-policy.js';
import {
  accept,
  createRule,
  createSet,
  type Family,
  type Match,
  type NamedSet,
  type PortRange,
  type Rule,
} from './ir.js';
import { type Direction, originComment, portSetName, ruleSetName } from './names.js';
import {
  type ClusterIndex,
  familyOf,
  type NamedTriple,
  namedPortTriples,
  type PortPlan,
  planPorts,
  type ResolvedPeers,
  resolvePeers,
} from './peers.js';

export interface RuleInput {
  readonly idx: ClusterIndex;
  readonly policy: NetworkPolicy;
  readonly direction: Direction;
  readonly index: number;
  readonly rule: PolicyRule;
  /** Local endpoints the policy selects (the destinations of its ingress rules on this node). */
  readonly endpoints: readonly PodInfo[];
}

interface AddrVariant {
  readonly family?: Family;
  readonly match?: Match;
}

const FAMILIES: readonly Family[] = [4, 6];

/** Families worth emitting rules for: those of any pod in the cluster, plus the rule's own CIDRs; at least v4. */
function familiesInUse(idx: ClusterIndex, peers: ResolvedPeers): Family[] {
  const seen = new Set<Family>([4, ...idx.podFamilies]);
  for (const c of peers.cidrs) seen.add(c.family);
  return FAMILIES.filter((f) => seen.has(f));
}

function addrVariants(input: RuleInput, peers: ResolvedPeers, sets: NamedSet[]): AddrVariant[] {
  if (peers.any) return [{}];
  const key = policyKey(input.policy);
  const field = input.direction === 'ingress' ? 'saddr' : 'daddr';
  const out: AddrVariant[] = [];
  for (const family of familiesInUse(input.idx, peers)) {
    if (peers.hasSelectorPeer) {
      const name = ruleSetName(key, input.direction, input.index, 'pods', family);
      const elements = peers.pods.flatMap((p) => p.ips.filter((ip) => familyOf(ip) === family));
      sets.push(
        createSet({ name, type: family === 4 ? 'ipv4_addr' : 'ipv6_addr', interval: false, elements }),
      );
      out.push({ family, match: { kind: 'addr-in-set', field, family, set: name } });
    }
    const cidrs = peers.cidrs.filter((c) => c.family === family);
    if (cidrs.length > 0) {
      const name = ruleSetName(key, input.direction, input.index, 'blocks', family);
      const elements = cidrs.map(formatCidr);
      sets.push(
        createSet({ name, type: family === 4 ? 'ipv4_addr' : 'ipv6_addr', interval: true, elements }),
      );
      out.push({ family, match: { kind: 'addr-in-set', field, family, set: name } });
    }
  }
  return out;
}

function portMatch(ranges: readonly PortRange[], sets: NamedSet[]): Match[] {
  if (ranges.length === 0) return [];
  if (ranges.length === 1) return [{ kind: 'dport', ports: ranges }];
  const name = portSetName(ranges);
  const elements = ranges.map((r) => (r.from === r.to ? String(r.from) : `${r.from}-${r.to}`));
  const interval = ranges.some((r) => r.from !== r.to);
  sets.push(createSet({ name, type: 'inet_service', interval, elements }));
  return [{ kind: 'dport-in-set', set: name }];
}

function numericVariants(plan: PortPlan, sets: NamedSet[]): Match[][] {
  if (plan.any) return [[]];
  return [...plan.numeric.entries()].map(([protocol, ranges]) => [
    { kind: 'l4proto', protocol },
    ...portMatch(ranges, sets),
  ]);
}

function insideAny(ip: string, cidrs: readonly Cidr[]): boolean {
  const addr = parseIp(ip);
  return cidrs.some((c) => cidrContains(c, addr));
}

/** Destinations whose named ports count: the selected pods (ingress) or the peer pods (egress). */
function namedDestinations(input: RuleInput, peers: ResolvedPeers): readonly PodInfo[] {
  if (input.direction === 'ingress') return input.endpoints;
  if (peers.any) return input.idx.pods;
  const inBlocks =
    peers.cidrs.length === 0
      ? []
      : input.idx.pods.filter((p) => p.ips.some((ip) => insideAny(ip, peers.cidrs)));
  return [...new Map([...peers.pods, ...inBlocks].map((p) => [`${p.namespace}/${p.name}`, p])).values()];
}

function namedSets(input: RuleInput, triples: readonly NamedTriple[], sets: NamedSet[]): Map<Family, string> {
  const key = policyKey(input.policy);
  const out = new Map<Family, string>();
  for (const family of FAMILIES) {
    const elements = triples
      .filter((t) => familyOf(t.ip) === family)
      .map((t) => `${t.ip} . ${t.protocol.toLowerCase()} . ${t.port}`);
    if (family === 6 && elements.length === 0) continue;
    const name = ruleSetName(key, input.direction, input.index, 'named', family);
    const type =
      family === 4 ? 'ipv4_addr . inet_proto . inet_service' : 'ipv6_addr . inet_proto . inet_service';
    sets.push(createSet({ name, type, interval: false, elements }));
    out.set(family, name);
  }
  return out;
}

export function compileRule(input: RuleInput): { rules: Rule[]; sets: NamedSet[] } {
  const sets: NamedSet[] = [];
  const rules: Rule[] = [];
  const comment = originComment(`np:${policyKey(input.policy)}:${input.direction}[${input.index}]`);
  const peers = resolvePeers(input.idx, input.policy.namespace, input.rule.peers);
  const plan = planPorts(input.rule.ports);
  const addrs = addrVariants(input, peers, sets);
  const ports = numericVariants(plan, sets);
  if (plan.any || plan.numeric.size > 0) {
    for (const a of addrs) {
      for (const p of ports)
        rules.push(createRule({ matches: [...(a.match ? [a.match] : []), ...p], verdict: accept, comment }));
    }
  }
  if (plan.named.length > 0) {
    const triples = namedPortTriples(namedDestinations(input, peers), plan.named);
    for (const [family, set] of namedSets(input, triples, sets)) {
      const named: Match = { kind: 'daddr-proto-port-in-set', family, set };
      if (input.direction === 'egress') {
        // The triples already pin the destination to the peer pods.
        rules.push(createRule({ matches: [named], verdict: accept, comment }));
        continue;
      }
      for (const a of addrs) {
        if (a.family !== undefined && a.family !== family) continue;
        rules.push(createRule({ matches: [...(a.match ? [a.match] : []), named], verdict: accept, comment }));
      }
    }
  }
  return { rules, sets };
}
