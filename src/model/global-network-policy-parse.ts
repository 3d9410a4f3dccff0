// Calico's GlobalNetworkPolicy (palisade.dev/v1, crd.projectcalico.org/v1, projectcalico.org/v3): a decoded
// manifest → GlobalNetworkPolicy, validated as Calico's CRD schema, CEL rules and Go validator do (sources in
// each file's header; projectcalico/calico api/pkg/apis/projectcalico/v3/globalnetworkpolicy.go for the spec).
// Pure and total: it never throws; every problem names the field path and the value, all are reported at once,
// and a policy with problems fails closed (GlobalNetworkPolicy.problems describes the shape).
//
// Where Calico left a choice open:
// - `types` absent (or []): Calico's default from the rules present (api/pkg/defaults/networkpolicy.go,
//   defaultPolicyTypesField; the docs' table): egress rules but no ingress → [Egress]; both → [Ingress, Egress];
//   otherwise [Ingress]. An empty list is defaulted too, as that function does ("empty or nil").
// - nets: a bare address is a /32 or /128 (validator.go's `net` tag, Felix's ParseCIDROrIP); host bits set is a
//   problem (validateIPNetwork wants the network address) — see global-network-policy-parse-entity.ts.
// - ports: protocol TCP, UDP or SCTP (numorstring.Protocol.SupportsPorts), not UDPLite; a named port may go
//   without a protocol (validateRule). A port name is Calico's (numorstring nameRegex), not an IANA_SVC_NAME.
// - `notICMP` needs no ICMP protocol: Calico's CEL rule checks only `icmp`.
// - What Calico has and Palisade does not enforce is a problem unless it is the default: `tier` other than
//   "default", `serviceAccountSelector` other than all(), a rule's `http`, an EntityRule's `services` or
//   `serviceAccounts`. `performanceHints` never change enforcement (Calico's docs), so valid ones are accepted.
// - A broken `applyOnForward` reads as true: the policy then applies at least as widely as it could.
import { asObject, parseList, present } from './cluster-network-policy-parse-fields.js';
import type {
  CalicoCompatGroup,
  GlobalNetworkPolicy,
  GlobalPolicyRule,
  GlobalPolicyType,
  ParsedSelector,
} from './global-network-policy.js';
import {
  ALL,
  duplicateProblems,
  parseCalicoGroup,
  parseFlag,
  parseSelectorField,
} from './global-network-policy-parse-fields.js';
import { BROKEN_RULE, DENY_ALL, parseRule, type RuleDraft } from './global-network-policy-parse-rule.js';
import { isObject, labelsProblems, showValue, unknownFieldProblems } from './k8s.js';

const SPEC_FIELDS = [
  'order',
  'selector',
  'namespaceSelector',
  'types',
  'ingress',
  'egress',
  'preDNAT',
  'applyOnForward',
  'doNotTrack',
  'tier',
  'serviceAccountSelector',
  'performanceHints',
];
const TYPES: readonly GlobalPolicyType[] = ['Ingress', 'Egress'];
/** MaxItems on ingress and egress. */
export const MAX_RULES = 1024;
/** validator.go's globalNetworkPolicyNameRegex: a DNS label, optionally one more after a dot. */
const GNP_NAME = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const HINTS = ['AssumeNeededOnEveryNode'];

interface ParsedSpec {
  readonly order?: number;
  readonly selector: ParsedSelector;
  readonly namespaceSelector?: ParsedSelector;
  readonly types: readonly GlobalPolicyType[];
  readonly ingress: readonly RuleDraft[];
  readonly egress: readonly RuleDraft[];
  readonly preDNAT: boolean;
  readonly applyOnForward: boolean;
  readonly doNotTrack: boolean;
}

/** No spec: every endpoint, both directions, deny everything. */
const BROKEN_SPEC: ParsedSpec = {
  selector: ALL,
  types: TYPES,
  ingress: [BROKEN_RULE],
  egress: [BROKEN_RULE],
  preDNAT: false,
  applyOnForward: true,
  doNotTrack: false,
};

/** Calico's default `types` (defaultPolicyTypesField). */
function defaultTypes(ingress: number, egress: number): GlobalPolicyType[] {
  if (egress === 0) return ['Ingress'];
  return ingress === 0 ? ['Egress'] : ['Ingress', 'Egress'];
}

function parseType(raw: unknown, path: string, problems: string[]): GlobalPolicyType | undefined {
  const t = TYPES.find((x) => x === raw);
  if (!t) problems.push(`${path}: ${showValue(raw)} must be one of ${TYPES.join(', ')}`);
  return t;
}

/** Explicit `types` in canonical order; undefined when absent or empty; both when broken. */
function parseTypes(raw: unknown, problems: string[]): readonly GlobalPolicyType[] | undefined {
  if (!present(raw) || (Array.isArray(raw) && raw.length === 0)) return undefined;
  const before = problems.length;
  const types = parseList(raw, 'spec.types', problems, { min: 0, max: 2 }, parseType);
  if (Array.isArray(raw)) problems.push(...duplicateProblems(raw, 'spec.types'));
  return problems.length > before ? TYPES : TYPES.filter((t) => types.includes(t));
}

/** ingress or egress: a list of at most 1024 rules; anything else but a list is one broken rule. */
function parseRules(raw: unknown, path: string, problems: string[]): RuleDraft[] {
  if (present(raw) && !Array.isArray(raw)) {
    problems.push(`${path}: must be a list, got ${showValue(raw)}`);
    return [BROKEN_RULE];
  }
  return parseList(raw, path, problems, { min: 0, max: MAX_RULES }, parseRule);
}

function parseOrder(raw: unknown, problems: string[]): number | undefined {
  if (!present(raw)) return undefined;
  if (typeof raw === 'number' && Number.isFinite(raw)) return raw;
  problems.push(`spec.order: ${showValue(raw)} must be a number`);
  return undefined;
}

/** The fields Palisade does not enforce: a problem unless they say what Calico does by default. */
function unenforcedProblems(spec: Record<string, unknown>, problems: string[]): void {
  const { tier, performanceHints: hints } = spec;
  if (present(tier) && tier !== '' && tier !== 'default') {
    problems.push(`spec.tier: ${showValue(tier)} is not supported (Palisade has only the default tier)`);
  }
  const path = 'spec.serviceAccountSelector';
  const sa = parseSelectorField(spec.serviceAccountSelector, path, problems, { noGlobal: true });
  if (sa && sa.selector.kind !== 'all') {
    problems.push(`${path}: ${showValue(sa.text)} is not supported by Palisade (only all() is)`);
  }
  const validHints =
    Array.isArray(hints) && hints.every((h) => HINTS.includes(h)) && new Set(hints).size === hints.length;
  if (present(hints) && !validHints) {
    problems.push(
      `spec.performanceHints: ${showValue(hints)} must be a list of distinct ${HINTS.join(', ')}`,
    );
  }
}

/** globalnetworkpolicy.go's CEL rules on preDNAT, doNotTrack and applyOnForward. */
function flagProblems(spec: Record<string, unknown>, parsed: ParsedSpec): string[] {
  const out: string[] = [];
  const { egress, types } = spec;
  if (parsed.preDNAT && Array.isArray(egress) && egress.length > 0) {
    out.push(`spec.egress: ${showValue(egress)} must be empty in a preDNAT policy`);
  }
  if (parsed.preDNAT && Array.isArray(types) && types.includes('Egress')) {
    out.push(`spec.types: ${showValue(types)} may not include Egress in a preDNAT policy`);
  }
  if (parsed.preDNAT && parsed.doNotTrack) {
    out.push('spec.doNotTrack: true cannot be combined with preDNAT: true');
  }
  if ((parsed.preDNAT || parsed.doNotTrack) && !parsed.applyOnForward) {
    const which = parsed.preDNAT ? 'preDNAT' : 'doNotTrack';
    out.push(
      `spec.applyOnForward: ${showValue(spec.applyOnForward ?? false)} must be true with ${which}: true`,
    );
  }
  return out;
}

function parseSpec(raw: unknown, problems: string[]): ParsedSpec {
  if (!present(raw)) problems.push('spec: required');
  const spec = present(raw) ? asObject(raw, 'spec', problems) : undefined;
  if (!spec) return BROKEN_SPEC;
  problems.push(...unknownFieldProblems(spec, SPEC_FIELDS, 'spec'));
  unenforcedProblems(spec, problems);
  const selector = parseSelectorField(spec.selector, 'spec.selector', problems, { noGlobal: true });
  const nsPath = 'spec.namespaceSelector';
  const namespaceSelector = parseSelectorField(spec.namespaceSelector, nsPath, problems, { noGlobal: true });
  const types = parseTypes(spec.types, problems);
  const ingress = parseRules(spec.ingress, 'spec.ingress', problems);
  const egress = parseRules(spec.egress, 'spec.egress', problems);
  const order = parseOrder(spec.order, problems);
  const parsed: ParsedSpec = {
    ...(order !== undefined && { order }),
    selector: selector ?? ALL,
    ...(namespaceSelector && { namespaceSelector }),
    types: types ?? defaultTypes(ingress.length, egress.length),
    ingress,
    egress,
    preDNAT: parseFlag(spec.preDNAT, 'spec.preDNAT', problems, false),
    applyOnForward: parseFlag(spec.applyOnForward, 'spec.applyOnForward', problems, true),
    doNotTrack: parseFlag(spec.doNotTrack, 'spec.doNotTrack', problems, false),
  };
  problems.push(...flagProblems(spec, parsed));
  return parsed;
}

function parseMetadata(raw: unknown, problems: string[]): string {
  if (!isObject(raw)) {
    problems.push(`metadata: required, got ${showValue(raw)}`);
    return '';
  }
  const { name } = raw;
  if (typeof name !== 'string' || name.length > 253 || !GNP_NAME.test(name)) {
    problems.push(
      `metadata.name: ${showValue(name)} is not a valid GlobalNetworkPolicy name (a DNS label, or two joined by a dot)`,
    );
  }
  problems.push(...labelsProblems(raw.labels, 'metadata.labels'));
  return typeof name === 'string' ? name : '';
}

/**
 * The rules to enforce. Without problems: every rule as parsed. With problems: Allow, Pass and Log dropped, a
 * rule that did not parse whole a Deny of everything, whole Deny rules as they are.
 */
function enforced(drafts: readonly RuleDraft[], failed: boolean): GlobalPolicyRule[] {
  if (!failed) return drafts.map((d) => d.rule);
  return drafts.flatMap((d) => {
    if (d.action === 'Allow' || d.action === 'Pass' || d.action === 'Log') return [];
    return [d.complete ? d.rule : DENY_ALL];
  });
}

/**
 * Validates one decoded GlobalNetworkPolicy document. Never throws. Without problems: the parsed policy (CIDRs
 * canonical, selectors parsed with their text, Calico's default types). With problems: the fail-closed shape
 * documented on GlobalNetworkPolicy.problems.
 */
export function parseGlobalNetworkPolicy(doc: unknown): GlobalNetworkPolicy {
  const problems: string[] = [];
  let group: CalicoCompatGroup = 'palisade.dev';
  let name = '';
  let spec = BROKEN_SPEC;
  if (!isObject(doc)) {
    problems.push(`document: must be an object, got ${showValue(doc)}`);
  } else {
    group = parseCalicoGroup(doc.apiVersion, problems);
    if (doc.kind !== 'GlobalNetworkPolicy') {
      problems.push(`kind: ${showValue(doc.kind)} must be "GlobalNetworkPolicy"`);
    }
    // status: what the agents report (conditions); never read as policy.
    problems.push(...unknownFieldProblems(doc, ['apiVersion', 'kind', 'metadata', 'spec', 'status'], ''));
    name = parseMetadata(doc.metadata, problems);
    spec = parseSpec(doc.spec, problems);
  }
  const failed = problems.length > 0;
  return {
    kind: 'GlobalNetworkPolicy',
    group,
    name,
    ...(spec.order !== undefined && { order: spec.order }),
    selector: spec.selector,
    ...(spec.namespaceSelector && { namespaceSelector: spec.namespaceSelector }),
    types: spec.types,
    ingress: enforced(spec.ingress, failed),
    egress: enforced(spec.egress, failed),
    preDNAT: !failed && spec.preDNAT,
    applyOnForward: spec.applyOnForward,
    doNotTrack: !failed && spec.doNotTrack,
    problems,
  };
}
