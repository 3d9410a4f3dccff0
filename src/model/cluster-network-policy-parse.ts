// policy.networking.k8s.io/v1alpha2 ClusterNetworkPolicy: a decoded manifest → ClusterNetworkPolicy, validated
// as the API server does with the v0.2.0 experimental-channel CRD (its OpenAPI schema: enums, required fields,
// ranges, MaxItems/MinItems, list-type sets, one-of via Min/MaxProperties; its CEL rules: isCIDR, range
// start < end, no named ports with networks/nodes/domainNames peers), plus what the CRD leaves to
// implementations: label selectors as apimachinery validates them, named ports as IANA_SVC_NAMEs, domainNames
// only in Accept rules (as the API documents), strict field validation. Pure and total: it never throws; every
// problem names the field path and the value, and a policy with problems fails closed (see
// ClusterNetworkPolicy.problems for the shape this gives it).
//
// Order among policies is not decided here: compareClusterPolicies (cluster-network-policy.ts) orders by tier,
// priority, then name for equal priorities.
import type {
  AnyPeer,
  ClusterNetworkPolicy,
  ClusterPolicyAction,
  ClusterPolicyProtocol,
  ClusterPolicyRule,
  ClusterPolicySubject,
  ClusterPolicyTier,
} from './cluster-network-policy.js';
import { CLUSTER_POLICY_ACTIONS, CLUSTER_POLICY_TIERS } from './cluster-network-policy.js';
import {
  asObject,
  CNP_LIMITS,
  type ItemParser,
  lengthOf,
  parseList,
  present,
} from './cluster-network-policy-parse-fields.js';
import {
  EVERY_POD,
  type ParsedEgressPeer,
  type ParsedIngressPeer,
  parseEgressPeer,
  parseIngressPeer,
  parseSubject,
} from './cluster-network-policy-parse-peers.js';
import { parseProtocol } from './cluster-network-policy-parse-ports.js';
import { isDnsSubdomain, isObject, labelsProblems, showValue, unknownFieldProblems } from './k8s.js';

export const CLUSTER_NETWORK_POLICY_API_VERSION = 'policy.networking.k8s.io/v1alpha2';
export const CLUSTER_NETWORK_POLICY_GROUP = 'policy.networking.k8s.io';

type Direction = 'ingress' | 'egress';
const PEER_FIELD: Readonly<Record<Direction, 'from' | 'to'>> = { ingress: 'from', egress: 'to' };
const NO_NAMED_PORTS = ['networks', 'nodes', 'domainNames'];

/** A rule as parsed, before failing closed: `complete` when its action, peers and protocols parsed whole. */
interface Draft<P> {
  readonly name?: string;
  readonly action?: ClusterPolicyAction;
  readonly peers: readonly P[];
  readonly protocols: readonly ClusterPolicyProtocol[];
  readonly complete: boolean;
}

const BROKEN: Draft<never> = { peers: [], protocols: [], complete: false };
const ANY: AnyPeer = { kind: 'any' };

/**
 * A document this parser owns: kind ClusterNetworkPolicy, unless its apiVersion names another API group
 * (Antrea's crd.antrea.io ClusterNetworkPolicy is a different resource). A missing or group-less apiVersion is
 * ours, so parseClusterNetworkPolicy reports it.
 */
export function isClusterNetworkPolicyDoc(doc: unknown): boolean {
  if (!isObject(doc) || doc.kind !== 'ClusterNetworkPolicy') return false;
  const apiVersion = doc.apiVersion;
  if (typeof apiVersion !== 'string' || !apiVersion.includes('/')) return true;
  return apiVersion.slice(0, apiVersion.indexOf('/')) === CLUSTER_NETWORK_POLICY_GROUP;
}

function parseRuleName(raw: unknown, path: string, problems: string[]): string | undefined {
  if (!present(raw) || raw === '') return undefined;
  if (typeof raw !== 'string') problems.push(`${path}: ${showValue(raw)} must be a string`);
  else if (lengthOf(raw) > CNP_LIMITS.ruleName) {
    problems.push(`${path}: ${showValue(raw)} must be at most ${CNP_LIMITS.ruleName} characters`);
  } else return raw;
  return undefined;
}

function parseAction(raw: unknown, path: string, problems: string[]): ClusterPolicyAction | undefined {
  const action = CLUSTER_POLICY_ACTIONS.find((a) => a === raw);
  if (!present(raw)) problems.push(`${path}: required`);
  else if (!action)
    problems.push(`${path}: ${showValue(raw)} must be one of ${CLUSTER_POLICY_ACTIONS.join(', ')}`);
  return action;
}

/**
 * What the API restricts by an egress rule's peers: no named ports with networks, nodes or domainNames peers
 * (the CRD's CEL rule), domainNames only in Accept rules (documented, not in the CRD); and the domainNames
 * peers that are valid but not programmed.
 */
function egressChecks(r: Record<string, unknown>, path: string, problems: string[], notes: string[]): void {
  const to = Array.isArray(r.to) ? r.to.map((p) => (isObject(p) ? p : {})) : [];
  if (to.some((p) => NO_NAMED_PORTS.some((f) => present(p[f]))) && Array.isArray(r.protocols)) {
    for (const [i, p] of r.protocols.entries()) {
      if (!isObject(p) || !present(p.destinationNamedPort)) continue;
      problems.push(
        `${path}.protocols[${i}].destinationNamedPort: ${showValue(p.destinationNamedPort)} cannot be used ` +
          'in a rule with a networks, nodes or domainNames peer (they have no named ports)',
      );
    }
  }
  for (const [j, p] of to.entries()) {
    if (!present(p.domainNames)) continue;
    const at = `${path}.to[${j}].domainNames`;
    if (r.action === 'Accept') {
      notes.push(`${at}: not programmed (Palisade does not resolve domain names; the peer matches nothing)`);
    } else if (r.action === 'Deny' || r.action === 'Pass') {
      problems.push(`${at}: may only be used in Accept rules, not in a ${showValue(r.action)} rule`);
    }
  }
}

interface RuleKind<P> {
  readonly dir: Direction;
  readonly peer: ItemParser<P>;
}

function parseRule<P>(
  kind: RuleKind<P>,
  raw: unknown,
  path: string,
  problems: string[],
  notes: string[],
): Draft<P> {
  const { dir } = kind;
  const r = asObject(raw, path, problems);
  if (!r) return BROKEN;
  const peerField = PEER_FIELD[dir];
  const name = parseRuleName(r.name, `${path}.name`, problems);
  const before = problems.length;
  problems.push(...unknownFieldProblems(r, ['name', 'action', peerField, 'protocols'], path));
  const action = parseAction(r.action, `${path}.action`, problems);
  const peerPath = `${path}.${peerField}`;
  if (!present(r[peerField])) problems.push(`${peerPath}: required`);
  const limits = { min: 1, max: CNP_LIMITS.peers };
  const peers = parseList(r[peerField], peerPath, problems, limits, kind.peer);
  const protocols = parseList(
    r.protocols,
    `${path}.protocols`,
    problems,
    { min: 1, max: CNP_LIMITS.protocols },
    parseProtocol,
  );
  if (dir === 'egress') egressChecks(r, path, problems, notes);
  return {
    ...(name !== undefined && { name }),
    action,
    peers,
    protocols,
    complete: problems.length === before,
  };
}

/** spec.ingress or spec.egress as drafts; a field that is not a list is one broken draft. */
function parseRules<P>(kind: RuleKind<P>, raw: unknown, problems: string[], notes: string[]): Draft<P>[] {
  const path = `spec.${kind.dir}`;
  if (present(raw) && !Array.isArray(raw)) {
    problems.push(`${path}: must be a list, got ${showValue(raw)}`);
    return [BROKEN];
  }
  const limits = { min: 0, max: CNP_LIMITS.rules };
  return parseList(raw, path, problems, limits, (r, p, out) => parseRule(kind, r, p, out, notes));
}

/**
 * The rules to program. Without problems: every draft as it is. With problems (see ClusterNetworkPolicy.problems):
 * Accept rules dropped, Pass made Deny, and a draft that did not parse whole (not clearly an Accept) a Deny of
 * every peer on every port.
 */
function enforced<P>(drafts: readonly Draft<P>[], failed: boolean): ClusterPolicyRule<P | AnyPeer>[] {
  const out: ClusterPolicyRule<P | AnyPeer>[] = [];
  for (const d of drafts) {
    const named = d.name !== undefined ? { name: d.name } : {};
    if (!failed) {
      out.push({ ...named, action: d.action ?? 'Deny', peers: d.peers, protocols: d.protocols });
    } else if (d.action === 'Accept') {
      // Dropped: matches nothing.
    } else if (!d.complete) {
      out.push({ ...named, action: 'Deny', peers: [ANY], protocols: [] });
    } else {
      out.push({ ...named, action: 'Deny', peers: d.peers, protocols: d.protocols });
    }
  }
  return out;
}

interface ParsedSpec {
  tier?: ClusterPolicyTier;
  priority?: number;
  subject: ClusterPolicySubject;
  ingress: Draft<ParsedIngressPeer>[];
  egress: Draft<ParsedEgressPeer>[];
}

const INGRESS: RuleKind<ParsedIngressPeer> = { dir: 'ingress', peer: parseIngressPeer };
const EGRESS: RuleKind<ParsedEgressPeer> = { dir: 'egress', peer: parseEgressPeer };

function parsePriority(raw: unknown, problems: string[]): number | undefined {
  const max = CNP_LIMITS.priorityMax;
  if (!present(raw)) problems.push('spec.priority: required');
  else if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 0 || raw > max) {
    problems.push(`spec.priority: ${showValue(raw)} must be an integer from 0 to ${max}`);
  } else return raw;
  return undefined;
}

function parseSpec(raw: unknown, problems: string[], notes: string[]): ParsedSpec {
  if (!isObject(raw)) {
    problems.push(present(raw) ? `spec: must be an object, got ${showValue(raw)}` : 'spec: required');
    return { subject: EVERY_POD, ingress: [BROKEN], egress: [BROKEN] };
  }
  problems.push(...unknownFieldProblems(raw, ['tier', 'priority', 'subject', 'ingress', 'egress'], 'spec'));
  const tier = CLUSTER_POLICY_TIERS.find((t) => t === raw.tier);
  if (!present(raw.tier)) problems.push('spec.tier: required');
  else if (!tier) {
    problems.push(`spec.tier: ${showValue(raw.tier)} must be one of ${CLUSTER_POLICY_TIERS.join(', ')}`);
  }
  return {
    tier,
    priority: parsePriority(raw.priority, problems),
    subject: parseSubject(raw.subject, 'spec.subject', problems),
    ingress: parseRules(INGRESS, raw.ingress, problems, notes),
    egress: parseRules(EGRESS, raw.egress, problems, notes),
  };
}

function parseMetadata(raw: unknown, problems: string[]): string {
  if (!isObject(raw)) {
    problems.push(`metadata: required, got ${showValue(raw)}`);
    return '';
  }
  // metadata.namespace is ignored: the API server clears it on cluster-scoped objects.
  const { name } = raw;
  if (typeof name !== 'string' || !isDnsSubdomain(name)) {
    problems.push(
      `metadata.name: ${showValue(name)} is not a valid ClusterNetworkPolicy name (a DNS subdomain)`,
    );
  }
  problems.push(...labelsProblems(raw.labels, 'metadata.labels'));
  return typeof name === 'string' ? name : '';
}

/**
 * Validates one decoded ClusterNetworkPolicy document. Never throws. Without problems: the parsed policy, CIDRs
 * in canonical text, rules in manifest order. With problems: the fail-closed shape documented on
 * ClusterNetworkPolicy.problems (deny-only rules, the subject widened where broken, Admin/0 when unknown).
 */
export function parseClusterNetworkPolicy(doc: unknown): ClusterNetworkPolicy {
  const problems: string[] = [];
  const notProgrammed: string[] = [];
  let name = '';
  let spec: ParsedSpec = { subject: EVERY_POD, ingress: [BROKEN], egress: [BROKEN] };
  if (!isObject(doc)) {
    problems.push(`document: must be an object, got ${showValue(doc)}`);
  } else {
    if (doc.kind !== 'ClusterNetworkPolicy') {
      problems.push(`kind: ${showValue(doc.kind)} must be "ClusterNetworkPolicy"`);
    }
    if (doc.apiVersion !== CLUSTER_NETWORK_POLICY_API_VERSION) {
      problems.push(
        `apiVersion: ${showValue(doc.apiVersion)} must be "${CLUSTER_NETWORK_POLICY_API_VERSION}"`,
      );
    }
    // status is the implementations' to write: accepted and ignored.
    problems.push(...unknownFieldProblems(doc, ['apiVersion', 'kind', 'metadata', 'spec', 'status'], ''));
    name = parseMetadata(doc.metadata, problems);
    spec = parseSpec(doc.spec, problems, notProgrammed);
  }
  const failed = problems.length > 0;
  return {
    kind: 'ClusterNetworkPolicy',
    name,
    tier: spec.tier ?? 'Admin',
    priority: spec.priority ?? 0,
    subject: spec.subject,
    ingress: enforced(spec.ingress, failed),
    egress: enforced(spec.egress, failed),
    problems,
    notProgrammed,
  };
}
