// The CustomResourceDefinitions (apiextensions.k8s.io/v1) with structural OpenAPI v3 schemas, for `palisade
// manifests` (design.md "Policy model"): Palisade's own GlobalNetworkPolicy (cluster-wide policy, Calico-compatible
// fields) and HostEndpoint (a node's own interfaces under policy), and the upstream ClusterNetworkPolicy. The API
// server validates objects against these schemas before the agent ever sees them. Pure.
import { clusterNetworkPolicyCrd } from './crd-cluster-network-policy.js';
import { crdLabels, obj, type Schema, str } from './schema.js';

const strings: Schema = { type: 'array', items: str };
const intOrString: Schema = { 'x-kubernetes-int-or-string': true };
const port: Schema = { ...intOrString, description: 'A port number, a range "from:to", or a named port.' };

const entityRule = obj({
  nets: { ...strings, description: 'CIDRs the peer address is in.' },
  notNets: { ...strings, description: 'CIDRs the peer address is not in.' },
  selector: { ...str, description: 'Label selector expression for endpoints (e.g. "app == \'web\'").' },
  notSelector: str,
  namespaceSelector: str,
  ports: { type: 'array', items: port },
  notPorts: { type: 'array', items: port },
  serviceAccounts: obj({ names: strings, selector: str }),
});

const icmp = obj({
  type: { type: 'integer', minimum: 0, maximum: 254 },
  code: { type: 'integer', minimum: 0, maximum: 255 },
});

const rule = obj(
  {
    action: { type: 'string', enum: ['Allow', 'Deny', 'Log', 'Pass'] },
    protocol: { ...intOrString, description: 'TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite, or a number 1-255.' },
    notProtocol: intOrString,
    ipVersion: { type: 'integer', enum: [4, 6] },
    icmp,
    notICMP: icmp,
    source: entityRule,
    destination: entityRule,
    metadata: obj({ annotations: { type: 'object', additionalProperties: str } }),
  },
  { required: ['action'] },
);

function crd(kind: string, plural: string, spec: Schema, shortNames: string[], description: string): Schema {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.palisade.dev`, labels: crdLabels },
    spec: {
      group: 'palisade.dev',
      scope: 'Cluster',
      names: { kind, listKind: `${kind}List`, plural, singular: kind.toLowerCase(), shortNames },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: obj(
              { apiVersion: str, kind: str, metadata: { type: 'object' }, spec },
              { description, required: ['spec'] },
            ),
          },
        },
      ],
    },
  };
}

export function renderCrds(): Schema[] {
  return [
    crd(
      'GlobalNetworkPolicy',
      'globalnetworkpolicies',
      obj({
        order: { type: 'number', description: 'Lower first; Kubernetes NetworkPolicy counts as 1000.' },
        selector: { ...str, description: 'The endpoints it applies to; empty: all.' },
        namespaceSelector: str,
        serviceAccountSelector: str,
        types: { type: 'array', items: { type: 'string', enum: ['Ingress', 'Egress'] } },
        ingress: { type: 'array', items: rule },
        egress: { type: 'array', items: rule },
        doNotTrack: { type: 'boolean' },
        preDNAT: { type: 'boolean' },
        applyOnForward: { type: 'boolean' },
      }),
      ['gnp'],
      'Cluster-wide network policy, Calico-compatible, evaluated with NetworkPolicy in the Default tier by order.',
    ),
    crd(
      'HostEndpoint',
      'hostendpoints',
      obj(
        {
          node: { ...str, description: 'The node whose interface this is.' },
          interfaceName: { ...str, description: 'The interface; "*" for all of the node\'s interfaces.' },
          expectedIPs: strings,
          profiles: strings,
          ports: {
            type: 'array',
            items: obj(
              { name: str, port: { type: 'integer', minimum: 1, maximum: 65535 }, protocol: intOrString },
              { required: ['name', 'port'] },
            ),
          },
        },
        { required: ['node'] },
      ),
      ['hep'],
      "A node's own interface, put under the same policy tiers as pods, with failsafe ports no policy closes.",
    ),
    clusterNetworkPolicyCrd(),
  ];
}
