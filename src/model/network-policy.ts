// networking.k8s.io/v1 NetworkPolicy as Palisade holds it: plain readonly data, validated, total.
// Pure. Parsing lives in network-policy-parse.ts; label selectors in selector.ts.
//
// Kubernetes' own encoding is kept where it carries meaning: an empty `peers` list means "all peers", an empty
// `ports` list means "all ports", an empty selector selects everything.
import type { Protocol } from './k8s.js';

export type SelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

export interface LabelSelectorRequirement {
  readonly key: string;
  readonly operator: SelectorOperator;
  /** Non-empty for In/NotIn, empty for Exists/DoesNotExist. */
  readonly values: readonly string[];
}

/** A metav1.LabelSelector: every matchLabels pair AND every expression must hold. Empty selects everything. */
export interface LabelSelector {
  readonly matchLabels: Readonly<Record<string, string>>;
  readonly matchExpressions: readonly LabelSelectorRequirement[];
}

export interface IpBlock {
  /** Canonical CIDR text, host bits zero (Kubernetes rejects host bits). */
  readonly cidr: string;
  /** CIDRs inside `cidr` that are excluded. */
  readonly except: readonly string[];
}

/**
 * One entry of `from`/`to`. Exactly one of these shapes:
 * - podSelector only: pods in the policy's namespace;
 * - namespaceSelector only: all pods in matching namespaces;
 * - both: matching pods in matching namespaces;
 * - ipBlock only.
 */
export interface PolicyPeer {
  readonly podSelector?: LabelSelector;
  readonly namespaceSelector?: LabelSelector;
  readonly ipBlock?: IpBlock;
}

export interface PolicyPort {
  /** Defaults to TCP when the manifest leaves it out. */
  readonly protocol: Protocol;
  /** A number, a named container port, or absent for every port of the protocol. */
  readonly port?: number | string;
  /** With a numeric `port`: the range port..endPort inclusive. */
  readonly endPort?: number;
}

export interface PolicyRule {
  /** `from` (ingress) or `to` (egress). Empty = every peer. */
  readonly peers: readonly PolicyPeer[];
  /** Empty = every port and protocol. */
  readonly ports: readonly PolicyPort[];
}

export type PolicyType = 'Ingress' | 'Egress';

export interface NetworkPolicy {
  readonly kind: 'NetworkPolicy';
  readonly namespace: string;
  readonly name: string;
  readonly podSelector: LabelSelector;
  /** Explicit, or inferred: Ingress always, Egress when the spec has egress rules. */
  readonly policyTypes: readonly PolicyType[];
  readonly ingress: readonly PolicyRule[];
  readonly egress: readonly PolicyRule[];
  /**
   * Why the policy could not be accepted, each naming the field and the value. A policy with problems fails
   * closed: it keeps isolating what it selects (every pod of its namespace when its podSelector is what is
   * broken; both directions when policyTypes is) and allows nothing.
   */
  readonly problems: readonly string[];
}

export const EMPTY_SELECTOR: LabelSelector = { matchLabels: {}, matchExpressions: [] };

export function policyKey(p: { namespace: string; name: string }): string {
  return `${p.namespace}/${p.name}`;
}
