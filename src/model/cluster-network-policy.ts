// policy.networking.k8s.io/v1alpha2 ClusterNetworkPolicy (sigs.k8s.io/network-policy-api v0.2.0, experimental
// channel) as Palisade holds it: plain readonly data, validated, total. Pure. Parsing lives in
// cluster-network-policy-parse.ts; label selectors are NetworkPolicy's (network-policy.ts, selector.ts).
//
// A cluster-scoped policy in one of two tiers around NetworkPolicy: Admin (before it, cannot be overridden) and
// Baseline (after it, a default that NetworkPolicy overrides). Within a tier, lower priority first
// (compareClusterPolicies); within a policy, rules in the order written, the first match deciding:
// Accept and Deny are final, Pass leaves the tier (Admin → NetworkPolicy, Baseline → the default allow).
//
// Unlike NetworkPolicy, `peers` is never "empty means all": every rule names at least one peer (were a list
// ever empty, it would match nothing). Empty `protocols` does mean every protocol and port.
import type { Protocol } from './k8s.js';
import type { LabelSelector } from './network-policy.js';

export type ClusterPolicyTier = 'Admin' | 'Baseline';
/** In evaluation order: Admin, then (NetworkPolicy, then) Baseline. */
export const CLUSTER_POLICY_TIERS: readonly ClusterPolicyTier[] = ['Admin', 'Baseline'];

export type ClusterPolicyAction = 'Accept' | 'Deny' | 'Pass';
export const CLUSTER_POLICY_ACTIONS: readonly ClusterPolicyAction[] = ['Accept', 'Deny', 'Pass'];

/** `namespaces`: every pod in the namespaces the selector matches (host-network pods never). */
export interface NamespacesSelection {
  readonly kind: 'namespaces';
  readonly namespaceSelector: LabelSelector;
}

/** `pods`: pods matching podSelector in namespaces matching namespaceSelector (host-network pods never). */
export interface PodsSelection {
  readonly kind: 'pods';
  readonly namespaceSelector: LabelSelector;
  readonly podSelector: LabelSelector;
}

/** `nodes` (experimental): the addresses in status.addresses of the nodes whose labels match. */
export interface NodesPeer {
  readonly kind: 'nodes';
  readonly nodeSelector: LabelSelector;
}

/** `networks`: CIDRs in canonical text (host bits cleared, IPv6 compressed), each once, in manifest order. */
export interface NetworksPeer {
  readonly kind: 'networks';
  readonly networks: readonly string[];
}

/**
 * `domainNames` (experimental, Accept rules only): kept as written, but Palisade does not program them (no DNS
 * snooping): such a peer matches nothing, and the policy's notProgrammed says so.
 */
export interface DomainNamesPeer {
  readonly kind: 'domainNames';
  readonly domainNames: readonly string[];
}

/**
 * Every source or destination, inside the cluster or not. Never parsed from a manifest: it appears only in a
 * policy with problems, as the peer of the Deny that stands in for a rule that did not parse (see below).
 */
export interface AnyPeer {
  readonly kind: 'any';
}

export type ClusterPolicySubject = NamespacesSelection | PodsSelection;
export type ClusterIngressPeer = NamespacesSelection | PodsSelection | AnyPeer;
export type ClusterEgressPeer =
  | NamespacesSelection
  | PodsSelection
  | NodesPeer
  | NetworksPeer
  | DomainNamesPeer
  | AnyPeer;

/** `tcp`/`udp`/`sctp` with `destinationPort.number`. */
export interface PortMatch {
  readonly kind: 'port';
  readonly protocol: Protocol;
  readonly port: number;
}

/** `tcp`/`udp`/`sctp` with `destinationPort.range`: start..end inclusive, start < end. */
export interface PortRangeMatch {
  readonly kind: 'portRange';
  readonly protocol: Protocol;
  readonly start: number;
  readonly end: number;
}

/**
 * `destinationNamedPort`: the destination pod's container port of that name, with the protocol the pod
 * declares for it. Only with pods/namespaces peers (nodes, networks and domain names have no named ports).
 */
export interface NamedPortMatch {
  readonly kind: 'namedPort';
  readonly name: string;
}

export type ClusterPolicyProtocol = PortMatch | PortRangeMatch | NamedPortMatch;

export interface ClusterPolicyRule<Peer> {
  /** The rule's name (at most 100 characters), for origin comments and status; absent when not given. */
  readonly name?: string;
  readonly action: ClusterPolicyAction;
  /** `from` (ingress) or `to` (egress): the rule matches a peer that any entry matches. */
  readonly peers: readonly Peer[];
  /** `protocols`: the rule matches a packet that any entry matches. Empty = every protocol and port. */
  readonly protocols: readonly ClusterPolicyProtocol[];
}

export type ClusterIngressRule = ClusterPolicyRule<ClusterIngressPeer>;
export type ClusterEgressRule = ClusterPolicyRule<ClusterEgressPeer>;

export interface ClusterNetworkPolicy {
  readonly kind: 'ClusterNetworkPolicy';
  /** metadata.name; also the key (clusterPolicyKey). */
  readonly name: string;
  readonly tier: ClusterPolicyTier;
  /** 0..1000, lower first within the tier. */
  readonly priority: number;
  /** The pods the rules apply to: ingress to them, egress from them. */
  readonly subject: ClusterPolicySubject;
  readonly ingress: readonly ClusterIngressRule[];
  readonly egress: readonly ClusterEgressRule[];
  /**
   * Why the policy could not be accepted, each naming the field path and the value. A policy with problems
   * FAILS CLOSED: it can only deny, never accept or pass, and it denies at least what it would have denied had
   * it parsed. The parser has already put it in that shape, so a compiler programs it like any other:
   * - rules: every Accept rule is dropped (so positions no longer match the manifest's); a Pass rule becomes a
   *   Deny of the same peers and ports (dropping it could let a later Accept of the same tier admit what was
   *   meant to go on to NetworkPolicy); a Deny rule stays. A rule that did not parse whole (its action, a peer,
   *   a protocol, or a field unknown to it) becomes a Deny of AnyPeer on every port, whatever its action was
   *   meant to be, unless it was clearly an Accept (then it is dropped like the others); a rule list that is
   *   not a list becomes one such Deny, and so does each list of a spec that is missing or not an object.
   * - subject: the part of the selection that parsed still restricts it, a part that did not is read as the
   *   empty selector: a broken podSelector selects every pod of the namespaces, a broken namespaces selector
   *   (or a subject that is not exactly one of namespaces and pods) every pod of the cluster. This is
   *   NetworkPolicy's rule (a broken podSelector isolates the whole namespace) at the CNP's scope, the cluster:
   *   a broken subject can cut traffic cluster-wide, which is the price of never letting a policy the admin
   *   wrote to deny lose its effect. Palisade's CRD (src/deploy/crds.ts) has the API server refuse most broken
   *   selectors up front (operators, label values, expression keys); matchLabels keys and manifests read outside
   *   the API server remain. Problems are reported on the policy's status.
   * - tier and priority: when they did not parse, Admin and 0, the place where a deny-only policy denies most.
   * Against the same policy without problems, or with no policy at all, nothing more is let through.
   */
  readonly problems: readonly string[];
  /**
   * Parts that are valid but that Palisade does not enforce, each naming the field path: a domainNames peer
   * (it matches nothing, so its Accept admits nothing). Reported on the status; not a problem.
   */
  readonly notProgrammed: readonly string[];
}

/**
 * The key of a cluster-scoped policy: its name, as the Kubernetes cache keys cluster-scoped objects. A name never
 * contains "/", so it never equals a NetworkPolicy's key ("namespace/name"); a table that holds several
 * cluster-scoped kinds must add the kind, as origin comments do (`cnp:NAME:ingress[0]`).
 */
export function clusterPolicyKey(p: { readonly name: string }): string {
  return p.name;
}

const TIER_RANK: Readonly<Record<ClusterPolicyTier, number>> = { Admin: 0, Baseline: 1 };

/**
 * The evaluation order of ClusterNetworkPolicies: Admin before Baseline, then priority ascending, then, for
 * equal priorities, by name in code-unit (not locale) order. The API leaves the order of equal priorities to
 * the implementation; Palisade makes it deterministic by name, so every node, and every recompilation, orders
 * the same policies the same way. Names are unique, so this is a total order.
 */
export function compareClusterPolicies(
  a: Pick<ClusterNetworkPolicy, 'tier' | 'priority' | 'name'>,
  b: Pick<ClusterNetworkPolicy, 'tier' | 'priority' | 'name'>,
): number {
  return (
    TIER_RANK[a.tier] - TIER_RANK[b.tier] ||
    a.priority - b.priority ||
    (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  );
}
