// Field helpers shared by the Calico-compatible parsers (GlobalNetworkPolicy, HostEndpoint): the API groups they
// are served as, Calico's selector fields, Calico's protocol field (numorstring.Protocol) and set-like lists.
// Pure and total: every function pushes its problems and never throws.
//
// Sources (projectcalico/calico): api/pkg/apis/projectcalico/v3/{globalnetworkpolicy,policy_common}.go for the
// fields and their CRD limits, api/pkg/lib/numorstring/{protocol,uint8orstring}.go for protocols,
// libcalico-go/lib/validator/v3/validator.go for what the API server rejects.
import { parseCalicoSelector } from './calico-selector.js';
import { present } from './cluster-network-policy-parse-fields.js';
import type { CalicoCompatGroup, GlobalPolicyProtocol, ParsedSelector } from './global-network-policy.js';
import { showValue } from './k8s.js';

/** The apiVersions each Calico-compatible kind is read from, and the group each names. */
export const CALICO_API_VERSIONS: Readonly<Record<string, CalicoCompatGroup>> = {
  'palisade.dev/v1': 'palisade.dev',
  'crd.projectcalico.org/v1': 'crd.projectcalico.org',
  'projectcalico.org/v3': 'projectcalico.org',
};

/** The CRDs' MaxLength on every selector field (`+kubebuilder:validation:MaxLength=1024`). */
export const SELECTOR_MAX_LENGTH = 1024;

/** all(), as an absent or empty policy `selector` reads. */
export const ALL: ParsedSelector = { text: '', selector: { kind: 'all' } };

/** The group `apiVersion` names; an unknown one is a problem and reads as Palisade's own. */
export function parseCalicoGroup(apiVersion: unknown, problems: string[]): CalicoCompatGroup {
  const known = typeof apiVersion === 'string' && Object.hasOwn(CALICO_API_VERSIONS, apiVersion);
  const group = known ? CALICO_API_VERSIONS[apiVersion] : undefined;
  if (group) return group;
  const versions = Object.keys(CALICO_API_VERSIONS).join(', ');
  problems.push(`apiVersion: ${showValue(apiVersion)} must be one of ${versions}`);
  return 'palisade.dev';
}

export interface SelectorOptions {
  /**
   * Reject `global(`: Calico's CEL rules allow global() only in an EntityRule's namespaceSelector (the policy's
   * selector, namespaceSelector and serviceAccountSelector, and an EntityRule's selector, check
   * `!self.selector.contains('global(')`).
   */
  readonly noGlobal?: boolean;
}

/**
 * A selector field: absent, null or "" is undefined (Calico's omitempty); otherwise a string of at most 1024
 * characters that parses. Broken: undefined with the problem pushed (callers tell by the problem count).
 */
export function parseSelectorField(
  raw: unknown,
  path: string,
  problems: string[],
  opts: SelectorOptions = {},
): ParsedSelector | undefined {
  if (!present(raw) || raw === '') return undefined;
  if (typeof raw !== 'string') {
    problems.push(`${path}: ${showValue(raw)} must be a selector string`);
    return undefined;
  }
  if (raw.length > SELECTOR_MAX_LENGTH) {
    problems.push(`${path}: ${showValue(raw)} must be at most ${SELECTOR_MAX_LENGTH} characters`);
    return undefined;
  }
  const parsed = parseCalicoSelector(raw);
  if (!parsed.ok) {
    problems.push(`${path}: ${showValue(raw)} is not a valid selector: ${parsed.error}`);
    return undefined;
  }
  if (opts.noGlobal && raw.includes('global(')) {
    problems.push(
      `${path}: ${showValue(raw)} may not use global() (only an EntityRule namespaceSelector may)`,
    );
    return undefined;
  }
  return { text: raw, selector: parsed.selector };
}

type ProtocolName = Extract<GlobalPolicyProtocol, { kind: 'named' }>['name'];
/** validator.go's protocolRegex: exactly these spellings (the JSON decoder does not fold case). */
export const PROTOCOL_NAMES: readonly ProtocolName[] = ['TCP', 'UDP', 'ICMP', 'ICMPv6', 'SCTP', 'UDPLite'];

/**
 * `protocol`/`notProtocol` (numorstring.Protocol): a name, or a number 1..255 written as a JSON number or as a
 * string of digits (Uint8OrString.UnmarshalJSON reads "6" as the number 6; validateProtocol rejects 0).
 */
export function parseCalicoProtocol(
  raw: unknown,
  path: string,
  problems: string[],
): GlobalPolicyProtocol | undefined {
  const name = PROTOCOL_NAMES.find((n) => n === raw);
  if (name) return { kind: 'named', name };
  const digits = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : undefined;
  const n = typeof raw === 'number' ? raw : digits;
  if (n !== undefined && Number.isInteger(n) && n >= 1 && n <= 255) return { kind: 'number', number: n };
  problems.push(
    `${path}: ${showValue(raw)} must be one of ${PROTOCOL_NAMES.join(', ')} or a number from 1 to 255`,
  );
  return undefined;
}

/** The protocol as written back in a manifest: its name or its number. */
export function protocolValue(p: GlobalPolicyProtocol): string | number {
  return p.kind === 'named' ? p.name : p.number;
}

/** One problem per value listed again in a set-typed list (`+listType=set`: the API server rejects repeats). */
export function duplicateProblems(list: readonly unknown[], path: string): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const [i, v] of list.entries()) {
    const key = showValue(v);
    if (seen.has(key)) out.push(`${path}[${i}]: ${key} is listed twice`);
    seen.add(key);
  }
  return out;
}

/** A boolean field: absent or null is false; anything else but a boolean is a problem (and reads as `broken`). */
export function parseFlag<T>(raw: unknown, path: string, problems: string[], broken: T): boolean | T {
  if (!present(raw)) return false;
  if (typeof raw === 'boolean') return raw;
  problems.push(`${path}: ${showValue(raw)} must be true or false`);
  return broken;
}
