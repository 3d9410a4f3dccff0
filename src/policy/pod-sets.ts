// Sets whose elements come from pods: the addresses of a rule's selector peers, and the (address . protocol .
// port) triples of named ports. Each is a spec: which pods belong and what each contributes, which namespaces
// can hold members, and a content key. Sets are named by that key, so every rule with the same peers shares
// one set, and the incremental compiler (node-compiler.ts) can update a set pod by pod. Pure.

import type { Family, SetType } from '../ir/ir.js';
import { calicoNamespaceLabels, calicoPodLabels, calicoSelectorMatches } from '../model/calico-selector.js';
import { type Cidr, cidrContains, formatCidr, tryParseIp } from '../model/cidr.js';
import type { PodInfo } from '../model/cluster.js';
import type { Protocol } from '../model/k8s.js';
import type { LabelSelector, PolicyPeer } from '../model/network-policy.js';
import { selectorMatches, selectorToString } from '../model/selector.js';
import { type Direction, sharedSetName } from './names.js';
import {
  appliesToPods,
  type OrderedPolicy,
  type PolicySubject,
  rulesOf,
  type SelectorPeer,
} from './ordered.js';

type Labels = Readonly<Record<string, string>>;

/** What a spec may ask of the cluster besides the pod itself. */
export interface PodSetContext {
  readonly node: string;
  nsLabels(namespace: string): Labels;
  /** Every namespace that holds a pod with an address. */
  namespaces(): Iterable<string>;
}

export interface PodSetSpec {
  readonly name: string;
  /** Equal keys mean equal sets (the name is a hash of it). */
  readonly key: string;
  readonly type: SetType;
  readonly family: Family;
  /** Membership depends on namespace labels: the set is rebuilt when they change. */
  readonly namespaceLabels: boolean;
  /** The namespaces whose pods can be members; undefined means all. */
  scope(ctx: PodSetContext): readonly string[] | undefined;
  /** The elements a pod contributes; empty when it is not a member. */
  elements(pod: PodInfo, ctx: PodSetContext): readonly string[];
}

/** Whether `subject` names `pod`: its namespace (fixed, or picked by the selector) and its labels. */
export function subjectMatches(
  subject: PolicySubject,
  pod: PodInfo,
  nsLabels: (ns: string) => Labels,
): boolean {
  if (subject.calico) return selectorPeerMatches(subject.calico, pod, nsLabels);
  if (subject.namespace !== undefined && pod.namespace !== subject.namespace) return false;
  if (subject.namespaceSelector && !selectorMatches(subject.namespaceSelector, nsLabels(pod.namespace)))
    return false;
  return selectorMatches(subject.podSelector, pod.labels);
}

/** Whether `policy` applies to `pod` in direction `d`. */
export function selects(
  policy: OrderedPolicy,
  pod: PodInfo,
  d: Direction,
  nsLabels: (ns: string) => Labels,
): boolean {
  return (
    rulesOf(policy, d) !== undefined && appliesToPods(policy) && subjectMatches(policy.subject, pod, nsLabels)
  );
}

/** Whether Calico selectors name a pod: its namespace's labels and its own, as Calico sees them. */
/** Calico's view of a pod's labels, built once per pod object (a GlobalNetworkPolicy checks every pod). */
const podSubjects = new WeakMap<PodInfo, { labels: Labels; namespaced: true }>();
function podSubject(pod: PodInfo): { labels: Labels; namespaced: true } {
  let s = podSubjects.get(pod);
  if (!s) {
    s = { labels: calicoPodLabels(pod.namespace, pod.labels), namespaced: true };
    podSubjects.set(pod, s);
  }
  return s;
}

/** Calico's view of a namespace's labels, built once per labels object. */
const nsSubjects = new WeakMap<Labels, Map<string, { labels: Labels; namespaced: true }>>();
function nsSubject(ns: string, labels: Labels): { labels: Labels; namespaced: true } {
  let byName = nsSubjects.get(labels);
  if (!byName) {
    byName = new Map();
    nsSubjects.set(labels, byName);
  }
  let s = byName.get(ns);
  if (!s) {
    s = { labels: calicoNamespaceLabels(ns, labels), namespaced: true };
    byName.set(ns, s);
  }
  return s;
}

export function selectorPeerMatches(
  peer: SelectorPeer,
  pod: PodInfo,
  nsLabels: (ns: string) => Labels,
): boolean {
  const ns = peer.namespaceSelector?.selector;
  if (ns && !calicoSelectorMatches(ns, nsSubject(pod.namespace, nsLabels(pod.namespace)))) return false;
  const sel = peer.selector?.selector;
  return !sel || calicoSelectorMatches(sel, podSubject(pod));
}

function selectorPeerKey(p: SelectorPeer): string {
  return `calico(${p.selector?.text ?? '*'}) calicoNs(${p.namespaceSelector?.text ?? '*'})`;
}

function subjectKey(s: PolicySubject): string {
  if (s.calico) return selectorPeerKey(s.calico);
  const ns =
    s.namespace !== undefined
      ? `ns(${s.namespace})`
      : `nsSel(${s.namespaceSelector ? selectorToString(s.namespaceSelector) : '*'})`;
  return `${ns} pods(${selectorToString(s.podSelector)})`;
}

export function familyOf(ip: string): Family {
  return ip.includes(':') ? 6 : 4;
}

function ipsOf(pod: PodInfo, family: Family): readonly string[] {
  if (pod.ips.length === 1) return familyOf(pod.ips[0]!) === family ? pod.ips : [];
  return pod.ips.filter((ip) => familyOf(ip) === family);
}

/** A selector peer as it matches pods: from the policy's namespace, or from namespaces a selector picks. */
interface PeerMatcher {
  /** The policy's namespace, or undefined with a namespace selector. */
  readonly namespace?: string;
  readonly namespaceSelector?: LabelSelector;
  readonly podSelector?: LabelSelector;
}

function matcherOf(policyNs: string | undefined, peer: PolicyPeer): PeerMatcher | undefined {
  // A peer with neither selector (nor ipBlock) is invalid and was reported; it matches nothing. So does a
  // podSelector alone in a policy that has no namespace of its own (no translator makes one).
  if (peer.ipBlock || (!peer.podSelector && !peer.namespaceSelector)) return undefined;
  if (!peer.namespaceSelector && policyNs === undefined) return undefined;
  return peer.namespaceSelector
    ? { namespaceSelector: peer.namespaceSelector, podSelector: peer.podSelector }
    : { namespace: policyNs, podSelector: peer.podSelector };
}

function matcherKey(m: PeerMatcher): string {
  const ns = m.namespaceSelector ? `nsSel(${selectorToString(m.namespaceSelector)})` : `ns(${m.namespace})`;
  return `${ns} pods(${m.podSelector ? selectorToString(m.podSelector) : '*'})`;
}

function matches(m: PeerMatcher, pod: PodInfo, ctx: PodSetContext): boolean {
  if (m.namespace !== undefined && pod.namespace !== m.namespace) return false;
  if (m.namespaceSelector && !selectorMatches(m.namespaceSelector, ctx.nsLabels(pod.namespace))) return false;
  return !m.podSelector || selectorMatches(m.podSelector, pod.labels);
}

function matcherScope(ms: readonly PeerMatcher[], ctx: PodSetContext): string[] {
  const out = new Set<string>();
  for (const m of ms) {
    if (m.namespace !== undefined) out.add(m.namespace);
    else
      for (const ns of ctx.namespaces())
        if (selectorMatches(m.namespaceSelector!, ctx.nsLabels(ns))) out.add(ns);
  }
  return [...out];
}

/** The selector peers of one rule, as matchers (ipBlocks and invalid peers left out). */
export function peerMatchers(policyNs: string | undefined, peers: readonly PolicyPeer[]): PeerMatcher[] {
  return peers.flatMap((p) => matcherOf(policyNs, p) ?? []);
}

/** The addresses of family `family` of every pod any of the rule's selector peers matches. */
export function peerAddressSet(matchers: readonly PeerMatcher[], family: Family): PodSetSpec {
  const key = `peers v${family}: ${[...new Set(matchers.map(matcherKey))].sort().join(' | ')}`;
  return {
    name: sharedSetName('pods', family, key),
    key,
    type: family === 4 ? 'ipv4_addr' : 'ipv6_addr',
    family,
    namespaceLabels: matchers.some((m) => m.namespaceSelector !== undefined),
    scope: (ctx) => matcherScope(matchers, ctx),
    elements: (pod, ctx) => (matchers.some((m) => matches(m, pod, ctx)) ? ipsOf(pod, family) : []),
  };
}

/**
 * The addresses of family `family` of every pod Calico selectors name (a GlobalNetworkPolicy rule's selector,
 * notSelector or namespaceSelector). Host endpoints' addresses are not pods: the rule carries them itself.
 */
export function selectorPeerSet(peer: SelectorPeer, family: Family): PodSetSpec {
  const key = `calico v${family}: ${selectorPeerKey(peer)}`;
  return {
    name: sharedSetName('pods', family, key),
    key,
    type: family === 4 ? 'ipv4_addr' : 'ipv6_addr',
    family,
    namespaceLabels: peer.namespaceSelector !== undefined,
    scope: () => undefined,
    elements: (pod, ctx) => (selectorPeerMatches(peer, pod, ctx.nsLabels) ? ipsOf(pod, family) : []),
  };
}

export interface NamedPort {
  readonly name: string;
  readonly protocol: Protocol;
}

function triples(pod: PodInfo, family: Family, named: readonly NamedPort[]): string[] {
  const out: string[] = [];
  for (const n of named) {
    const cp = pod.ports.find((p) => p.name === n.name && p.protocol === n.protocol);
    if (!cp) continue;
    for (const ip of ipsOf(pod, family))
      out.push(`${ip} . ${n.protocol.toLowerCase()} . ${cp.containerPort}`);
  }
  return out;
}

function namedKey(named: readonly NamedPort[]): string {
  return named.map((n) => `${n.protocol}/${n.name}`).join(',');
}

/**
 * Named ports of an ingress rule: they resolve on the destination, which is one of this node's endpoints the
 * policy selects. Elements are (endpoint address . protocol . port).
 */
export function ingressNamedSet(
  subject: PolicySubject,
  named: readonly NamedPort[],
  family: Family,
): PodSetSpec {
  const key = `named in v${family}: ${subjectKey(subject)} ports(${namedKey(named)})`;
  const fixed = subject.namespace;
  return {
    name: sharedSetName('named', family, key),
    key,
    type: family === 4 ? 'ipv4_addr . inet_proto . inet_service' : 'ipv6_addr . inet_proto . inet_service',
    family,
    namespaceLabels:
      fixed === undefined &&
      (subject.namespaceSelector !== undefined || subject.calico?.namespaceSelector !== undefined),
    scope: () => (fixed !== undefined ? [fixed] : undefined),
    elements: (pod, ctx) =>
      pod.node === ctx.node && pod.interface !== undefined && subjectMatches(subject, pod, ctx.nsLabels)
        ? triples(pod, family, named)
        : [],
  };
}

function insideAny(ip: string, cidrs: readonly Cidr[]): boolean {
  const addr = tryParseIp(ip);
  return addr !== undefined && cidrs.some((c) => cidrContains(c, addr));
}

/**
 * Named ports of an egress rule: they resolve on the destination, which is a peer: a pod its selectors match,
 * a pod inside one of its ipBlocks, or any pod when the rule has no peers.
 */
export function egressNamedSet(
  peers: {
    readonly any: boolean;
    readonly matchers: readonly PeerMatcher[];
    readonly cidrs: readonly Cidr[];
  },
  named: readonly NamedPort[],
  family: Family,
): PodSetSpec {
  const who = peers.any
    ? 'any'
    : `${[...new Set(peers.matchers.map(matcherKey))].sort().join(' | ')} cidrs(${peers.cidrs.map(formatCidr).join(',')})`;
  const key = `named eg v${family}: ${who} ports(${namedKey(named)})`;
  const everywhere = peers.any || peers.cidrs.length > 0;
  return {
    name: sharedSetName('named', family, key),
    key,
    type: family === 4 ? 'ipv4_addr . inet_proto . inet_service' : 'ipv6_addr . inet_proto . inet_service',
    family,
    namespaceLabels: !peers.any && peers.matchers.some((m) => m.namespaceSelector !== undefined),
    scope: (ctx) => (everywhere ? undefined : matcherScope(peers.matchers, ctx)),
    elements: (pod, ctx) => {
      const dest =
        peers.any ||
        peers.matchers.some((m) => matches(m, pod, ctx)) ||
        (peers.cidrs.length > 0 && pod.ips.some((ip) => insideAny(ip, peers.cidrs)));
      return dest ? triples(pod, family, named) : [];
    },
  };
}
