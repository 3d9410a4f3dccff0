// The CustomResourceDefinitions (apiextensions.k8s.io/v1) with structural OpenAPI v3 schemas, for `palisade
// manifests` (design.md "Policy model"): GlobalNetworkPolicy (cluster-wide policy, Calico-compatible fields) and
// HostEndpoint (a node's own interfaces under policy) in palisade.dev/v1 and Calico's groups
// (crd-calico-compat.ts), and the upstream ClusterNetworkPolicy (crd-cluster-network-policy.ts). The API server
// validates objects against these schemas before the agent ever sees them. Pure.
import { CALICO_GROUPS, type CalicoGroup } from '../model/calico-groups.js';
import { calicoKindCrds } from './crd-calico-compat.js';
import { clusterNetworkPolicyCrd } from './crd-cluster-network-policy.js';
import type { Schema } from './schema.js';

export interface CrdOptions {
  /** Calico's groups to serve GlobalNetworkPolicy and HostEndpoint under too (default: both). */
  readonly calicoGroups?: readonly CalicoGroup[];
}

export function renderCrds(opts: CrdOptions = {}): Schema[] {
  return [...calicoKindCrds(opts.calicoGroups ?? CALICO_GROUPS), clusterNetworkPolicyCrd()];
}
