// The upstream ClusterNetworkPolicy CRD (policy.networking.k8s.io/v1alpha2) for `palisade manifests`. Pure.
import { CLUSTER_POLICY_ACTIONS, CLUSTER_POLICY_TIERS } from '../model/cluster-network-policy.js';
import { CLUSTER_NETWORK_POLICY_GROUP } from '../model/cluster-network-policy-parse.js';
import { CNP_LIMITS } from '../model/cluster-network-policy-parse-fields.js';
import {
  DOMAIN_NAME_PATTERN,
  EGRESS_PEER_FIELDS,
  INGRESS_PEER_FIELDS,
} from '../model/cluster-network-policy-parse-peers.js';
import { PROTOCOL_FIELDS } from '../model/cluster-network-policy-parse-ports.js';
import { SELECTOR_OPERATORS } from '../model/selector.js';
import { crdLabels, obj, type Schema, str } from './schema.js';

// --- policy.networking.k8s.io/v1alpha2 ClusterNetworkPolicy ----------------------------------------------------
// The API of sigs.k8s.io/network-policy-api v0.2.0, experimental channel (nodes and domainNames peers, the
// named-port CEL rule), with the limits the parser enforces (one source: CNP_LIMITS and the model's enums).
// Exactly-one-of objects are CEL rules naming their fields (upstream writes Min/MaxProperties 1, the same check
// once unknown fields are pruned). Stricter than upstream only where the agent could not enforce an object as
// written, so that it is refused at apply time rather than failing closed: selectors (operator enum, label value
// and expression key syntax, values only with In/NotIn), named ports (IANA_SVC_NAME), domainNames only in Accept
// rules (documented upstream, unchecked there). Left to the parser: matchLabels keys (CEL over a selector's
// unbounded map exceeds the API server's cost budget). Checked against kube-apiserver 1.37: crds.test.ts notes how.

const list = (items: Schema, min: number, max: number, extra: Schema = {}): Schema => ({
  type: 'array',
  items,
  ...(min > 0 && { minItems: min }),
  maxItems: max,
  ...extra,
});

function exactlyOneOf(fields: readonly string[]): Schema {
  return {
    'x-kubernetes-validations': [
      {
        rule: `${fields.map((f) => `(has(self.${f}) ? 1 : 0)`).join(' + ')} == 1`,
        message: `exactly one of ${fields.join(', ')} must be set`,
      },
    ],
  };
}

// Label syntax (apimachinery's qualified name and label value), so that a selector the agent could not evaluate,
// which would make the policy fail closed, is refused at apply time instead.
const LABEL_NAME = '[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?';
const DNS_SUBDOMAIN = '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*';
const LABEL_KEY = `^(${DNS_SUBDOMAIN}/)?${LABEL_NAME}$`;
const labelValue: Schema = { ...str, maxLength: 63, pattern: `^(${LABEL_NAME})?$` };

const labelSelector = obj(
  {
    matchLabels: {
      type: 'object',
      additionalProperties: labelValue,
    },
    matchExpressions: {
      type: 'array',
      'x-kubernetes-list-type': 'atomic',
      items: obj(
        {
          key: { ...str, maxLength: 317, pattern: LABEL_KEY },
          operator: { ...str, enum: [...SELECTOR_OPERATORS] },
          values: { type: 'array', items: labelValue, 'x-kubernetes-list-type': 'atomic' },
        },
        {
          required: ['key', 'operator'],
          'x-kubernetes-validations': [
            {
              rule: "self.operator in ['In', 'NotIn'] ? has(self.values) && size(self.values) > 0 : !has(self.values) || size(self.values) == 0",
              message: 'values must be set for In and NotIn, and only for them',
            },
          ],
        },
      ),
    },
  },
  { 'x-kubernetes-map-type': 'atomic' },
);

const namespacedPod = obj(
  { namespaceSelector: labelSelector, podSelector: labelSelector },
  { required: ['podSelector'] },
);

const portNumber: Schema = { type: 'integer', format: 'int32', minimum: 1, maximum: 65535 };
const portRange = obj(
  { start: portNumber, end: portNumber },
  {
    required: ['start', 'end'],
    'x-kubernetes-validations': [{ rule: 'self.start < self.end', message: 'start must be less than end' }],
  },
);
const portOf = obj(
  { destinationPort: obj({ number: portNumber, range: portRange }, exactlyOneOf(['number', 'range'])) },
  { required: ['destinationPort'] },
);
const namedPort: Schema = {
  ...str,
  maxLength: 15,
  pattern: '^[a-z0-9]+(-[a-z0-9]+)*$',
  'x-kubernetes-validations': [
    { rule: "self.matches('[a-z]')", message: 'a port name must contain a letter' },
  ],
};
const protocols = list(
  obj(
    { tcp: portOf, udp: portOf, sctp: portOf, destinationNamedPort: namedPort },
    exactlyOneOf(PROTOCOL_FIELDS),
  ),
  1,
  CNP_LIMITS.protocols,
);

const cidr: Schema = {
  ...str,
  maxLength: CNP_LIMITS.cidrLength,
  'x-kubernetes-validations': [
    { rule: 'isCIDR(self)', message: 'must be a CIDR such as 10.0.0.0/8 or fd00::/8' },
  ],
};
const set = { 'x-kubernetes-list-type': 'set' };
const egressPeer = obj(
  {
    namespaces: labelSelector,
    pods: namespacedPod,
    nodes: labelSelector,
    networks: list(cidr, 1, CNP_LIMITS.networks, set),
    domainNames: list({ ...str, pattern: DOMAIN_NAME_PATTERN }, 1, CNP_LIMITS.domainNames, set),
  },
  exactlyOneOf(EGRESS_PEER_FIELDS),
);
const ingressPeer = obj(
  { namespaces: labelSelector, pods: namespacedPod },
  exactlyOneOf(INGRESS_PEER_FIELDS),
);

function cnpRule(peerField: 'from' | 'to', peer: Schema, extra: Schema = {}): Schema {
  return obj(
    {
      name: { ...str, maxLength: CNP_LIMITS.ruleName },
      action: { ...str, enum: [...CLUSTER_POLICY_ACTIONS] },
      [peerField]: list(peer, 1, CNP_LIMITS.peers),
      protocols,
    },
    { required: ['action', peerField], ...extra },
  );
}

const egressRule = cnpRule('to', egressPeer, {
  'x-kubernetes-validations': [
    {
      rule:
        '!has(self.protocols) || !self.protocols.exists(p, has(p.destinationNamedPort)) || ' +
        'self.to.all(t, !has(t.networks) && !has(t.nodes) && !has(t.domainNames))',
      message:
        'destinationNamedPort cannot be used with networks, nodes or domainNames peers (no named ports there)',
    },
    {
      rule: "self.action == 'Accept' || self.to.all(t, !has(t.domainNames))",
      message: 'domainNames peers may only be used in Accept rules',
    },
  ],
});

/** metav1.Condition, as controller-gen writes it. */
export const condition = obj(
  {
    type: {
      ...str,
      maxLength: 316,
      pattern:
        '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$',
    },
    status: { ...str, enum: ['True', 'False', 'Unknown'] },
    observedGeneration: { type: 'integer', format: 'int64', minimum: 0 },
    lastTransitionTime: { ...str, format: 'date-time' },
    reason: { ...str, minLength: 1, maxLength: 1024, pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$' },
    message: { ...str, maxLength: 32768 },
  },
  { required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'] },
);

const cnpSpecSchema = obj(
  {
    tier: {
      ...str,
      enum: [...CLUSTER_POLICY_TIERS],
      description: 'Admin (before NetworkPolicy) or Baseline (after).',
    },
    priority: {
      type: 'integer',
      format: 'int32',
      minimum: 0,
      maximum: CNP_LIMITS.priorityMax,
      description: 'Lower first within the tier; equal priorities are ordered by name.',
    },
    subject: obj({ namespaces: labelSelector, pods: namespacedPod }, exactlyOneOf(INGRESS_PEER_FIELDS)),
    ingress: list(cnpRule('from', ingressPeer), 0, CNP_LIMITS.rules),
    egress: list(egressRule, 0, CNP_LIMITS.rules),
  },
  { required: ['tier', 'priority', 'subject'] },
);

export function clusterNetworkPolicyCrd(): Schema {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `clusternetworkpolicies.${CLUSTER_NETWORK_POLICY_GROUP}`,
      labels: crdLabels,
      annotations: {
        // A *.k8s.io group needs the approval of its API review (the API server refuses the CRD without it).
        'api-approved.kubernetes.io': 'https://github.com/kubernetes-sigs/network-policy-api/pull/347',
        'policy.networking.k8s.io/bundle-version': 'v0.2.0',
        'policy.networking.k8s.io/channel': 'experimental',
      },
    },
    spec: {
      group: CLUSTER_NETWORK_POLICY_GROUP,
      scope: 'Cluster',
      names: {
        kind: 'ClusterNetworkPolicy',
        listKind: 'ClusterNetworkPolicyList',
        plural: 'clusternetworkpolicies',
        singular: 'clusternetworkpolicy',
        shortNames: ['cnp'],
      },
      versions: [
        {
          name: 'v1alpha2',
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'Tier', type: 'string', jsonPath: '.spec.tier' },
            { name: 'Priority', type: 'integer', jsonPath: '.spec.priority' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: {
            openAPIV3Schema: obj(
              {
                apiVersion: str,
                kind: str,
                metadata: { type: 'object' },
                spec: cnpSpecSchema,
                status: obj(
                  {
                    conditions: {
                      type: 'array',
                      items: condition,
                      'x-kubernetes-list-type': 'map',
                      'x-kubernetes-list-map-keys': ['type'],
                    },
                  },
                  { required: ['conditions'] },
                ),
              },
              {
                required: ['metadata', 'spec'],
                description:
                  'A cluster-wide network policy in the Admin or Baseline tier around NetworkPolicy.',
              },
            ),
          },
        },
      ],
    },
  };
}
