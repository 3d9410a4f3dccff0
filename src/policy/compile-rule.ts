// One NetworkPolicy rule → accept rules, the static sets they use (ports, CIDRs) and the specs of the sets whose
// elements come from pods (peer addresses, named-port triples; pod-sets.ts fills them). Pure; depends only on
// the policy and the address families in use, never on the pods, so a compiled rule stays valid as pods change.
//
// A rule is (peers) × (ports). Peers become up to two address matches per family: a set of peer pod addresses
// (kept even while empty, so a pod that appears later only adds a set element) and an interval set of ipBlock
// CIDRs minus their excepts. Ports become one match per protocol (`meta l4proto x th dport ...`), and named
// ports a set of (pod address . protocol . port) triples resolved per destination pod.

import {
  accept,
  createRule,
  createSet,
  drop,
  type Family,
  type LogStatement,
  type MarkStatement,
  type Match,
  type NamedSet,
  type PortRange,
  type Rule,
  type Verdict,
} from '../ir/ir.js';
import { type Cidr, disjointCidrs, formatCidr, parseCidr, subtractCidrs } from '../model/cidr.js';
import type { PolicyRule } from '../model/network-policy.js';
import { conditionAlternatives } from './compile-conditions.js';
import {
  type Direction,
  LOG_GROUP,
  originComment,
  PASS_MARK,
  portSetName,
  sharedSetName,
  UNTRACKED_MARK,
} from './names.js';
import { type OrderedPolicy, type OrderedRule, TIER_RULES } from './ordered.js';
import {
  egressNamedSet,
  ingressNamedSet,
  type PodSetSpec,
  peerAddressSet,
  peerMatchers,
} from './pod-sets.js';
import { type PortPlan, planPorts } from './ports.js';

export interface RuleInput {
  readonly policy: OrderedPolicy;
  readonly direction: Direction;
  readonly rule: OrderedRule;
  /** Address families of the cluster's pods; always includes 4. */
  readonly families: readonly Family[];
}

export interface RuleOutput {
  rules: Rule[];
  /** Sets whose elements the policy alone decides (port lists, CIDRs). */
  readonly sets: NamedSet[];
  /** Sets whose elements come from pods. */
  readonly podSets: PodSetSpec[];
}

interface AddrVariant {
  readonly family?: Family;
  readonly match?: Match;
}

const FAMILIES: readonly Family[] = [4, 6];

/** ipBlocks with their excepts subtracted, disjoint. */
export function blockCidrs(rule: Pick<PolicyRule, 'peers'>): Cidr[] {
  const cidrs: Cidr[] = [];
  for (const peer of rule.peers) {
    if (!peer.ipBlock) continue;
    const except = peer.ipBlock.except.map((e) => parseCidr(e));
    cidrs.push(...subtractCidrs(parseCidr(peer.ipBlock.cidr), except));
  }
  return disjointCidrs(cidrs);
}

function addrVariants(input: RuleInput, cidrs: readonly Cidr[], out: RuleOutput): AddrVariant[] {
  const peers = input.rule.peers;
  if (peers.length === 0) return [{}];
  const field = input.direction === 'ingress' ? 'saddr' : 'daddr';
  const selectorPeers = peers.some((p) => !p.ipBlock);
  const matchers = peerMatchers(input.policy.subject.namespace, peers);
  const families = FAMILIES.filter((f) => input.families.includes(f) || cidrs.some((c) => c.family === f));
  const variants: AddrVariant[] = [];
  for (const family of families) {
    if (selectorPeers) {
      const spec = peerAddressSet(matchers, family);
      out.podSets.push(spec);
      variants.push({ family, match: { kind: 'addr-in-set', field, family, set: spec.name } });
    }
    const mine = cidrs.filter((c) => c.family === family).map(formatCidr);
    if (mine.length > 0) {
      const name = sharedSetName('blocks', family, mine.join(','));
      const type = family === 4 ? 'ipv4_addr' : 'ipv6_addr';
      out.sets.push(createSet({ name, type, interval: true, elements: mine }));
      variants.push({ family, match: { kind: 'addr-in-set', field, family, set: name } });
    }
  }
  return variants;
}

/** `th dport` for a list of ranges: inline for one, a shared named set for several; nothing for none (any). */
export function portMatch(ranges: readonly PortRange[], sets: NamedSet[]): Match[] {
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

function namedSpec(input: RuleInput, cidrs: readonly Cidr[], plan: PortPlan, family: Family): PodSetSpec {
  if (input.direction === 'ingress') return ingressNamedSet(input.policy.subject, plan.named, family);
  const peers = {
    any: input.rule.peers.length === 0,
    matchers: peerMatchers(input.policy.subject.namespace, input.rule.peers),
    cidrs,
  };
  return egressNamedSet(peers, plan.named, family);
}

/**
 * What a matching rule does (ordered.ts): allow accepts, deny drops; pass in the Admin tier sets PASS_MARK and
 * returns (the endpoint's Admin-tier chain then leaves the tier), and in the Baseline tier allows.
 */
function ruleVerdict(
  policy: OrderedPolicy,
  rule: OrderedRule,
  comment: string,
): { verdict?: Verdict; mark?: MarkStatement; log?: LogStatement; notrack?: boolean } {
  if (rule.action === 'log') return { log: { group: LOG_GROUP, prefix: comment } };
  // An untracked allow (Calico's doNotTrack): no conntrack entry, and a mark the filter hooks accept.
  if (rule.action === 'allow' && policy.host?.doNotTrack)
    return { verdict: accept, notrack: true, mark: { bit: UNTRACKED_MARK, set: true } };
  if (rule.action === 'allow') return { verdict: accept };
  if (rule.action === 'deny') return { verdict: drop };
  if (TIER_RULES[policy.tier].pass === 'allow') return { verdict: accept };
  return { verdict: { kind: 'return' }, mark: { bit: PASS_MARK, set: true } };
}

/** Each base rule's matches, once per alternative of the rule's conditions whose family agrees with it. */
function withConditions(input: RuleInput, out: RuleOutput): void {
  const conditions = input.rule.conditions;
  if (!conditions || conditions.length === 0) return;
  const alts = conditionAlternatives(conditions, input.families, out);
  const family = (r: Rule): Family | undefined =>
    r.matches.find((m): m is Extract<Match, { family: Family }> => 'family' in m)?.family;
  out.rules = out.rules.flatMap((r) =>
    alts.flatMap((alt) => {
      const f = family(r);
      if (f !== undefined && alt.family !== undefined && f !== alt.family) return [];
      const extra = alt.matches.filter((m) => m.kind !== 'family' || f === undefined);
      // Port matches last, after the protocol matches of the rule and of its conditions.
      const ports = extra.filter((m) => m.kind === 'port');
      return [{ ...r, matches: [...extra.filter((m) => m.kind !== 'port'), ...r.matches, ...ports] }];
    }),
  );
}

export function compileRule(input: RuleInput): RuleOutput {
  const out: RuleOutput = { rules: [], sets: [], podSets: [] };
  const comment = originComment(`${input.policy.origin}:${input.direction}[${input.rule.index}]`);
  const { verdict, mark, log, notrack } = ruleVerdict(input.policy, input.rule, comment);
  const cidrs = blockCidrs(input.rule);
  const plan = planPorts(input.rule.ports);
  const addrs = addrVariants(input, cidrs, out);
  const ports = numericVariants(plan, out.sets);
  if (plan.any || plan.numeric.size > 0) {
    for (const a of addrs) {
      for (const p of ports)
        out.rules.push(
          createRule({
            matches: [...(a.match ? [a.match] : []), ...p],
            verdict,
            mark,
            log,
            notrack,
            comment,
          }),
        );
    }
  }
  if (plan.named.length > 0) {
    for (const family of FAMILIES.filter((f) => input.families.includes(f))) {
      const spec = namedSpec(input, cidrs, plan, family);
      out.podSets.push(spec);
      const named: Match = { kind: 'daddr-proto-port-in-set', family, set: spec.name };
      if (input.direction === 'egress') {
        // The triples already pin the destination to the peer pods.
        out.rules.push(createRule({ matches: [named], verdict, mark, log, notrack, comment }));
        continue;
      }
      for (const a of addrs) {
        if (a.family !== undefined && a.family !== family) continue;
        out.rules.push(
          createRule({
            matches: [...(a.match ? [a.match] : []), named],
            verdict,
            mark,
            log,
            notrack,
            comment,
          }),
        );
      }
    }
  }
  withConditions(input, out);
  return out;
}
