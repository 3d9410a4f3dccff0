// One GlobalNetworkPolicy rule (Calico's Rule): action, protocol, ipVersion, ICMP match and entity rules, with
// the cross-field checks Calico's CEL rules and Go validator make. Pure and total.
//
// Sources (projectcalico/calico): api/pkg/apis/projectcalico/v3/policy_common.go (Rule and ICMPFields, their
// `+kubebuilder:validation:XValidation` rules), libcalico-go/lib/validator/v3/validator.go (validateRule: ports
// need a protocol that has ports; nets of one IP family, matching ipVersion).
import { asObject, present } from './cluster-network-policy-parse-fields.js';
import type {
  EntityRule,
  GlobalPolicyAction,
  GlobalPolicyProtocol,
  GlobalPolicyRule,
  IcmpMatch,
} from './global-network-policy.js';
import { GLOBAL_POLICY_ACTIONS, supportsPorts } from './global-network-policy.js';
import { ANYWHERE, parseEntityRule, portValue } from './global-network-policy-parse-entity.js';
import { parseCalicoProtocol, protocolValue } from './global-network-policy-parse-fields.js';
import { isObject, showValue, unknownFieldProblems } from './k8s.js';

const RULE_FIELDS = [
  'action',
  'protocol',
  'notProtocol',
  'ipVersion',
  'icmp',
  'notICMP',
  'source',
  'destination',
  'http',
  'metadata',
];

/** A rule as parsed, before failing closed: `complete` when every field of it parsed and it passed every check. */
export interface RuleDraft {
  readonly action?: GlobalPolicyAction;
  readonly rule: GlobalPolicyRule;
  readonly complete: boolean;
}

/** What a rule that did not parse becomes in a policy with problems: Deny of everything. */
export const DENY_ALL: GlobalPolicyRule = { action: 'Deny', source: ANYWHERE, destination: ANYWHERE };
export const BROKEN_RULE: RuleDraft = { rule: DENY_ALL, complete: false };

function parseAction(raw: unknown, path: string, problems: string[]): GlobalPolicyAction | undefined {
  const action = GLOBAL_POLICY_ACTIONS.find((a) => a === raw);
  if (!present(raw)) problems.push(`${path}: required`);
  else if (!action)
    problems.push(`${path}: ${showValue(raw)} must be one of ${GLOBAL_POLICY_ACTIONS.join(', ')}`);
  return action;
}

function parseIpVersion(raw: unknown, path: string, problems: string[]): 4 | 6 | undefined {
  if (!present(raw)) return undefined;
  if (raw === 4 || raw === 6) return raw;
  problems.push(`${path}: ${showValue(raw)} must be 4 or 6`);
  return undefined;
}

function icmpNumber(raw: unknown, path: string, max: number, problems: string[]): number | undefined {
  if (!present(raw)) return undefined;
  if (typeof raw === 'number' && Number.isInteger(raw) && raw >= 0 && raw <= max) return raw;
  problems.push(`${path}: ${showValue(raw)} must be an integer from 0 to ${max}`);
  return undefined;
}

/** ICMPFields: type 0..254, code 0..255 only with a type (CEL). Neither: no ICMP constraint (undefined). */
function parseIcmp(raw: unknown, path: string, problems: string[]): IcmpMatch | undefined {
  if (!present(raw)) return undefined;
  const r = asObject(raw, path, problems);
  if (!r) return undefined;
  problems.push(...unknownFieldProblems(r, ['type', 'code'], path));
  const type = icmpNumber(r.type, `${path}.type`, 254, problems);
  const code = icmpNumber(r.code, `${path}.code`, 255, problems);
  if (present(r.code) && !present(r.type)) {
    problems.push(`${path}.code: ${showValue(r.code)} may only be given with a type`);
  }
  if (type === undefined) return undefined;
  return code === undefined ? { type } : { type, code };
}

/** Rule metadata: only annotations (a map of strings), which do not change what the rule does. */
function metadataProblems(raw: unknown, path: string): string[] {
  if (!present(raw)) return [];
  if (!isObject(raw)) return [`${path}: ${showValue(raw)} must be an object`];
  const out = unknownFieldProblems(raw, ['annotations'], path);
  const a = raw.annotations;
  if (present(a) && (!isObject(a) || Object.values(a).some((v) => typeof v !== 'string'))) {
    out.push(`${path}.annotations: ${showValue(a)} must be a map of strings`);
  }
  return out;
}

const isProtocol = (p: GlobalPolicyProtocol | undefined, name: string, n: number): boolean =>
  p !== undefined && (p.kind === 'named' ? p.name === name : p.number === n);

/** CEL: icmp needs protocol ICMP or ICMPv6; ICMP (1) needs ipVersion 4, ICMPv6 (58) 6, as protocol or notProtocol. */
function icmpProblems(rule: GlobalPolicyRule, icmp: unknown, path: string): string[] {
  const out: string[] = [];
  const p = rule.protocol;
  if (present(icmp) && !isProtocol(p, 'ICMP', 1) && !isProtocol(p, 'ICMPv6', 58)) {
    const got = p ? `, got protocol ${showValue(protocolValue(p))}` : '';
    out.push(`${path}.icmp: ${showValue(icmp)} needs protocol ICMP or ICMPv6${got}`);
  }
  for (const field of ['protocol', 'notProtocol'] as const) {
    const q = rule[field];
    const v = rule.ipVersion;
    if (!q || v === undefined) continue;
    const want = isProtocol(q, 'ICMP', 1) ? 4 : isProtocol(q, 'ICMPv6', 58) ? 6 : v;
    if (want !== v) {
      out.push(
        `${path}.ipVersion: ${v} does not match ${field} ${showValue(protocolValue(q))} (IPv${want} only)`,
      );
    }
  }
  return out;
}

/**
 * validateRule: numeric ports and ranges need a protocol, and a protocol given must have ports (TCP, UDP, SCTP)
 * for any port, named or not. A named port alone may go without a protocol.
 */
function portProblems(rule: GlobalPolicyRule, path: string): string[] {
  const out: string[] = [];
  const p = rule.protocol;
  for (const side of ['source', 'destination'] as const) {
    for (const field of ['ports', 'notPorts'] as const) {
      const ports = rule[side][field];
      const shown = `${path}.${side}.${field}: ${showValue(ports.map(portValue))}`;
      if (p && !supportsPorts(p) && ports.length > 0) {
        out.push(
          `${shown} cannot be used with protocol ${showValue(protocolValue(p))} (only TCP, UDP and SCTP have ports)`,
        );
      } else if (!p && ports.some((x) => x.kind === 'range')) {
        out.push(`${shown} needs protocol TCP, UDP or SCTP (numeric ports and ranges do)`);
      }
    }
  }
  return out;
}

/** validateRule's nets scan: every nets/notNets of the rule in one IP family, and that of ipVersion if given. */
function netsProblems(rule: GlobalPolicyRule, path: string): string[] {
  const out: string[] = [];
  const seen = new Set<4 | 6>();
  for (const side of ['source', 'destination'] as const) {
    for (const field of ['nets', 'notNets'] as const) {
      const nets = rule[side][field];
      const families = new Set(nets.map((n): 4 | 6 => (n.includes(':') ? 6 : 4)));
      const shown = `${path}.${side}.${field}: ${showValue(nets)}`;
      const v = rule.ipVersion;
      if (v !== undefined && [...families].some((f) => f !== v)) {
        out.push(`${shown} does not match ipVersion ${v}`);
      }
      for (const f of families) seen.add(f);
      if (families.size > 0 && seen.size > 1) out.push(`${shown} mixes IPv4 and IPv6 CIDRs in one rule`);
    }
  }
  return out;
}

function parseEnd(
  r: Record<string, unknown>,
  field: 'source' | 'destination',
  path: string,
  problems: string[],
): EntityRule {
  return parseEntityRule(r[field], `${path}.${field}`, problems);
}

/** One entry of `ingress`/`egress`. */
export function parseRule(raw: unknown, path: string, problems: string[]): RuleDraft {
  const r = asObject(raw, path, problems);
  if (!r) return BROKEN_RULE;
  const before = problems.length;
  problems.push(...unknownFieldProblems(r, RULE_FIELDS, path));
  const action = parseAction(r.action, `${path}.action`, problems);
  const protocol = present(r.protocol)
    ? parseCalicoProtocol(r.protocol, `${path}.protocol`, problems)
    : undefined;
  const notProtocol = present(r.notProtocol)
    ? parseCalicoProtocol(r.notProtocol, `${path}.notProtocol`, problems)
    : undefined;
  const ipVersion = parseIpVersion(r.ipVersion, `${path}.ipVersion`, problems);
  const icmp = parseIcmp(r.icmp, `${path}.icmp`, problems);
  const notICMP = parseIcmp(r.notICMP, `${path}.notICMP`, problems);
  if (present(r.http)) problems.push(`${path}.http: ${showValue(r.http)} is not supported by Palisade`);
  problems.push(...metadataProblems(r.metadata, `${path}.metadata`));
  const rule: GlobalPolicyRule = {
    action: action ?? 'Deny',
    ...(protocol && { protocol }),
    ...(notProtocol && { notProtocol }),
    ...(ipVersion !== undefined && { ipVersion }),
    ...(icmp && { icmp }),
    ...(notICMP && { notICMP }),
    source: parseEnd(r, 'source', path, problems),
    destination: parseEnd(r, 'destination', path, problems),
  };
  // The checks across fields need the protocol as written: a broken one is its own problem, not theirs too.
  if (!present(r.protocol) || protocol) {
    problems.push(...icmpProblems(rule, r.icmp, path), ...portProblems(rule, path));
  }
  problems.push(...netsProblems(rule, path));
  return { action, rule, complete: problems.length === before };
}
