// GlobalNetworkPolicy and HostEndpoint CRDs (Calico's projectcalico.org/v3 fields), one schema per kind, served
// under Palisade's own group and, for users coming from Calico, under Calico's group names (crd.projectcalico.org
// /v1, and projectcalico.org/v3 where Calico's API server is not installed), so that manifests written for
// Calico apply unchanged. Pure.
//
// Unknown fields. Every object inside `spec` (the spec, a rule, an entity rule, icmp, http, a host endpoint port)
// keeps the fields it does not declare (x-kubernetes-preserve-unknown-fields) instead of the API server pruning
// them, so that the parser sees the object as written and reports what it does not know. Pruning would be
// silent for every client that does not ask for strict field validation (kubectl does; client-go does not), and
// a pruned field can only ever have narrowed a rule: `source: {nets: [...], nott: ...}` is harmless, but Calico
// fields of a newer release that restrict an Allow would turn into an Allow of more than was written. The
// parser fails such a policy closed; the API server could only fail it open. Fields Calico has that Palisade does
// not enforce (http, services, serviceAccounts, serviceAccountSelector, tier, performanceHints) are declared
// with their types, so a Calico manifest still passes kubectl's strict validation and reaches the parser typed.
//
// CEL rules: Calico's own spec checks (libcalico-go's validator), so that the API server refuses what Calico
// refuses: preDNAT with egress rules or the Egress type, preDNAT with doNotTrack, preDNAT or doNotTrack without
// applyOnForward; types holds each type once (a set of at most two); a host endpoint names its node and an
// interface or an expected IP, and each of its named ports once (a list map keyed by name).
//
// Status: a status subresource with status.conditions (metav1.Condition, a list map keyed by type), which the
// agents write (src/agent/host-report.ts decides them: GlobalNetworkPolicy Accepted and SelectsHostEndpoints,
// HostEndpoint Accepted, InterfacePresent and Programmed). Calico's own CRDs have no status; where Calico owns
// its groups Palisade does not serve them (--calico-groups none) and writes no status there.
import { CALICO_KINDS_API_VERSIONS, type CalicoGroup, servedGroups } from '../model/calico-groups.js';
import { type CalicoCompatGroup, GLOBAL_POLICY_ACTIONS } from '../model/global-network-policy.js';
import { condition } from './crd-cluster-network-policy.js';
import { crdLabels, obj, type Schema, str } from './schema.js';

const open: Schema = { 'x-kubernetes-preserve-unknown-fields': true };
const strings: Schema = { type: 'array', items: str };
const intOrString: Schema = { 'x-kubernetes-int-or-string': true };
const port: Schema = { ...intOrString, description: 'A port number, a range "from:to", or a named port.' };
const bool: Schema = { type: 'boolean' };

const entityRule = obj(
  {
    nets: { ...strings, description: 'CIDRs the peer address is in (any of them).' },
    notNets: { ...strings, description: 'CIDRs the peer address is not in (none of them).' },
    selector: { ...str, description: 'Endpoints (pods, host endpoints) by label, e.g. "app == \'web\'".' },
    notSelector: str,
    namespaceSelector: { ...str, description: 'Limits selector to pods of these namespaces.' },
    ports: { type: 'array', items: port },
    notPorts: { type: 'array', items: port },
    serviceAccounts: obj({ names: strings, selector: str }, open),
    services: obj({ name: str, namespace: str }, open),
  },
  open,
);

const icmp = obj(
  {
    type: { type: 'integer', minimum: 0, maximum: 254 },
    code: { type: 'integer', minimum: 0, maximum: 255 },
  },
  open,
);

const rule = obj(
  {
    action: { ...str, enum: [...GLOBAL_POLICY_ACTIONS] },
    protocol: { ...intOrString, description: 'TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite, or a number 1-255.' },
    notProtocol: intOrString,
    ipVersion: { type: 'integer', enum: [4, 6] },
    icmp,
    notICMP: icmp,
    source: entityRule,
    destination: entityRule,
    http: obj(
      { methods: strings, paths: { type: 'array', items: obj({ exact: str, prefix: str }, open) } },
      open,
    ),
    metadata: obj({ annotations: { type: 'object', additionalProperties: str } }),
  },
  { required: ['action'], ...open },
);

/** `field` is set and true (has() first: an absent boolean is false, as in Calico). */
const on = (field: string) => `(has(self.${field}) && self.${field})`;

/** Calico's validatePolicySpec, as CEL on the spec. */
export const GLOBAL_POLICY_RULES: readonly { rule: string; message: string }[] = [
  {
    rule: `!${on('preDNAT')} || !${on('doNotTrack')}`,
    message: 'preDNAT and doNotTrack cannot both be true',
  },
  {
    rule: `!${on('preDNAT')} || !has(self.egress) || size(self.egress) == 0`,
    message: 'a preDNAT policy cannot have egress rules',
  },
  {
    rule: `!${on('preDNAT')} || !has(self.types) || !('Egress' in self.types)`,
    message: "a preDNAT policy cannot have the 'Egress' type",
  },
  {
    rule: `!(${on('preDNAT')} || ${on('doNotTrack')}) || ${on('applyOnForward')}`,
    message: 'applyOnForward must be true when preDNAT or doNotTrack is',
  },
];

export const HOST_ENDPOINT_RULES: readonly { rule: string; message: string }[] = [
  {
    rule:
      "(has(self.interfaceName) && self.interfaceName != '') || " +
      '(has(self.expectedIPs) && size(self.expectedIPs) > 0)',
    message: 'a host endpoint must name an interfaceName or expectedIPs',
  },
];

/** The GlobalNetworkPolicy spec (Calico's GlobalNetworkPolicySpec). */
export const globalPolicySpec = obj(
  {
    order: {
      type: 'number',
      description: 'Lower first; unset: last. Kubernetes NetworkPolicy counts as 1000.',
    },
    selector: { ...str, description: 'The endpoints it applies to (a Calico selector); empty: all().' },
    namespaceSelector: { ...str, description: 'Only pods of these namespaces (and then no host endpoint).' },
    serviceAccountSelector: str,
    tier: str,
    types: {
      type: 'array',
      items: { ...str, enum: ['Ingress', 'Egress'] },
      maxItems: 2,
      'x-kubernetes-list-type': 'set',
      description: 'Unset: Ingress, plus Egress if there are egress rules (Egress alone if only those).',
    },
    ingress: { type: 'array', items: rule },
    egress: { type: 'array', items: rule },
    doNotTrack: {
      ...bool,
      description: 'Host endpoints: untracked, before conntrack; needs applyOnForward.',
    },
    preDNAT: {
      ...bool,
      description: 'Host endpoints: ingress before DNAT; needs applyOnForward, no egress.',
    },
    applyOnForward: { ...bool, description: 'Host endpoints: also for traffic forwarded through them.' },
    performanceHints: strings,
  },
  { ...open, 'x-kubernetes-validations': GLOBAL_POLICY_RULES },
);

/** The HostEndpoint spec (Calico's HostEndpointSpec). */
export const hostEndpointSpec = obj(
  {
    node: { ...str, minLength: 1, description: 'The node whose interface this is.' },
    interfaceName: { ...str, description: 'The interface; "*" for all of the node\'s interfaces.' },
    expectedIPs: { ...strings, description: "The endpoint's addresses, as rules' selectors match them." },
    profiles: { ...strings, description: 'projectcalico-default-allow: allow where no policy applies.' },
    ports: {
      type: 'array',
      items: obj(
        { name: str, port: { type: 'integer', minimum: 1, maximum: 65535 }, protocol: intOrString },
        { required: ['name', 'port'], ...open },
      ),
      // Each name once (Calico: "Ports list contains duplicate named port").
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['name'],
    },
  },
  { required: ['node'], ...open, 'x-kubernetes-validations': HOST_ENDPOINT_RULES },
);

/** What the agents report (see above); conditions of other types (another controller's) are kept. */
const status = obj({
  conditions: {
    type: 'array',
    items: condition,
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['type'],
  },
});

interface Kind {
  readonly kind: 'GlobalNetworkPolicy' | 'HostEndpoint';
  readonly plural: string;
  readonly shortName: string;
  readonly spec: Schema;
  readonly description: string;
  readonly columns: readonly Schema[];
}

const KINDS: readonly Kind[] = [
  {
    kind: 'GlobalNetworkPolicy',
    plural: 'globalnetworkpolicies',
    shortName: 'gnp',
    spec: globalPolicySpec,
    description:
      'Cluster-wide network policy, Calico-compatible, evaluated with NetworkPolicy in the Default tier by order.',
    columns: [
      { name: 'Order', type: 'number', jsonPath: '.spec.order' },
      { name: 'Selector', type: 'string', jsonPath: '.spec.selector' },
    ],
  },
  {
    kind: 'HostEndpoint',
    plural: 'hostendpoints',
    shortName: 'hep',
    spec: hostEndpointSpec,
    description:
      "A node's own interface, put under the same policy tiers as pods, with failsafe ports no policy closes.",
    columns: [
      { name: 'Node', type: 'string', jsonPath: '.spec.node' },
      { name: 'Interface', type: 'string', jsonPath: '.spec.interfaceName' },
    ],
  },
];

function crd(k: Kind, group: CalicoCompatGroup): Schema {
  const version = CALICO_KINDS_API_VERSIONS[group].slice(group.length + 1);
  const own = group === 'palisade.dev';
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${k.plural}.${group}`, labels: crdLabels },
    spec: {
      group,
      scope: 'Cluster',
      names: {
        kind: k.kind,
        listKind: `${k.kind}List`,
        plural: k.plural,
        singular: k.kind.toLowerCase(),
        // Only Palisade's own group has the short name: `kubectl get gnp` must not be ambiguous.
        ...(own ? { shortNames: [k.shortName] } : {}),
      },
      versions: [
        {
          name: version,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            ...k.columns,
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: {
            openAPIV3Schema: obj(
              { apiVersion: str, kind: str, metadata: { type: 'object' }, spec: k.spec, status },
              { description: k.description, required: ['spec'] },
            ),
          },
        },
      ],
    },
  };
}

/** The GlobalNetworkPolicy and HostEndpoint CRDs of palisade.dev/v1 and of each of Calico's groups given. */
export function calicoKindCrds(calico: readonly CalicoGroup[]): Schema[] {
  return servedGroups(calico).flatMap((g) => KINDS.map((k) => crd(k, g)));
}
