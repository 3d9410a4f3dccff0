// `lab status` and `lab probe` on the real control plane: nodes and pods as the API has them, each pod reached
// through the server its node's kubelet started.
import { createKubeRest, HttpMethod } from '../../datastore/kube-rest.js';
import { podKey } from '../../model/k8s.js';
import type { LabState } from '../state.js';
import { kubeSandboxes } from './kube-lab.js';
import { kubePaths } from './plan.js';

export interface StatusPod {
  readonly namespace: string;
  readonly name: string;
  readonly node: string;
  readonly ip: string;
  readonly labels: Readonly<Record<string, string>>;
}

interface PodItem {
  metadata: { namespace: string; name: string; labels?: Record<string, string> };
  spec: { nodeName?: string };
  status?: { podIP?: string };
}

export async function kubeStatusPods(state: LabState): Promise<StatusPod[]> {
  const api = createKubeRest(kubePaths(state.dir).adminKubeconfig);
  const list = await api.request({ method: HttpMethod.GET, path: '/api/v1/pods' });
  return ((list.items ?? []) as PodItem[])
    .map((p) => ({
      namespace: p.metadata.namespace,
      name: p.metadata.name,
      node: p.spec.nodeName ?? '',
      ip: p.status?.podIP ?? '',
      labels: p.metadata.labels ?? {},
    }))
    .sort((a, b) => podKey(a).localeCompare(podKey(b)));
}

/** The pods the kubelets run, as the probe needs them (address and the server's control socket). */
export function kubeProbePods(state: LabState) {
  return kubeSandboxes(state)
    .map((p) => ({ key: podKey(p), ip: p.ip, controlSocket: p.controlSocket }))
    .sort((a, b) => a.key.localeCompare(b.key));
}
