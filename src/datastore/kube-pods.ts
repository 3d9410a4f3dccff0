// The repair controller's API calls on Kubernetes: label a pod (merge patch), delete a pod (with a UID
// precondition, so a replacement with the same name is never deleted). A pod already gone counts as done.
import { HttpMethod, type KubeConfig } from '@kubernetes/client-node';
import type { RepairApi } from '../agent/repair.js';
import { apiStatusOf, loadKubeConfig } from './kube-client.js';
import { sendJson } from './kube-rest.js';

export function createPodRepairApi(opts: { kubeConfig?: string } = {}): RepairApi {
  const kc: KubeConfig = loadKubeConfig(opts.kubeConfig);
  const signal = new AbortController().signal;
  const path = (ns: string, name: string) =>
    `/api/v1/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(name)}`;
  const gone = (err: unknown) => apiStatusOf(err) === 404;
  return {
    async label(ns, name, key, value) {
      await sendJson(kc, {
        method: HttpMethod.PATCH,
        path: path(ns, name),
        body: { metadata: { labels: { [key]: value } } },
        signal,
      }).catch((err: unknown) => {
        if (!gone(err)) throw err;
      });
    },
    async remove(ns, name, uid) {
      await sendJson(kc, {
        method: HttpMethod.DELETE,
        path: path(ns, name),
        body: uid ? { kind: 'DeleteOptions', apiVersion: 'v1', preconditions: { uid } } : {},
        signal,
      }).catch((err: unknown) => {
        if (!gone(err)) throw err;
      });
    },
  };
}
