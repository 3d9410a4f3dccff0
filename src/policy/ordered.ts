// The one form every policy kind is compiled from: who it applies to, in which tier and at which priority, and per
// direction an ordered list of rules, each with an action. Each kind has a translator into it (NetworkPolicy
// below); the compiler reads nothing else. Pure.
//
// An endpoint's direction is decided by a pipeline of tiers, in TIERS order. Within a tier, the policies that
// apply to the endpoint run in (priority, key) order and their rules in order: the first rule that matches
// decides. `allow` and `deny` end the pipeline; `pass` skips the rest of its tier. What happens when no rule of a
// tier decides is the tier's (TIER_RULES): NetworkPolicy isolates (an endpoint some policy of the tier applies to
// is denied), the others fall through to the next tier. After the last tier, the endpoint is allowed.

import type { Family, PortRange } from '../ir/ir.js';
import type { NodeInfo } from '../model/cluster.js';
import {
  type ClusterEgressPeer,
  type ClusterNetworkPolicy,
  type ClusterPolicyProtocol,
  type ClusterPolicyRule,
  clusterPolicyKey,
} from '../model/cluster-network-policy.js';
import { NETWORK_POLICY_ORDER, type ParsedSelector } from '../model/global-network-policy.js';
import { PROTOCOLS } from '../model/k8s.js';
import {
  EMPTY_SELECTOR,
  type LabelSelector,
  type NetworkPolicy,
  type PolicyPeer,
  type PolicyPort,
  policyKey,
} from '../model/network-policy.js';
import { selectorMatches } from '../model/selector.js';
import type { Direction } from './names.js';

export type Tier = 'Admin' | 'NetworkPolicy' | 'Baseline';
export const TIERS: readonly Tier[] = ['Admin', 'NetworkPolicy', 'Baseline'];

/** `log` records the packet (NFLOG) and goes on to the next rule: it decides nothing. */
export type RuleAction = 'allow' | 'deny' | 'pass' | 'log';

export interface TierRules {
  /** An endpoint that some policy of the tier applies to, and no rule of the tier decided for, is denied. */
  readonly isolates: boolean;
  /** What `pass` means in this tier: skip to the next tier, or (the last tier) allow. */
  readonly pass: 'next-tier' | 'allow';
}

export const TIER_RULES: Readonly<Record<Tier, TierRules>> = {
  Admin: { isolates: false, pass: 'next-tier' },
  NetworkPolicy: { isolates: true, pass: 'next-tier' },
  Baseline: { isolates: false, pass: 'allow' },
};

/**
 * Endpoints named by Calico selectors (GlobalNetworkPolicy): pods whose labels `selector` matches (absent: every
 * pod) in namespaces whose labels `namespaceSelector` matches (absent: every namespace). Labels as Calico sees
 * them (calicoPodLabels, calicoNamespaceLabels).
 */
export interface SelectorPeer {
  readonly selector?: ParsedSelector;
  readonly namespaceSelector?: ParsedSelector;
}

/** The pods a policy applies to. */
export interface PolicySubject {
  /** Only pods of this namespace (a NetworkPolicy's own); absent: any namespace `namespaceSelector` picks. */
  readonly namespace?: string;
  /** With no `namespace`: which namespaces (absent: all). */
  readonly namespaceSelector?: LabelSelector;
  readonly podSelector: LabelSelector;
  /** Calico's selectors instead of the label selectors above (which are then empty). */
  readonly calico?: SelectorPeer;
}

export type PacketEnd = 'src' | 'dst';

export interface HostApplication {
  readonly preDNAT: boolean;
  readonly doNotTrack: boolean;
  readonly applyOnForward: boolean;
}

/** Whether a policy can apply to pods: not one for host endpoints only (preDNAT, doNotTrack). */
export function appliesToPods(p: OrderedPolicy): boolean {
  return !p.host || (!p.host.preDNAT && !p.host.doNotTrack);
}

/**
 * A further condition of a rule (Calico's rules; the other kinds need none): every condition of a rule must hold,
 * besides its peers and ports. `negate` turns a condition into "not": an address in none of the CIDRs, a port
 * outside the ranges, any other protocol.
 */
export type RuleCondition =
  /** The address of `end` is in one of the CIDRs (canonical text). */
  | {
      readonly kind: 'cidrs';
      readonly end: PacketEnd;
      readonly negate: boolean;
      readonly cidrs: readonly string[];
    }
  /**
   * The address of `end` belongs to a pod `peer` names, or is one of `hostIps` (the host endpoints its selector
   * matches, resolved by the translator).
   */
  | {
      readonly kind: 'endpoints';
      readonly end: PacketEnd;
      readonly negate: boolean;
      readonly peer: SelectorPeer;
      readonly hostIps: readonly string[];
    }
  /** The port of `end` is in one of the ranges (the rule's protocol has ports). */
  | {
      readonly kind: 'ports';
      readonly end: PacketEnd;
      readonly negate: boolean;
      readonly ranges: readonly PortRange[];
    }
  /** The IP protocol number. */
  | { readonly kind: 'protocol'; readonly negate: boolean; readonly number: number }
  /** An ICMP (family 4) or ICMPv6 (6) type, and code. Negated: not (that type and that code). */
  | {
      readonly kind: 'icmp';
      readonly negate: boolean;
      readonly family: Family;
      readonly type: number;
      readonly code?: number;
    }
  /** Only packets of this address family. */
  | { readonly kind: 'family'; readonly family: Family };

export interface OrderedRule {
  readonly action: RuleAction;
  /** The rule's position in its kind's own list (origin comments name it: "np:shop/web:ingress[2]"). */
  readonly index: number;
  /** Empty: every peer. A peer with only a podSelector means pods of the subject's `namespace`. */
  readonly peers: readonly PolicyPeer[];
  /** Empty: every port and protocol. */
  readonly ports: readonly PolicyPort[];
  /** Further conditions, all of which must hold too; absent: none. */
  readonly conditions?: readonly RuleCondition[];
}

export interface OrderedPolicy {
  /** Unique across kinds; the names of its chains derive from it. */
  readonly key: string;
  /** What its rules' comments start with ("np:shop/web"). */
  readonly origin: string;
  readonly tier: Tier;
  /** Lower runs first within the tier (Infinity: last); equal priorities run in key order. */
  readonly priority: number;
  readonly subject: PolicySubject;
  /** Its rules per direction, in order; absent when the policy does not apply to that direction. */
  readonly ingress?: readonly OrderedRule[];
  readonly egress?: readonly OrderedRule[];
  /**
   * How it applies to host endpoints (GlobalNetworkPolicy only): before the DNAT, untracked, or also to forwarded
   * traffic. A preDNAT or doNotTrack policy applies to host endpoints only.
   */
  readonly host?: HostApplication;
  /**
   * Why the policy could not be accepted. It then fails closed, and its translator has already shaped it so:
   * it applies where it would (so a NetworkPolicy keeps isolating) and its rules only deny.
   */
  readonly problems: readonly string[];
}

export function rulesOf(p: OrderedPolicy, d: Direction): readonly OrderedRule[] | undefined {
  return d === 'ingress' ? p.ingress : p.egress;
}

/** Pipeline order: tier, then priority, then key. */
export function comparePolicies(a: OrderedPolicy, b: OrderedPolicy): number {
  const t = TIERS.indexOf(a.tier) - TIERS.indexOf(b.tier);
  if (t !== 0) return t;
  if (a.priority !== b.priority) return a.priority < b.priority ? -1 : 1;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/**
 * networking.k8s.io/v1 NetworkPolicy: the NetworkPolicy tier at priority NETWORK_POLICY_ORDER (where Calico puts it
 * among GlobalNetworkPolicies), every rule `allow`; a direction applies
 * when policyTypes lists it ("selected means isolated" is the tier's).
 */
export function fromNetworkPolicy(np: NetworkPolicy): OrderedPolicy {
  const key = policyKey(np);
  // With problems it allows nothing: no rules, and the tier isolates what it selects.
  const rules = (list: NetworkPolicy['ingress']): OrderedRule[] =>
    np.problems.length > 0
      ? []
      : list.map((r, index) => ({ action: 'allow', index, peers: r.peers, ports: r.ports }));
  return {
    key,
    origin: `np:${key}`,
    tier: 'NetworkPolicy',
    priority: NETWORK_POLICY_ORDER,
    subject: { namespace: np.namespace, podSelector: np.podSelector },
    ingress: np.policyTypes.includes('Ingress') ? rules(np.ingress) : undefined,
    egress: np.policyTypes.includes('Egress') ? rules(np.egress) : undefined,
    problems: np.problems,
  };
}

/** A ClusterNetworkPolicy's key among all policies: its kind and name (names alone could meet other kinds'). */
export function clusterPolicyOrderedKey(cnp: Pick<ClusterNetworkPolicy, 'name'>): string {
  return `cnp:${clusterPolicyKey(cnp)}`;
}

const ACTIONS: Readonly<Record<ClusterPolicyRule<unknown>['action'], RuleAction>> = {
  Accept: 'allow',
  Deny: 'deny',
  Pass: 'pass',
};

/**
 * A peer of a ClusterNetworkPolicy rule as NetworkPolicy's peer shapes say it; undefined for a peer that matches
 * nothing here (domainNames, not programmed) and 'any' for every peer. A nodes peer is the addresses of the
 * nodes its selector matches now (the index translates such policies again when nodes change).
 */
function peerOf(p: ClusterEgressPeer, nodes: readonly NodeInfo[]): PolicyPeer[] | 'any' | undefined {
  switch (p.kind) {
    case 'namespaces':
      return [{ namespaceSelector: p.namespaceSelector }];
    case 'pods':
      return [{ namespaceSelector: p.namespaceSelector, podSelector: p.podSelector }];
    case 'networks':
      return p.networks.map((cidr) => ({ ipBlock: { cidr, except: [] } }));
    case 'any':
      return 'any';
    case 'nodes':
      return nodes
        .filter((n) => selectorMatches(p.nodeSelector, n.labels ?? {}))
        .flatMap((n) =>
          n.ips.map((ip) => ({ ipBlock: { cidr: `${ip}/${ip.includes(':') ? 128 : 32}`, except: [] } })),
        );
    case 'domainNames':
      return undefined;
  }
}

/** CNP protocols as NetworkPolicy ports; a named port has no protocol of its own, so it is one per protocol. */
function portsOf(protocols: readonly ClusterPolicyProtocol[]): PolicyPort[] {
  return protocols.flatMap((p): PolicyPort[] => {
    if (p.kind === 'port') return [{ protocol: p.protocol, port: p.port }];
    if (p.kind === 'portRange') return [{ protocol: p.protocol, port: p.start, endPort: p.end }];
    return PROTOCOLS.map((protocol) => ({ protocol, port: p.name }));
  });
}

/**
 * policy.networking.k8s.io/v1alpha2 ClusterNetworkPolicy: its tier and priority, its subject, every rule with its
 * action. A rule none of whose peers matches anything here is left out (it could never match). A policy with
 * problems comes from the parser already deny-only (cluster-network-policy.ts), so it needs nothing more.
 */
export function fromClusterNetworkPolicy(
  cnp: ClusterNetworkPolicy,
  nodes: readonly NodeInfo[] = [],
): OrderedPolicy {
  const key = clusterPolicyOrderedKey(cnp);
  const rules = (list: readonly ClusterPolicyRule<ClusterEgressPeer>[]): OrderedRule[] =>
    list.flatMap((r, index): OrderedRule[] => {
      const translated = r.peers.map((p) => peerOf(p, nodes));
      const ports = portsOf(r.protocols);
      const action = ACTIONS[r.action];
      if (translated.includes('any')) return [{ action, index, peers: [], ports }];
      const peers = translated.flatMap((p) => (p === undefined || p === 'any' ? [] : p));
      return peers.length > 0 ? [{ action, index, peers, ports }] : [];
    });
  const s = cnp.subject;
  return {
    key,
    origin: key,
    tier: cnp.tier,
    priority: cnp.priority,
    subject: {
      namespaceSelector: s.namespaceSelector,
      podSelector: s.kind === 'pods' ? s.podSelector : EMPTY_SELECTOR,
    },
    // A direction without rules is one the policy does not act on (unlike NetworkPolicy, it isolates nothing).
    ...(cnp.ingress.length > 0 ? { ingress: rules(cnp.ingress) } : {}),
    ...(cnp.egress.length > 0 ? { egress: rules(cnp.egress) } : {}),
    problems: cnp.problems,
  };
}

/** Whether a ClusterNetworkPolicy has a nodes peer: its translation depends on the nodes. */
export function hasNodesPeer(cnp: ClusterNetworkPolicy): boolean {
  return [...cnp.ingress, ...cnp.egress].some((r) => r.peers.some((p) => p.kind === 'nodes'));
}
