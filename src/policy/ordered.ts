// The one form every policy kind is compiled from: who it applies to, in which tier and at which priority, and per
// direction an ordered list of rules, each with an action. Each kind has a translator into it (NetworkPolicy
// below); the compiler reads nothing else. Pure.
//
// An endpoint's direction is decided by a pipeline of tiers, in TIERS order. Within a tier, the policies that
// apply to the endpoint run in (priority, key) order and their rules in order: the first rule that matches
// decides. `allow` and `deny` end the pipeline; `pass` skips the rest of its tier. What happens when no rule of a
// tier decides is the tier's (TIER_RULES): NetworkPolicy isolates (an endpoint some policy of the tier applies to
// is denied), the others fall through to the next tier. After the last tier, the endpoint is allowed.
import type { LabelSelector, NetworkPolicy, PolicyPeer, PolicyPort } from '../model/network-policy.js';
import { policyKey } from '../model/network-policy.js';
import type { Direction } from './names.js';

export type Tier = 'Admin' | 'NetworkPolicy' | 'Baseline';
export const TIERS: readonly Tier[] = ['Admin', 'NetworkPolicy', 'Baseline'];

export type RuleAction = 'allow' | 'deny' | 'pass';

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

/** The pods a policy applies to. */
export interface PolicySubject {
  /** Only pods of this namespace (a NetworkPolicy's own); absent: any namespace `namespaceSelector` picks. */
  readonly namespace?: string;
  /** With no `namespace`: which namespaces (absent: all). */
  readonly namespaceSelector?: LabelSelector;
  readonly podSelector: LabelSelector;
}

export interface OrderedRule {
  readonly action: RuleAction;
  /** The rule's position in its kind's own list (origin comments name it: "np:shop/web:ingress[2]"). */
  readonly index: number;
  /** Empty: every peer. A peer with only a podSelector means pods of the subject's `namespace`. */
  readonly peers: readonly PolicyPeer[];
  /** Empty: every port and protocol. */
  readonly ports: readonly PolicyPort[];
}

export interface OrderedPolicy {
  /** Unique across kinds; the names of its chains derive from it. */
  readonly key: string;
  /** What its rules' comments start with ("np:shop/web"). */
  readonly origin: string;
  readonly tier: Tier;
  /** Lower runs first within the tier; equal priorities run in key order. */
  readonly priority: number;
  readonly subject: PolicySubject;
  /** Its rules per direction, in order; absent when the policy does not apply to that direction. */
  readonly ingress?: readonly OrderedRule[];
  readonly egress?: readonly OrderedRule[];
  /**
   * Why the policy could not be accepted. It then fails closed: it applies where it would (so a NetworkPolicy
   * keeps isolating), and none of its rules allows or passes anything.
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
  if (a.priority !== b.priority) return a.priority - b.priority;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/**
 * networking.k8s.io/v1 NetworkPolicy: the NetworkPolicy tier, priority 0, every rule `allow`; a direction applies
 * when policyTypes lists it ("selected means isolated" is the tier's).
 */
export function fromNetworkPolicy(np: NetworkPolicy): OrderedPolicy {
  const key = policyKey(np);
  const rules = (list: NetworkPolicy['ingress']): OrderedRule[] =>
    list.map((r, index) => ({ action: 'allow', index, peers: r.peers, ports: r.ports }));
  return {
    key,
    origin: `np:${key}`,
    tier: 'NetworkPolicy',
    priority: 0,
    subject: { namespace: np.namespace, podSelector: np.podSelector },
    ingress: np.policyTypes.includes('Ingress') ? rules(np.ingress) : undefined,
    egress: np.policyTypes.includes('Egress') ? rules(np.egress) : undefined,
    problems: np.problems,
  };
}
