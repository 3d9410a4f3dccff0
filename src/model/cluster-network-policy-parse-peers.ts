// The selections and peers of a ClusterNetworkPolicy: the subject, pods and namespaces peers, and the egress-only
// peers (nodes, networks, domainNames), validated as the v0.2.0 CRD's schema and CEL rules have the API server do
// (see cluster-network-policy-parse.ts). Pure and total: problems are pushed, each naming the field path and the
// value, never thrown.
import { CidrError, formatCidr, parseCidr, parseIp } from './cidr.js';
import type {
  AnyPeer,
  ClusterEgressPeer,
  ClusterPolicySubject,
  NamespacesSelection,
  PodsSelection,
} from './cluster-network-policy.js';
import {
  asObject,
  CNP_LIMITS,
  exactlyOne,
  type ItemParser,
  lengthOf,
  parseList,
  present,
} from './cluster-network-policy-parse-fields.js';
import { showValue, unknownFieldProblems } from './k8s.js';
import { EMPTY_SELECTOR } from './network-policy.js';
import { parseLabelSelector } from './selector.js';

export const INGRESS_PEER_FIELDS = ['namespaces', 'pods'] as const;
export const EGRESS_PEER_FIELDS = ['namespaces', 'pods', 'nodes', 'networks', 'domainNames'] as const;

/**
 * The CRD's DomainName pattern, in meaning: an optional "*." then two or more labels, an optional final dot.
 * Its first-character class is written [a-zA-z0-9] upstream, and A-z also spans [ \ ] ^ _ `; so is this one.
 */
const DOMAIN_LABEL_START = '[0-9a-zA-z]';
const DOMAIN_LABEL = `${DOMAIN_LABEL_START}(?:[-a-zA-Z0-9_]*[a-zA-Z0-9])?`;
export const DOMAIN_NAME_PATTERN = `^(\\*\\.)?(${DOMAIN_LABEL}\\.)+${DOMAIN_LABEL}\\.?$`;
const DOMAIN_NAME = new RegExp(DOMAIN_NAME_PATTERN);

/** Every pod of the cluster: the subject read from a subject that did not parse (failing closed). */
export const EVERY_POD: NamespacesSelection = { kind: 'namespaces', namespaceSelector: EMPTY_SELECTOR };

/** A peer as a manifest can write it (AnyPeer only ever stands in for a rule that did not parse). */
export type ParsedEgressPeer = Exclude<ClusterEgressPeer, AnyPeer>;
export type ParsedIngressPeer = NamespacesSelection | PodsSelection;

/** A selector that must be valid where present; absent or broken reads as the empty one (everything). */
function widened(raw: unknown, path: string, problems: string[]) {
  return parseLabelSelector(raw, path, problems) ?? EMPTY_SELECTOR;
}

function parsePods(raw: unknown, path: string, problems: string[]): PodsSelection {
  const r = asObject(raw, path, problems);
  if (!r) return { kind: 'pods', namespaceSelector: EMPTY_SELECTOR, podSelector: EMPTY_SELECTOR };
  problems.push(...unknownFieldProblems(r, ['namespaceSelector', 'podSelector'], path));
  if (!present(r.podSelector)) problems.push(`${path}.podSelector: required`);
  return {
    kind: 'pods',
    namespaceSelector: widened(r.namespaceSelector, `${path}.namespaceSelector`, problems),
    podSelector: widened(r.podSelector, `${path}.podSelector`, problems),
  };
}

/** A peer or subject field known to be set; what parsed, widened where it did not. */
function parseField(field: string, raw: unknown, path: string, problems: string[]): ParsedEgressPeer {
  switch (field) {
    case 'pods':
      return parsePods(raw, path, problems);
    case 'nodes':
      return { kind: 'nodes', nodeSelector: widened(raw, path, problems) };
    case 'networks':
      return { kind: 'networks', networks: parseNetworks(raw, path, problems) };
    case 'domainNames':
      return { kind: 'domainNames', domainNames: parseDomainNames(raw, path, problems) };
    default:
      return { kind: 'namespaces', namespaceSelector: widened(raw, path, problems) };
  }
}

/** One peer or subject: exactly one of `fields`, strict fields. Every set field is checked for its problems. */
function parseOneOf(
  raw: unknown,
  fields: readonly string[],
  path: string,
  problems: string[],
): ParsedEgressPeer | undefined {
  const r = asObject(raw, path, problems);
  if (!r) return undefined;
  problems.push(...unknownFieldProblems(r, fields, path));
  const chosen = exactlyOne(r, fields, path, problems);
  let out: ParsedEgressPeer | undefined;
  for (const f of fields) {
    if (!present(r[f])) continue;
    const v = parseField(f, r[f], `${path}.${f}`, problems);
    if (f === chosen) out = v;
  }
  return out;
}

/** spec.subject, always a selection: a part that did not parse is widened (see ClusterNetworkPolicy.problems). */
export function parseSubject(raw: unknown, path: string, problems: string[]): ClusterPolicySubject {
  if (!present(raw)) {
    problems.push(`${path}: required`);
    return EVERY_POD;
  }
  return parseIngressPeer(raw, path, problems) ?? EVERY_POD;
}

/** A peer of an ingress rule's `from`: exactly one of namespaces, pods. */
export const parseIngressPeer: ItemParser<ParsedIngressPeer> = (raw, path, problems) => {
  const p = parseOneOf(raw, INGRESS_PEER_FIELDS, path, problems);
  return p?.kind === 'namespaces' || p?.kind === 'pods' ? p : undefined;
};

/** A peer of an egress rule's `to`: exactly one of namespaces, pods, nodes, networks, domainNames. */
export const parseEgressPeer: ItemParser<ParsedEgressPeer> = (raw, path, problems) =>
  parseOneOf(raw, EGRESS_PEER_FIELDS, path, problems);

/** A CIDR as Kubernetes' CEL isCIDR reads it (Go's netip.ParsePrefix, no IPv4-mapped IPv6), or the problem. */
function cidrProblem(text: string): string | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return `${showValue(text)} is not a CIDR (it has no prefix length)`;
  const bits = text.slice(slash + 1);
  if (!/^(0|[1-9]\d{0,2})$/.test(bits)) return `${showValue(text)} has an invalid prefix length`;
  try {
    parseCidr(text);
    const addr = parseIp(text.slice(0, slash));
    if (addr.family === 6 && addr.value >> 32n === 0xffffn) {
      return `${showValue(text)} must not be an IPv4-mapped IPv6 address`;
    }
  } catch (err) {
    if (err instanceof CidrError) return err.message;
    throw err;
  }
  return undefined;
}

/** Canonical CIDRs: host bits cleared (the API accepts them set), each once; a repeated entry is a problem. */
function parseNetworks(raw: unknown, path: string, problems: string[]): string[] {
  const limits = { min: 1, max: CNP_LIMITS.networks };
  const seen = new Set<string>();
  const texts = parseList(raw, path, problems, limits, (text, p, out) => {
    if (typeof text !== 'string') {
      out.push(`${p}: ${showValue(text)} must be a CIDR string`);
      return undefined;
    }
    const why =
      lengthOf(text) > CNP_LIMITS.cidrLength
        ? `${showValue(text)} must be at most ${CNP_LIMITS.cidrLength} characters`
        : seen.has(text)
          ? `${showValue(text)} is listed twice`
          : cidrProblem(text);
    seen.add(text);
    if (why) out.push(`${p}: ${why}`);
    return why ? undefined : formatCidr(parseCidr(text));
  });
  return [...new Set(texts)];
}

function parseDomainNames(raw: unknown, path: string, problems: string[]): string[] {
  const limits = { min: 1, max: CNP_LIMITS.domainNames };
  const seen = new Set<unknown>();
  return parseList(raw, path, problems, limits, (name, p, out) => {
    const why =
      typeof name !== 'string' || !DOMAIN_NAME.test(name)
        ? `${showValue(name)} is not a domain name (two or more DNS labels, optionally after "*.")`
        : seen.has(name)
          ? `${showValue(name)} is listed twice`
          : undefined;
    seen.add(name);
    if (why) out.push(`${p}: ${why}`);
    return why ? undefined : (name as string);
  });
}
