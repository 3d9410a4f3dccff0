// The Calico objects of seed 003 ("secure a cluster's nodes against outside traffic"), exactly as the seed writes
// them: three projectcalico.org/v3 GlobalNetworkPolicies and the crd.projectcalico.org/v1 HostEndpoint its
// DaemonSet's script creates per node ($NODE_NAME). What "apply unchanged with kubectl" is tested on.
import { parseAllDocuments } from 'yaml';

type Json = Record<string, unknown>;

/** The names of the seed's policies, in its order. */
export const SEED_POLICY_NAMES = [
  'allow-outbound-external',
  'allow-cluster-internal-ingress',
  'drop-other-ingress',
];

/** The seed's documents as YAML, its HostEndpoint for `node`. */
export function seedYaml(node: string): string {
  return SEED_YAML.replaceAll('$NODE_NAME', node);
}

/** The seed's documents decoded: the three policies, then the HostEndpoint for `node`. */
export function seedDocuments(node: string): Json[] {
  return parseAllDocuments(seedYaml(node)).map((d) => d.toJS() as Json);
}

const SEED_YAML = `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: allow-outbound-external
spec:
  order: 10
  egress:
    - action: Allow
  selector: has(host-endpoint)
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: allow-cluster-internal-ingress
spec:
  order: 10
  preDNAT: true
  applyOnForward: true
  ingress:
    - action: Allow
      source:
        nets: [10.240.0.0/16, 192.168.0.0/16]
  selector: has(host-endpoint)
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: drop-other-ingress
spec:
  order: 20
  preDNAT: true
  applyOnForward: true
  ingress:
    - action: Deny
  selector: has(host-endpoint)
---
apiVersion: crd.projectcalico.org/v1
kind: HostEndpoint
metadata:
  name: $NODE_NAME
  labels:
    host-endpoint: ingress
spec:
  interfaceName: "*"
  node: "$NODE_NAME"
`;
