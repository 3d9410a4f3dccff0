// A GlobalNetworkPolicy rule's `source`/`destination` (Calico's EntityRule): nets, selectors and ports, validated
// as Calico's CRD schema, CEL rules and Go validator do. Pure and total.
//
// Sources (projectcalico/calico): api/pkg/apis/projectcalico/v3/policy_common.go (EntityRule: MaxItems, set
// lists, CEL rules), api/pkg/lib/numorstring/port.go (PortFromString), libcalico-go/lib/validator/v3/validator.go
// (validateIPNetwork for `net`, validatePort, validateRule's nets scan, validateEntityRule).
import { CidrError, formatCidr, parseCidr, parseIp } from './cidr.js';
import { asObject, parseList, present } from './cluster-network-policy-parse-fields.js';
import type { EntityRule, GlobalPolicyPort, ParsedSelector } from './global-network-policy.js';
import { duplicateProblems, parseSelectorField } from './global-network-policy-parse-fields.js';
import { showValue, unknownFieldProblems } from './k8s.js';

export const ENTITY_RULE_FIELDS = [
  'nets',
  'notNets',
  'selector',
  'notSelector',
  'namespaceSelector',
  'ports',
  'notPorts',
  'serviceAccounts',
  'services',
] as const;
/** Calico has these; Palisade does not enforce them, so a rule using one is a problem. */
const UNSUPPORTED = ['serviceAccounts', 'services'] as const;

export const ENTITY_LIMITS = { nets: 256, ports: 50 } as const;

/** An empty EntityRule: matches every packet. */
export const ANYWHERE: EntityRule = { nets: [], notNets: [], ports: [], notPorts: [] };

/** numorstring's nameRegex for a named port in a rule. */
const PORT_NAME = /^[a-zA-Z0-9_.-]{1,128}$/;
const PORT_RANGE = /^(\d+):(\d+)$/;

const isPort = (n: number): boolean => Number.isInteger(n) && n >= 1 && n <= 65535;

/**
 * One `nets`/`notNets` entry as canonical text. Calico's `net` validator (validateIPNetwork) takes a CIDR whose
 * host bits are clear, or a bare address as a full-length prefix (/32, /128), which is also how Felix reads one
 * (updateprocessors/rules.go, ParseCIDROrIP). validateRule's scan of the same lists parses with net.ParseCIDR,
 * which would refuse the bare address on the projectcalico.org/v3 API server; we accept it (see the parser's
 * header: refusing would fail a policy closed over a value every data path reads one way).
 */
function parseNet(raw: unknown, path: string, problems: string[]): string | undefined {
  if (typeof raw !== 'string') {
    problems.push(`${path}: ${showValue(raw)} is not a CIDR`);
    return undefined;
  }
  try {
    const cidr = parseCidr(raw);
    const address = parseIp(raw.includes('/') ? raw.slice(0, raw.indexOf('/')) : raw);
    if (address.value === cidr.network) return formatCidr(cidr);
    problems.push(`${path}: ${showValue(raw)} has host bits set (the network is ${formatCidr(cidr)})`);
  } catch (err) {
    if (!(err instanceof CidrError)) throw err;
    problems.push(`${path}: ${showValue(raw)} is not a CIDR`);
  }
  return undefined;
}

/** `nets`/`notNets`: a set of at most 256 CIDRs; notNets may not hold a catch-all (validateRule: it matches nothing). */
function parseNets(raw: unknown, path: string, problems: string[], negated: boolean): string[] {
  const nets = parseList(raw, path, problems, { min: 0, max: ENTITY_LIMITS.nets }, parseNet);
  if (Array.isArray(raw)) problems.push(...duplicateProblems(raw, path));
  if (negated && nets.some((n) => n.endsWith('/0'))) {
    problems.push(`${path}: ${showValue(raw)} holds a catch-all CIDR, so the rule would match no traffic`);
  }
  return nets;
}

/** One `ports`/`notPorts` entry (numorstring.Port): 80, "80", "1000:2000" (from <= to) or a port name. */
function parsePort(raw: unknown, path: string, problems: string[]): GlobalPolicyPort | undefined {
  const range = typeof raw === 'string' ? PORT_RANGE.exec(raw) : null;
  const single =
    typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (range) {
    const from = Number(range[1]);
    const to = Number(range[2]);
    if (isPort(from) && isPort(to) && from <= to) return { kind: 'range', from, to };
    problems.push(`${path}: ${showValue(raw)} must be a range "from:to" of ports 1 to 65535 with from <= to`);
  } else if (!Number.isNaN(single)) {
    if (isPort(single)) return { kind: 'range', from: single, to: single };
    problems.push(`${path}: ${showValue(raw)} must be a port number from 1 to 65535`);
  } else if (typeof raw === 'string' && PORT_NAME.test(raw)) {
    return { kind: 'named', name: raw };
  } else {
    problems.push(`${path}: ${showValue(raw)} is not a port number, a range "from:to" or a port name`);
  }
  return undefined;
}

/** A port as a manifest writes it: a number, "from:to", or the name. */
export function portValue(p: GlobalPolicyPort): number | string {
  if (p.kind === 'named') return p.name;
  return p.from === p.to ? p.from : `${p.from}:${p.to}`;
}

/**
 * `namespaceSelector`: a Calico selector; global() must stand alone (validateEntityRule: "If the
 * namespaceSelector contains global(), then it should be the only selector").
 */
function parseNamespaceSelector(raw: unknown, path: string, problems: string[]): ParsedSelector | undefined {
  const s = parseSelectorField(raw, path, problems);
  if (!s?.text.includes('global(') || s.text.trim() === 'global()') return s;
  problems.push(`${path}: ${showValue(s.text)} may use global() only alone`);
  return undefined;
}

/** `source` or `destination`: absent or null is ANYWHERE. */
export function parseEntityRule(raw: unknown, path: string, problems: string[]): EntityRule {
  if (!present(raw)) return ANYWHERE;
  const r = asObject(raw, path, problems);
  if (!r) return ANYWHERE;
  problems.push(...unknownFieldProblems(r, ENTITY_RULE_FIELDS, path));
  for (const f of UNSUPPORTED) {
    if (present(r[f])) problems.push(`${path}.${f}: ${showValue(r[f])} is not supported by Palisade`);
  }
  const ports = { min: 0, max: ENTITY_LIMITS.ports };
  const selector = parseSelectorField(r.selector, `${path}.selector`, problems, { noGlobal: true });
  const notSelector = parseSelectorField(r.notSelector, `${path}.notSelector`, problems);
  const namespaceSelector = parseNamespaceSelector(
    r.namespaceSelector,
    `${path}.namespaceSelector`,
    problems,
  );
  return {
    nets: parseNets(r.nets, `${path}.nets`, problems, false),
    notNets: parseNets(r.notNets, `${path}.notNets`, problems, true),
    ...(selector && { selector }),
    ...(notSelector && { notSelector }),
    ...(namespaceSelector && { namespaceSelector }),
    ports: parseList(r.ports, `${path}.ports`, problems, ports, parsePort),
    notPorts: parseList(r.notPorts, `${path}.notPorts`, problems, ports, parsePort),
  };
}
