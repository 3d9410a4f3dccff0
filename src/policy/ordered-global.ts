// Calico's GlobalNetworkPolicy (model/global-network-policy.ts) into the ordered form (ordered.ts), for the pods it
// selects. Pure.
//
// Place: the NetworkPolicy ("default") tier, priority = order (NetworkPolicy is 1000; no order: last), so the
// two kinds interleave by order as in Calico. Pass skips the rest of the tier, on to Baseline. Rules keep
// Calico's AND of everything they name: peers and destination ports where NetworkPolicy's shapes can say it,
// the rest (CIDRs, selectors, their negations, source ports, protocols, ICMP, the IP version) as conditions.
//
// preDNAT and doNotTrack policies apply only to host endpoints (Calico: "pre-DNAT policy ... applies to host
// endpoints"; untracked policy likewise): the translation says so (`host`), and pods never select them.

import { calicoSelectorMatches } from '../model/calico-selector.js';
import {
  type EntityRule,
  type GlobalNetworkPolicy,
  type GlobalPolicyPort,
  type GlobalPolicyRule,
  globalPolicyKey,
  globalProtocolNumber,
} from '../model/global-network-policy.js';
import type { HostEndpoint } from '../model/host-endpoint.js';
import { PROTOCOLS } from '../model/k8s.js';
import { EMPTY_SELECTOR, type PolicyPort } from '../model/network-policy.js';
import type { Direction } from './names.js';
import type {
  OrderedPolicy,
  OrderedRule,
  PacketEnd,
  RuleAction,
  RuleCondition,
  SelectorPeer,
} from './ordered.js';

const ACTIONS: Readonly<Record<GlobalPolicyRule['action'], RuleAction>> = {
  Allow: 'allow',
  Deny: 'deny',
  Pass: 'pass',
  Log: 'log',
};

const PORT_PROTOCOLS = { 6: 'TCP', 17: 'UDP', 132: 'SCTP' } as const;

/** A rule part Palisade cannot program; the policy then fails closed (see fromGlobalNetworkPolicy). */
class Unsupported extends Error {}

/** The addresses of the host endpoints a selector peer names (none when it is limited to namespaces). */
function hostIpsOf(peer: SelectorPeer, heps: readonly HostEndpoint[]): string[] {
  const ns = peer.namespaceSelector?.selector;
  if (ns && !calicoSelectorMatches(ns, { labels: {}, namespaced: false })) return [];
  const sel = peer.selector?.selector;
  return heps
    .filter((h) => !sel || calicoSelectorMatches(sel, { labels: h.labels, namespaced: false }))
    .flatMap((h) => h.expectedIPs);
}

function numericRanges(ports: readonly GlobalPolicyPort[], where: string): { from: number; to: number }[] {
  return ports.map((p) => {
    if (p.kind === 'named') throw new Unsupported(`${where}: named port "${p.name}" is not supported here`);
    return { from: p.from, to: p.to };
  });
}

function entityConditions(e: EntityRule, end: PacketEnd, heps: readonly HostEndpoint[]): RuleCondition[] {
  const out: RuleCondition[] = [];
  if (e.nets.length > 0) out.push({ kind: 'cidrs', end, negate: false, cidrs: e.nets });
  if (e.notNets.length > 0) out.push({ kind: 'cidrs', end, negate: true, cidrs: e.notNets });
  const ns = e.namespaceSelector;
  if (e.selector || ns) {
    const peer: SelectorPeer = { selector: e.selector, namespaceSelector: ns };
    out.push({ kind: 'endpoints', end, negate: false, peer, hostIps: hostIpsOf(peer, heps) });
  }
  if (e.notSelector) {
    const peer: SelectorPeer = { selector: e.notSelector, namespaceSelector: ns };
    out.push({ kind: 'endpoints', end, negate: true, peer, hostIps: hostIpsOf(peer, heps) });
  }
  if (end === 'src' && e.ports.length > 0)
    out.push({ kind: 'ports', end, negate: false, ranges: numericRanges(e.ports, 'source.ports') });
  if (e.notPorts.length > 0)
    out.push({ kind: 'ports', end, negate: true, ranges: numericRanges(e.notPorts, `${end}.notPorts`) });
  return out;
}

/** Destination ports as NetworkPolicy ports when the protocol has them in that model (named ones included). */
function destinationPorts(rule: GlobalPolicyRule): { ports: PolicyPort[]; conditions: RuleCondition[] } {
  const number = rule.protocol ? globalProtocolNumber(rule.protocol) : undefined;
  const dst = rule.destination.ports;
  const protocolCondition: RuleCondition[] =
    number === undefined ? [] : [{ kind: 'protocol', negate: false, number }];
  if (dst.length === 0) return { ports: [], conditions: protocolCondition };
  if (number === undefined && dst.every((p) => p.kind === 'named')) {
    // Calico lets a named port go without a protocol: it then means that name under any protocol.
    const ports = dst.flatMap((p) =>
      PROTOCOLS.map((protocol): PolicyPort => ({ protocol, port: (p as { name: string }).name })),
    );
    return { ports, conditions: [] };
  }
  const named = number === undefined ? undefined : PORT_PROTOCOLS[number as keyof typeof PORT_PROTOCOLS];
  if (named === undefined) {
    const ranges = numericRanges(dst, 'destination.ports');
    return {
      ports: [],
      conditions: [...protocolCondition, { kind: 'ports', end: 'dst', negate: false, ranges }],
    };
  }
  const ports = dst.map(
    (p): PolicyPort =>
      p.kind === 'named'
        ? { protocol: named, port: p.name }
        : { protocol: named, port: p.from, ...(p.to !== p.from ? { endPort: p.to } : {}) },
  );
  return { ports, conditions: [] };
}

function icmpConditions(rule: GlobalPolicyRule): RuleCondition[] {
  const family = rule.protocol && globalProtocolNumber(rule.protocol) === 58 ? 6 : 4;
  const out: RuleCondition[] = [];
  if (rule.icmp) out.push({ kind: 'icmp', negate: false, family, ...rule.icmp });
  if (rule.notICMP) out.push({ kind: 'icmp', negate: true, family, ...rule.notICMP });
  return out;
}

function translateRule(rule: GlobalPolicyRule, index: number, heps: readonly HostEndpoint[]): OrderedRule {
  const dst = destinationPorts(rule);
  const conditions: RuleCondition[] = [
    ...entityConditions(rule.source, 'src', heps),
    ...entityConditions(rule.destination, 'dst', heps),
    ...dst.conditions,
    ...(rule.notProtocol
      ? [{ kind: 'protocol', negate: true, number: globalProtocolNumber(rule.notProtocol) } as const]
      : []),
    ...icmpConditions(rule),
    ...(rule.ipVersion ? [{ kind: 'family', family: rule.ipVersion } as const] : []),
  ];
  return {
    action: ACTIONS[rule.action],
    index,
    peers: [],
    ports: dst.ports,
    ...(conditions.length > 0 ? { conditions } : {}),
  };
}

/**
 * A direction's rules. A rule Palisade cannot program makes the policy fail closed like a broken one: problems
 * gets the reason, its Allow, Pass and Log rules go, and the rule itself, were it a Deny, denies everything.
 */
function translateRules(
  list: readonly GlobalPolicyRule[],
  d: Direction,
  heps: readonly HostEndpoint[],
  problems: string[],
): OrderedRule[] {
  const out: OrderedRule[] = [];
  for (const [index, rule] of list.entries()) {
    try {
      out.push(translateRule(rule, index, heps));
    } catch (err) {
      if (!(err instanceof Unsupported)) throw err;
      problems.push(`spec.${d}[${index}].${err.message}`);
      if (rule.action === 'Deny') out.push({ action: 'deny', index, peers: [], ports: [] });
    }
  }
  return out;
}

/** The policy, for the pods and host endpoints it selects (appliesToPods: not when preDNAT or doNotTrack). */
export function fromGlobalNetworkPolicy(
  gnp: GlobalNetworkPolicy,
  heps: readonly HostEndpoint[] = [],
): OrderedPolicy {
  const key = globalPolicyKey(gnp);
  const problems = [...gnp.problems];
  const types = new Set(gnp.types);
  const ingress = types.has('Ingress') ? translateRules(gnp.ingress, 'ingress', heps, problems) : undefined;
  const egress = types.has('Egress') ? translateRules(gnp.egress, 'egress', heps, problems) : undefined;
  const failClosed = (rules: OrderedRule[] | undefined) =>
    problems.length > gnp.problems.length ? rules?.filter((r) => r.action === 'deny') : rules;
  return {
    key,
    origin: key,
    tier: 'NetworkPolicy',
    priority: gnp.order ?? Number.POSITIVE_INFINITY,
    subject: {
      podSelector: EMPTY_SELECTOR,
      calico: { selector: gnp.selector, namespaceSelector: gnp.namespaceSelector },
    },
    ...(ingress ? { ingress: failClosed(ingress) } : {}),
    ...(egress ? { egress: failClosed(egress) } : {}),
    host: { preDNAT: gnp.preDNAT, doNotTrack: gnp.doNotTrack, applyOnForward: gnp.applyOnForward },
    problems,
  };
}

/** Whether a policy's translation depends on the host endpoints (a selector of its rules may name them). */
export function dependsOnHostEndpoints(gnp: GlobalNetworkPolicy): boolean {
  return [...gnp.ingress, ...gnp.egress].some((r) =>
    [r.source, r.destination].some((e) => e.selector || e.notSelector || e.namespaceSelector),
  );
}
