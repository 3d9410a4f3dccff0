// Calico's GlobalNetworkPolicy (projectcalico.org/v3 fields; served as palisade.dev/v1, crd.projectcalico.org/v1
// and projectcalico.org/v3) as Palisade holds it: plain readonly data, validated, total. Pure. Parsing lives in
// global-network-policy-parse.ts; selectors are Calico's expressions (calico-selector.ts).
//
// Reference: https://docs.tigera.io/calico/latest/reference/resources/globalnetworkpolicy and
// https://docs.tigera.io/calico/latest/reference/resources/networkpolicy#rule (rules, entity rules, ports).
//
// A cluster-scoped policy in the default tier, interleaved with Kubernetes NetworkPolicy (which counts as order
// 1000) by `order`, lower first, unset last; equal orders by name. It applies to pods (`namespaceSelector` picks
// their namespaces, `selector` their labels) and to host endpoints (`selector` on the HostEndpoint's labels; a
// policy with a `namespaceSelector` selects no host endpoint). Within a policy rules run in order and the first
// that matches decides, except Log, which records the packet and goes on.
import type { Selector } from './calico-selector.js';

export type GlobalPolicyAction = 'Allow' | 'Deny' | 'Pass' | 'Log';
export const GLOBAL_POLICY_ACTIONS: readonly GlobalPolicyAction[] = ['Allow', 'Deny', 'Pass', 'Log'];

/** A selector as written and as parsed: the text is kept for set keys, comments and status. */
export interface ParsedSelector {
  readonly text: string;
  readonly selector: Selector;
}

/**
 * One entry of `ports`/`notPorts`: a number, a range "from:to" (inclusive, from <= to), or a named port (resolved
 * on the endpoint: a pod's container port, a host endpoint's `ports`).
 */
export type GlobalPolicyPort =
  | { readonly kind: 'range'; readonly from: number; readonly to: number }
  | { readonly kind: 'named'; readonly name: string };

/**
 * `source` or `destination` of a rule. Every field given must hold (AND); a `not…` field must not. Empty
 * (every field absent or empty) matches everything.
 */
export interface EntityRule {
  /** CIDRs in canonical text (host bits cleared, IPv6 compressed): the address is in one of them. */
  readonly nets: readonly string[];
  /** The address is in none of these. */
  readonly notNets: readonly string[];
  /** The address belongs to an endpoint (pod, or host endpoint's expectedIPs) this selector matches. */
  readonly selector?: ParsedSelector;
  /** The address belongs to no endpoint this selector matches. */
  readonly notSelector?: ParsedSelector;
  /**
   * Limits `selector`/`notSelector` to pods of namespaces whose labels match (`global()`: only non-namespaced
   * endpoints, i.e. host endpoints). Alone (no selector), it matches every pod of those namespaces.
   */
  readonly namespaceSelector?: ParsedSelector;
  /** The port is one of these (numbers need `protocol` TCP, UDP or SCTP on the rule; a named port alone may go
   * without one, and then means that name under any protocol). */
  readonly ports: readonly GlobalPolicyPort[];
  /** The port is none of these. */
  readonly notPorts: readonly GlobalPolicyPort[];
}

/** `protocol`/`notProtocol`: a name Calico knows, or a number 1..255. */
export type GlobalPolicyProtocol =
  | { readonly kind: 'named'; readonly name: 'TCP' | 'UDP' | 'ICMP' | 'ICMPv6' | 'SCTP' | 'UDPLite' }
  | { readonly kind: 'number'; readonly number: number };

/** The IP protocol numbers of the names Calico knows. */
const PROTOCOL_NUMBERS = { TCP: 6, UDP: 17, ICMP: 1, ICMPv6: 58, SCTP: 132, UDPLite: 136 } as const;

export function globalProtocolNumber(p: GlobalPolicyProtocol): number {
  return p.kind === 'named' ? PROTOCOL_NUMBERS[p.name] : p.number;
}

/** numorstring.Protocol.SupportsPorts: TCP, UDP and SCTP, by name or number (not UDPLite). */
export function supportsPorts(p: GlobalPolicyProtocol): boolean {
  return [6, 17, 132].includes(globalProtocolNumber(p));
}

/** `icmp`/`notICMP`: a type (0..254) and optionally a code (0..255, only with a type). */
export interface IcmpMatch {
  readonly type: number;
  readonly code?: number;
}

export interface GlobalPolicyRule {
  readonly action: GlobalPolicyAction;
  readonly protocol?: GlobalPolicyProtocol;
  readonly notProtocol?: GlobalPolicyProtocol;
  /** `ipVersion`: the rule only matches packets of this family. */
  readonly ipVersion?: 4 | 6;
  readonly icmp?: IcmpMatch;
  readonly notICMP?: IcmpMatch;
  readonly source: EntityRule;
  readonly destination: EntityRule;
}

export type GlobalPolicyType = 'Ingress' | 'Egress';

/** The API group the object was read from; objects of different groups are different policies. */
export type CalicoCompatGroup = 'palisade.dev' | 'crd.projectcalico.org' | 'projectcalico.org';

export interface GlobalNetworkPolicy {
  readonly kind: 'GlobalNetworkPolicy';
  readonly group: CalicoCompatGroup;
  /** metadata.name. */
  readonly name: string;
  /** Lower first; undefined: after every policy with an order. NetworkPolicy counts as 1000. */
  readonly order?: number;
  /** The endpoints it applies to (empty text: all()). */
  readonly selector: ParsedSelector;
  /** Only pods of namespaces whose labels match (and then no host endpoint); absent: no limit. */
  readonly namespaceSelector?: ParsedSelector;
  /** Explicit, or Calico's default from the rules present (see the parser). */
  readonly types: readonly GlobalPolicyType[];
  readonly ingress: readonly GlobalPolicyRule[];
  readonly egress: readonly GlobalPolicyRule[];
  /** Host endpoints only: before the service DNAT, ingress only, Allow lets the packet go on to normal policy. */
  readonly preDNAT: boolean;
  /** Host endpoints only: also applies to traffic forwarded through the host endpoint. */
  readonly applyOnForward: boolean;
  /** Host endpoints only: untracked (raw table); Allow is final and leaves no conntrack entry. */
  readonly doNotTrack: boolean;
  /**
   * Why the policy could not be accepted, each naming the field path and the value. A policy with problems FAILS
   * CLOSED and the parser has already shaped it so: it keeps applying where it would (a broken `selector` or
   * `namespaceSelector` is read as all(); broken `types` as both), every Allow, Pass and Log rule is dropped, a
   * rule that did not parse whole becomes a Deny of everything, and its preDNAT/doNotTrack flags are cleared
   * (so it is enforced as normal policy, where Deny is final and the tier isolates).
   */
  readonly problems: readonly string[];
}

/** The key of a GlobalNetworkPolicy among all policies: kind, and the group when not Palisade's own. */
export function globalPolicyKey(p: Pick<GlobalNetworkPolicy, 'group' | 'name'>): string {
  return p.group === 'palisade.dev' ? `gnp:${p.name}` : `gnp:${p.group}/${p.name}`;
}

/** NetworkPolicy's place among GlobalNetworkPolicies (Calico: "Kubernetes NetworkPolicy ... order 1000"). */
export const NETWORK_POLICY_ORDER = 1000;
