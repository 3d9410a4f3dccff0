// Builders for the GlobalNetworkPolicy parser's tests: a manifest document, the policy it should become, and a
// valid policy written back as a manifest.
import { parseCalicoSelector } from './calico-selector.js';
import type {
  EntityRule,
  GlobalNetworkPolicy,
  GlobalPolicyAction,
  GlobalPolicyPort,
  GlobalPolicyRule,
  ParsedSelector,
} from './global-network-policy.js';
import { ANYWHERE, portValue } from './global-network-policy-parse-entity.js';
import { protocolValue } from './global-network-policy-parse-fields.js';
import { DENY_ALL } from './global-network-policy-parse-rule.js';

/** A GlobalNetworkPolicy document around `spec`, named p, projectcalico.org/v3 unless told otherwise. */
export function gnpDoc(
  spec: unknown,
  metadata: unknown = { name: 'p' },
  apiVersion = 'projectcalico.org/v3',
): Record<string, unknown> {
  return { apiVersion, kind: 'GlobalNetworkPolicy', metadata, spec };
}

/** A selector as the parser keeps it (the text must parse). */
export function sel(text: string): ParsedSelector {
  const parsed = parseCalicoSelector(text);
  if (!parsed.ok) throw new Error(`test selector ${text}: ${parsed.error}`);
  return { text, selector: parsed.selector };
}

export const ALL_SEL: ParsedSelector = { text: '', selector: { kind: 'all' } };

export const port = (n: number): GlobalPolicyPort => ({ kind: 'range', from: n, to: n });
export const range = (from: number, to: number): GlobalPolicyPort => ({ kind: 'range', from, to });
export const named = (name: string): GlobalPolicyPort => ({ kind: 'named', name });

/** An EntityRule: ANYWHERE with `fields` over it. */
export const entity = (fields: Partial<EntityRule> = {}): EntityRule => ({ ...ANYWHERE, ...fields });

/** A rule: `action` from anywhere to anywhere, then `fields` over it. */
export function rule(action: GlobalPolicyAction, fields: Partial<GlobalPolicyRule> = {}): GlobalPolicyRule {
  return { action, source: ANYWHERE, destination: ANYWHERE, ...fields };
}

export { DENY_ALL };

/** What gnpDoc({}) parses to (named `name`, group projectcalico.org), then each tweak applied in turn. */
export function makeGnp(name: string, ...tweaks: Partial<GlobalNetworkPolicy>[]): GlobalNetworkPolicy {
  const base: GlobalNetworkPolicy = {
    kind: 'GlobalNetworkPolicy',
    group: 'projectcalico.org',
    name,
    selector: ALL_SEL,
    types: ['Ingress'],
    ingress: [],
    egress: [],
    preDNAT: false,
    applyOnForward: false,
    doNotTrack: false,
    problems: [],
  };
  return Object.assign(base, ...tweaks);
}

const API_VERSION_OF = {
  'palisade.dev': 'palisade.dev/v1',
  'crd.projectcalico.org': 'crd.projectcalico.org/v1',
  'projectcalico.org': 'projectcalico.org/v3',
} as const;

function entityDoc(e: EntityRule): Record<string, unknown> {
  const lists = {
    nets: e.nets,
    notNets: e.notNets,
    ports: e.ports.map(portValue),
    notPorts: e.notPorts.map(portValue),
  };
  return {
    ...Object.fromEntries(Object.entries(lists).filter(([, v]) => v.length > 0)),
    ...(e.selector && { selector: e.selector.text }),
    ...(e.notSelector && { notSelector: e.notSelector.text }),
    ...(e.namespaceSelector && { namespaceSelector: e.namespaceSelector.text }),
  };
}

function ruleDoc(r: GlobalPolicyRule): Record<string, unknown> {
  return {
    action: r.action,
    ...(r.protocol && { protocol: protocolValue(r.protocol) }),
    ...(r.notProtocol && { notProtocol: protocolValue(r.notProtocol) }),
    ...(r.ipVersion !== undefined && { ipVersion: r.ipVersion }),
    ...(r.icmp && { icmp: r.icmp }),
    ...(r.notICMP && { notICMP: r.notICMP }),
    source: entityDoc(r.source),
    destination: entityDoc(r.destination),
  };
}

/** A policy without problems written back as a manifest: parsing it again must give the same policy. */
export function toDoc(p: GlobalNetworkPolicy): Record<string, unknown> {
  const spec = {
    ...(p.order !== undefined && { order: p.order }),
    selector: p.selector.text,
    ...(p.namespaceSelector && { namespaceSelector: p.namespaceSelector.text }),
    types: p.types,
    ingress: p.ingress.map(ruleDoc),
    egress: p.egress.map(ruleDoc),
    preDNAT: p.preDNAT,
    applyOnForward: p.applyOnForward,
    doNotTrack: p.doNotTrack,
  };
  return gnpDoc(spec, { name: p.name }, API_VERSION_OF[p.group]);
}
