import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mergeEndpoints } from '../src/agent/endpoints.js';
import { isEmptyPlan, planDiff } from '../src/dataplane/nft-diff.js';
import { createKubeRest, HttpMethod } from '../src/datastore/kube-rest.js';
import { inParallel } from '../src/lab/lab-common.js';
import type { PodInfo } from '../src/model/cluster.js';
import { NodeCompiler } from '../src/policy/node-compiler.js';
import { writeFileAtomic } from '../src/util/atomic-file.js';
import type { KubeApi } from '../test/helpers/kube-api.js';
import { manifests, policyManifest } from './agent-sync-agent.js';
import { LOCAL_NODE, type SyntheticCluster } from './agent-sync-cluster.js';

/** One round's change: a local pod's labels, before and after. */
export interface Relabel {
  readonly pod: PodInfo;
  readonly before: Readonly<Record<string, string>>;
}

/**
 * `rounds` relabels of local pods, in order, each one checked with the agent's compiler to change the node's
 * ruleset (the pod moves into or out of some policy's selection). Leaves `c` as it was.
 */
export function planRelabels(c: SyntheticCluster, rounds: number): Relabel[] {
  const initial = c.pods;
  const compiler = new NodeCompiler(LOCAL_NODE);
  const compile = () => compiler.compile(mergeEndpoints(c.snapshot(), LOCAL_NODE, c.endpoints)).table;
  let prev = compile();
  const out: Relabel[] = [];
  for (let tries = 1; out.length < rounds; tries++) {
    if (tries > rounds * 100) throw new Error(`no ruleset-changing relabel found in ${tries} tries`);
    const pods = c.pods;
    const pod = c.g.pick(c.localPods());
    c.relabelPod(pod);
    const next = compile();
    if (isEmptyPlan(planDiff(prev, next))) {
      c.pods = pods; // the ruleset would not change: take that back
      continue;
    }
    const after = c.pods.find((p) => p.namespace === pod.namespace && p.name === pod.name)!;
    out.push({ pod: after, before: pod.labels });
    prev = next;
  }
  c.pods = initial;
  return out;
}

export const IN_FLIGHT = 16;

type Method = 'GET' | 'POST' | 'PATCH';

/** The admin's JSON requests (the answer as JSON text); PATCH bodies are strategic merge patches unless `merge`. */
export interface AdminClient {
  send(method: Method, path: string, body?: object, patch?: 'merge'): Promise<string>;
  /** GET: does the object exist? */
  exists(path: string): Promise<boolean>;
  close(): void;
}

/** The admin's requests, through src/datastore/kube-rest.ts (one keep-alive connection pool). */
export function adminClient(api: KubeApi): AdminClient {
  const rest = createKubeRest(api.adminKubeconfig);
  const method = { GET: HttpMethod.GET, POST: HttpMethod.POST, PATCH: HttpMethod.PATCH } as const;
  return {
    send: async (verb, path, body, patch) =>
      JSON.stringify(
        await rest.request({
          method: method[verb],
          path,
          ...(body ? { body } : {}),
          ...(verb === 'PATCH' ? { patch: patch ?? 'strategic' } : {}),
        }),
      ),
    exists: async (path) => (await rest.get(path)) !== undefined,
    close: () => {},
  };
}

const ns = (name: string) => `/api/v1/namespaces/${name}`;

function podBody(p: PodInfo): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { namespace: p.namespace, name: p.name, labels: p.labels },
    spec: {
      nodeName: p.node,
      containers: [
        {
          name: 'main',
          image: 'lab/pod-server',
          ports: p.ports,
          env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
          resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
        },
      ],
      // No kubelet ever reports these nodes Ready: tolerate every taint, so that no NoExecute taint the node
      // lifecycle controller may add evicts pods in the middle of a run.
      tolerations: [{ operator: 'Exists' }],
    },
  };
}

/** Creates `c`'s namespaces, nodes, policies and pods; reports progress every 1000 pods. */
export async function populateApi(
  api: AdminClient,
  c: SyntheticCluster,
  progress: (msg: string) => void,
): Promise<void> {
  await inParallel(c.namespaces, IN_FLIGHT, async (n) => {
    const body = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: n.name, labels: n.labels } };
    await api.send('POST', '/api/v1/namespaces', body);
  });
  const nodeIP = new Map(c.nodes.map((n) => [n.name, n.ips[0]!]));
  await inParallel(c.nodes, IN_FLIGHT, async (n) => {
    const body = { apiVersion: 'v1', kind: 'Node', metadata: { name: n.name } };
    await api.send('POST', '/api/v1/nodes', body);
    const addresses = n.ips.map((address) => ({ type: 'InternalIP', address }));
    const path = `/api/v1/nodes/${n.name}/status`;
    await api.send('PATCH', path, { status: { addresses } });
  });
  // A new namespace takes pods once the controller manager has made its default ServiceAccount.
  for (const n of c.namespaces) await waitFor(api, `${ns(n.name)}/serviceaccounts/default`);
  await inParallel(c.policies, IN_FLIGHT, async (p) => {
    const path = `/apis/networking.k8s.io/v1/namespaces/${p.namespace}/networkpolicies`;
    await api.send('POST', path, policyManifest(p));
  });
  let done = 0;
  await inParallel(c.pods, IN_FLIGHT, async (p) => {
    await api.send('POST', `${ns(p.namespace)}/pods`, podBody(p));
    const hostIP = nodeIP.get(p.node)!;
    const status = {
      hostIP,
      hostIPs: [{ ip: hostIP }],
      podIP: p.ips[0],
      podIPs: p.ips.map((ip) => ({ ip })),
    };
    const path = `${ns(p.namespace)}/pods/${p.name}/status`;
    await api.send('PATCH', path, { status });
    if (++done % 1000 === 0) progress(`${done}/${c.pods.length} pods created`);
  });
}

async function waitFor(api: AdminClient, path: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await api.exists(path))) {
    if (Date.now() > deadline) throw new Error(`${path}: not there after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The change as a merge patch of the pod's labels (null removes a label). */
export function labelPatch(r: Relabel): object {
  const gone = Object.keys(r.before).filter((k) => !(k in r.pod.labels));
  return { metadata: { labels: { ...Object.fromEntries(gone.map((k) => [k, null])), ...r.pod.labels } } };
}

const podFile = (dir: string, p: PodInfo) => join(dir, `pod-${p.namespace}-${p.name}.json`);

/** Writes `c` as the dir datastore's directory (revision 1). */
export function writeDirCluster(dir: string, c: SyntheticCluster): void {
  mkdirSync(dir, { recursive: true });
  const remote = c.pods.filter((p) => p.node !== LOCAL_NODE);
  writeFileSync(join(dir, 'cluster.json'), JSON.stringify(manifests({ ...c, pods: remote })));
  for (const p of c.localPods()) writeFileSync(podFile(dir, p), JSON.stringify(manifests(onlyPod(p))));
  writeFileSync(join(dir, 'REVISION'), '1\n');
}

/** Writes one changed local pod, then `revision`, each atomically. */
export function writeDirPod(dir: string, p: PodInfo, revision: number): void {
  writeFileAtomic(podFile(dir, p), JSON.stringify(manifests(onlyPod(p))));
  writeFileAtomic(join(dir, 'REVISION'), `${revision}\n`);
}

const onlyPod = (p: PodInfo) => ({ namespaces: [], nodes: [], pods: [p], policies: [] });
