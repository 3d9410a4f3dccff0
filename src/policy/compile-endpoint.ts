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
  drop,
  type Family,
  type MarkStatement,
  type Match,
  type NamedSet,
  type PortRange,
  type Rule,
  type Verdict,
} from '../ir/ir.js';
import type { Cidr } from '../model/cidr.js';
import { disjointCidrs, formatCidr } from '../model/cidr.js';
import type { PodInfo } from '../model/cluster.js';
import type { Protocol } from '../model/k8s.js';
import { blockCidrs, compileRule, portMatch } from './compile-rule.js';
import { type Direction, originComment, PASS_MARK, sharedSetName } from './names.js';
import { type OrderedPolicy, type OrderedRule, rulesOf, TIER_RULES } from './ordered.js';
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

/** What a merged run's rules do when they match. */
export interface RunOutcome {
  readonly verdict: Verdict;
  /** A pass of the NetworkPolicy tier: the mark bit its tier chain's caller reads. */
  readonly mark?: MarkStatement;
  /** How the comments name the run: "(merged)" for NetworkPolicy, "(merged deny)" etc. for the cluster tiers. */
  readonly label: string;
}

interface RunItem {
  readonly policy: OrderedPolicy;
  readonly rule: OrderedRule;
}

/** The comment of a merged rule: the policies it stands for (three shown), the direction, the run's label. */
function comment(d: Direction, prefix: string, names: ReadonlySet<string>, label: string): string {
  const keys = [...names].sort();
  const shown = keys.slice(0, 3).join(',');
  return originComment(`${prefix}${shown}${keys.length > 3 ? ` +${keys.length - 3}` : ''}:${d} ${label}`);
}

/**
 * A run of rules that all do the same (`outcome`), merged: grouped by port match, each group one rule per family
 * on the union of its peers, and named egress ports as they are. Exact because within a run the order of the
 * rules cannot matter: whichever matches first, the outcome is the same.
 */
function mergeRun(
  endpoint: PodInfo,
  d: Direction,
  items: readonly RunItem[],
  families: readonly Family[],
  outcome: RunOutcome,
  out: { rules: Rule[]; sets: NamedSet[]; podSets: PodSetSpec[] },
): void {
  const { sets, podSets } = out;
  const groups = new Map<string, Group>();
  const namedEgress: Rule[] = [];
  // NetworkPolicy keys are "namespace/name" under "np:"; the cluster tiers' keys carry their kind already.
  const prefix = items.every((x) => x.policy.tier === 'NetworkPolicy') ? 'np:' : '';
  for (const { policy, rule } of items) {
    const key = policy.key;
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
            verdict: outcome.verdict,
            mark: outcome.mark,
            comment: originComment(`${policy.origin}:${d}[${i}]`),
          }),
        );
      }
    }
  }
  const field = d === 'ingress' ? 'saddr' : 'daddr';
  for (const [, g] of [...groups].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const why = comment(d, prefix, g.policies, outcome.label);
    if (g.any) {
      out.rules.push(
        createRule({ matches: g.ports, verdict: outcome.verdict, mark: outcome.mark, comment: why }),
      );
      continue;
    }
    const cidrs = disjointCidrs(g.cidrs);
    for (const family of FAMILIES.filter((f) => families.includes(f) || cidrs.some((c) => c.family === f))) {
      if (g.matchers.length > 0) {
        const spec = peerAddressSet(g.matchers, family);
        podSets.push(spec);
        out.rules.push(
          createRule({
            matches: [{ kind: 'addr-in-set', field, family, set: spec.name }, ...g.ports],
            verdict: outcome.verdict,
            mark: outcome.mark,
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
        out.rules.push(
          createRule({
            matches: [{ kind: 'addr-in-set', field, family, set: name }, ...g.ports],
            verdict: outcome.verdict,
            mark: outcome.mark,
            comment: why,
          }),
        );
      }
    }
  }
  out.rules.push(...namedEgress);
}

/** The NetworkPolicy tier merged: every allow rule of every selecting policy, one run. */
export function mergedEndpointRules(
  endpoint: PodInfo,
  d: Direction,
  policies: readonly OrderedPolicy[],
  families: readonly Family[],
): MergedRules {
  const out = { rules: [] as Rule[], sets: [] as NamedSet[], podSets: [] as PodSetSpec[] };
  const broken: Rule[] = [];
  const items: RunItem[] = [];
  for (const policy of policies) {
    if (policy.problems.length > 0) {
      // A broken policy isolates and allows nothing; a counting rule says why, as its chain would.
      const why = originComment(`${policy.origin}: invalid, allows nothing: ${policy.problems[0]}`);
      broken.push(createRule({ comment: why }));
      continue;
    }
    if (policy.tier !== 'NetworkPolicy' || (rulesOf(policy, d) ?? []).some((r) => r.action !== 'allow'))
      throw new Error(`${policy.origin}: only allow rules of the NetworkPolicy tier merge as one run`);
    for (const rule of rulesOf(policy, d) ?? []) items.push({ policy, rule });
  }
  mergeRun(endpoint, d, items, families, { verdict: accept, label: '(merged)' }, out);
  return { rules: [...out.rules, ...broken], sets: out.sets, podSets: out.podSets };
}

/**
 * compileRule, once per (rule, direction, families) as long as the translation that made the rule lives: every
 * endpoint a merged tier holds the rule for gets the same output (it depends on neither the pod nor the others).
 */
const compiledRules = new WeakMap<OrderedRule, Map<string, ReturnType<typeof compileRule>>>();
function compileRuleOnce(
  policy: OrderedPolicy,
  d: Direction,
  rule: OrderedRule,
  families: readonly Family[],
) {
  let byKey = compiledRules.get(rule);
  if (!byKey) {
    byKey = new Map();
    compiledRules.set(rule, byKey);
  }
  const key = `${policy.key} ${policy.tier} ${d} ${families.join(',')}`;
  let out = byKey.get(key);
  if (!out) {
    out = compileRule({ policy, direction: d, rule, families });
    byKey.set(key, out);
  }
  return out;
}

/** Whether a rule must stay as it is: Log goes on after matching, and conditions do not merge by ports. */
export function inlineOnly(rule: OrderedRule): boolean {
  return rule.action === 'log' || (rule.conditions?.length ?? 0) > 0;
}

/** What a pass does in a merged tier: Baseline allows, Admin returns, NetworkPolicy returns with the mark. */
function passOutcome(tier: OrderedPolicy['tier']): Pick<RunOutcome, 'verdict' | 'mark'> {
  if (TIER_RULES[tier].pass === 'allow') return { verdict: accept };
  if (tier === 'Admin') return { verdict: { kind: 'return' } };
  return { verdict: { kind: 'return' }, mark: { bit: PASS_MARK, set: true } };
}

/**
 * A tier merged for one endpoint: the rules of its policies in pipeline order, cut into runs of one action,
 * each run merged (mergeRun); a rule that must stay as it is (inlineOnly) is compiled alone, in its place. Runs
 * stay in order, so the first match still decides. Inline in the endpoint's tier chain, a Pass needs no mark in
 * Admin (it returns from that chain, on to NetworkPolicy) and allows in Baseline; in the NetworkPolicy tier it
 * returns with PASS_MARK set, which tells the caller to go on to Baseline rather than isolate.
 */
export function mergedTierRules(
  endpoint: PodInfo,
  d: Direction,
  policies: readonly OrderedPolicy[],
  families: readonly Family[],
): MergedRules {
  const out = { rules: [] as Rule[], sets: [] as NamedSet[], podSets: [] as PodSetSpec[] };
  const items = policies.flatMap((policy) => (rulesOf(policy, d) ?? []).map((rule) => ({ policy, rule })));
  for (const run of runsOf(items)) {
    const { policy, rule } = run.items[0]!;
    if (run.inline) {
      const c = compileRuleOnce(policy, d, rule, families);
      const admin = policy.tier === 'Admin';
      out.rules.push(...c.rules.map((r) => (admin && r.mark ? { ...r, mark: undefined } : r)));
      out.sets.push(...c.sets);
      out.podSets.push(...c.podSets);
      continue;
    }
    const outcome =
      rule.action === 'allow'
        ? { verdict: accept }
        : rule.action === 'deny'
          ? { verdict: drop }
          : passOutcome(policy.tier);
    mergeRun(endpoint, d, run.items, families, { ...outcome, label: `(merged ${rule.action})` }, out);
  }
  return out;
}

/** The (protocol, ports) a rule can match: 'all' for any port, a named one (conservatively) or any protocol. */
type Coverage = 'all' | Map<Protocol, readonly PortRange[]>;

function coverageOf(rule: OrderedRule): Coverage {
  const plan = planPorts(rule.ports);
  if (plan.any || plan.named.length > 0) return 'all';
  const out = new Map<Protocol, readonly PortRange[]>();
  for (const [protocol, ranges] of plan.numeric)
    out.set(protocol, ranges.length === 0 ? [{ from: 0, to: 65535 }] : ranges);
  return out;
}

function unite(a: Coverage, b: Coverage): Coverage {
  if (a === 'all' || b === 'all') return 'all';
  const out = new Map(a);
  for (const [p, r] of b) out.set(p, mergeRanges([...(out.get(p) ?? []), ...r]));
  return out;
}

/** Whether no packet can match both: for every protocol they share, their port ranges do not meet. */
function disjoint(a: Coverage, b: Coverage): boolean {
  if (a === 'all' || b === 'all') return false;
  for (const [p, ra] of a) {
    const rb = b.get(p);
    if (rb?.some((x) => ra.some((y) => x.from <= y.to && y.from <= x.to))) return false;
  }
  return true;
}

interface Run {
  readonly action: OrderedRule['action'];
  readonly items: RunItem[];
  coverage: Coverage;
  /** One rule that stays as it is (inlineOnly): nothing joins it or moves across it. */
  readonly inline: boolean;
}

/**
 * Rules in first-match order, cut into runs of one action. A rule joins the latest run of its action when every
 * run after that one is disjoint from it by ports (no packet could match both, so moving it ahead of them changes
 * no decision); otherwise it starts a new run. Runs keep their order.
 */
function runsOf(items: readonly RunItem[]): Run[] {
  const runs: Run[] = [];
  for (const item of items) {
    if (inlineOnly(item.rule)) {
      runs.push({ action: item.rule.action, items: [item], coverage: 'all', inline: true });
      continue;
    }
    const coverage = coverageOf(item.rule);
    let into: Run | undefined;
    for (let r = runs.length - 1; r >= 0; r--) {
      const run = runs[r]!;
      if (run.inline) break;
      if (run.action === item.rule.action) {
        into = run;
        break;
      }
      if (!disjoint(coverage, run.coverage)) break;
    }
    if (into) {
      into.items.push(item);
      into.coverage = unite(into.coverage, coverage);
    } else runs.push({ action: item.rule.action, items: [item], coverage, inline: false });
  }
  return runs;
}
