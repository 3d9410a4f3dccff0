// The kube lab's barriers: `lab apply|delete` returns once every agent has programmed what the API holds, read
// from each agent's newest programmed resourceVersion per resource. A deletion leaves no object to read a version
// from, so after a change the lab bumps one barrier object per resource it touched (an annotation stamp, the
// object made on first use): once an agent has programmed the barrier's new version, it has programmed every
// event of that resource before it. Each barrier selects or covers nothing: a NetworkPolicy in the agents' own
// namespace selecting no pod; a Baseline ClusterNetworkPolicy, last, selecting no pod, without rules; a
// GlobalNetworkPolicy selecting no endpoint, without rules; a HostEndpoint of no node, without addresses. Once
// made they stay, so agents and `kubectl get` see them: tests skip them with isLabBarrier.

import {
  CALICO_KINDS,
  type CalicoKindResource,
  calicoKindPath,
  splitCalicoKindResource,
} from '../../datastore/kube-convert-calico.js';
import { HttpMethod, type KubeRest } from '../../datastore/kube-rest.js';
import { CLUSTER_NETWORK_POLICY_API_VERSION } from '../../model/cluster-network-policy-parse.js';
import { AGENT_NAMESPACE } from './plan.js';

export const BARRIER_POLICY = 'palisade-lab-barrier';
export const BARRIER_CLUSTER_POLICY = 'palisade-lab-barrier';
/** The name of the GlobalNetworkPolicy and HostEndpoint barriers (in each group). */
export const BARRIER_CALICO_KINDS = 'palisade-lab-barrier';

const BARRIER_LABEL = 'palisade.dev/lab-barrier';
const SELECTS_NOTHING = { matchLabels: { [BARRIER_LABEL]: 'selects-nothing' } };

/** Whether an object is one of the lab's barriers (by kind and name; one name for every kind). */
export function isLabBarrier(o: { kind?: unknown; metadata?: { name?: unknown } }): boolean {
  const kinds: unknown[] = ['NetworkPolicy', 'ClusterNetworkPolicy', ...Object.values(CALICO_KINDS)];
  return kinds.includes(o.kind) && o.metadata?.name === BARRIER_POLICY;
}

/** Creates or updates the NetworkPolicy barrier; returns its new resourceVersion. */
export function bumpBarrier(api: KubeRest): Promise<string> {
  return bump(api, `/apis/networking.k8s.io/v1/namespaces/${AGENT_NAMESPACE}/networkpolicies`, {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: BARRIER_POLICY, namespace: AGENT_NAMESPACE },
    spec: { podSelector: SELECTS_NOTHING, policyTypes: ['Ingress'] },
  });
}

/** The same for ClusterNetworkPolicies. */
export function bumpClusterBarrier(api: KubeRest): Promise<string> {
  return bump(api, `/apis/${CLUSTER_NETWORK_POLICY_API_VERSION}/clusternetworkpolicies`, {
    apiVersion: CLUSTER_NETWORK_POLICY_API_VERSION,
    kind: 'ClusterNetworkPolicy',
    metadata: { name: BARRIER_CLUSTER_POLICY },
    spec: {
      tier: 'Baseline',
      priority: 1000,
      subject: { pods: { namespaceSelector: SELECTS_NOTHING, podSelector: SELECTS_NOTHING } },
    },
  });
}

/** The same for GlobalNetworkPolicies or HostEndpoints of one group. */
export function bumpCalicoKindBarrier(api: KubeRest, resource: CalicoKindResource): Promise<string> {
  const r = splitCalicoKindResource(resource);
  const collection = calicoKindPath(resource);
  if (!r || !collection) throw new Error(`no barrier for ${resource}`);
  const spec =
    r.plural === 'hostendpoints'
      ? // No node has this name, and the endpoint has no address: no agent applies it, no rule matches it.
        { node: BARRIER_CALICO_KINDS, interfaceName: 'lab-barrier' }
      : { selector: `${BARRIER_LABEL} == 'selects-nothing'`, order: 1e9 };
  return bump(api, collection, {
    apiVersion: r.apiVersion,
    kind: CALICO_KINDS[r.plural],
    metadata: { name: BARRIER_CALICO_KINDS },
    spec,
  });
}

/** Stamps an annotation on the object (creating it when missing); returns its new resourceVersion. */
async function bump(
  api: KubeRest,
  collection: string,
  body: { metadata: { name: string; namespace?: string } } & Record<string, unknown>,
): Promise<string> {
  const stamp = { [BARRIER_LABEL]: String(Date.now()) };
  const out = await api
    .request({
      method: HttpMethod.PATCH,
      path: `${collection}/${body.metadata.name}`,
      body: { metadata: { annotations: stamp } },
    })
    .catch(async (err: unknown) => {
      if ((err as { statusCode?: number }).statusCode !== 404) throw err;
      const created = { ...body, metadata: { ...body.metadata, annotations: stamp } };
      return api.request({ method: HttpMethod.POST, path: collection, body: created });
    });
  return String((out.metadata as { resourceVersion?: string }).resourceVersion);
}
