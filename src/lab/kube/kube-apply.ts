// `lab apply|delete -f` on the real control plane: every document goes through the API server, checked first
// with a server-side dry run (one the server rejects is reported with its kind, name and the server's message,
// and nothing of the apply is done), then applied with the pinned kubectl. The command returns once the pods
// have settled (every pod Running, or gone) and every node's agent has programmed what the API now holds.
//
// "Programmed" is read from each agent's status: the newest resourceVersion it has programmed per resource. Pods
// and Namespaces are waited for at the newest resourceVersion among the objects the API holds. A deletion
// leaves no object to read a version from, so the lab bumps a barrier NetworkPolicy (in the agents' own
// namespace, selecting no pod) after every change: once an agent has programmed the barrier, it has programmed
// every NetworkPolicy event before it. A change that names ClusterNetworkPolicies bumps a barrier
// ClusterNetworkPolicy the same way (Baseline, last, selecting no pod, no rules), made on first use: it then
// stays in the cluster, so agents and `kubectl get cnp` see it (tests read it as BARRIER_CLUSTER_POLICY).
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { CommandError } from '../../dataplane/runner.js';
import { createKubeRest, HttpMethod, type KubeRest } from '../../datastore/kube-rest.js';
import {
  CLUSTER_NETWORK_POLICY_API_VERSION,
  isClusterNetworkPolicyDoc,
} from '../../model/cluster-network-policy-parse.js';
import { isObject } from '../../model/k8s.js';
import { agentPaths, agentStatus } from '../agents.js';
import { type LabDeps, LabError } from '../lab-common.js';
import type { LabState } from '../state.js';
import { kubectl } from './kubectl.js';
import { AGENT_NAMESPACE, kubePaths } from './plan.js';

const SETTLE_TIMEOUT_MS = 120_000;
export const BARRIER_POLICY = 'palisade-lab-barrier';
export const BARRIER_CLUSTER_POLICY = 'palisade-lab-barrier';

interface ObjectMeta {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; deletionTimestamp?: string };
  spec?: { hostNetwork?: boolean };
  status?: { phase?: string; podIP?: string };
}

function requireKube(state: LabState) {
  if (!state.kube)
    throw new LabError('this lab runs without a control plane (lab up --control-plane kubernetes)');
  return { bin: state.kube.controlPlane.bin, paths: kubePaths(state.dir) };
}

function commandMessage(err: unknown): string {
  if (err instanceof CommandError) return err.stderr.trim() || err.message;
  return err instanceof Error ? err.message : String(err);
}

interface Documents {
  readonly namespaces: string;
  readonly rest: string;
  readonly names: string[];
  /** Some document is a ClusterNetworkPolicy (policy.networking.k8s.io). */
  readonly clusterPolicies: boolean;
}

/** The documents of the files, Namespaces apart: objects in a new namespace can be checked only once it exists. */
function splitDocuments(files: readonly string[]): Documents {
  const namespaces: string[] = [];
  const rest: string[] = [];
  const names: string[] = [];
  let clusterPolicies = false;
  for (const f of files) {
    for (const doc of parseAllDocuments(readFileSync(f === '-' ? 0 : f, 'utf8'))) {
      const value: unknown = doc.toJS();
      if (!isObject(value)) continue;
      const text = doc.toString();
      const items = value.kind === 'List' && Array.isArray(value.items) ? value.items : [value];
      if (items.some(isClusterNetworkPolicyDoc)) clusterPolicies = true;
      if (value.kind === 'Namespace' && isObject(value.metadata) && typeof value.metadata.name === 'string') {
        namespaces.push(text);
        names.push(value.metadata.name);
      } else rest.push(text);
    }
  }
  return { namespaces: namespaces.join('---\n'), rest: rest.join('---\n'), names, clusterPolicies };
}

export async function kubeApply(deps: LabDeps, state: LabState, files: readonly string[]): Promise<void> {
  const tool = requireKube(state);
  const run = (args: string[], input: string) => kubectl(deps.runner, tool, [...args, '-f', '-'], input);
  const docs = splitDocuments(files);
  const rejected = (err: unknown) =>
    new LabError(`the API server rejected the manifests; nothing was applied:\n${commandMessage(err)}`);
  if (docs.namespaces)
    await run(['apply', '--dry-run=server'], docs.namespaces).catch((err: unknown) => {
      throw rejected(err);
    });
  // New namespaces are created first, so that what goes in them can be checked; if that check fails, they go.
  const api = createKubeRest(kubePaths(state.dir).adminKubeconfig);
  const created: string[] = [];
  for (const name of docs.names) {
    if (!(await api.get(`/api/v1/namespaces/${encodeURIComponent(name)}`))) created.push(name);
  }
  if (created.length > 0) {
    await run(['apply'], docs.namespaces);
    // Pods are admitted in a namespace once the controller manager has made its default ServiceAccount.
    for (const name of created) await defaultServiceAccount(api, name);
  }
  if (docs.rest) {
    try {
      await run(['apply', '--dry-run=server'], docs.rest);
    } catch (err) {
      if (created.length > 0)
        await kubectl(deps.runner, tool, ['delete', 'namespace', '--wait=false', ...created]);
      throw rejected(err);
    }
  }
  try {
    // Namespaces were applied whole already when some of them were new.
    if (docs.namespaces && created.length === 0) await run(['apply'], docs.namespaces);
    if (docs.rest) await run(['apply'], docs.rest);
  } catch (err) {
    throw new LabError(`kubectl apply failed:\n${commandMessage(err)}`);
  }
  await settle(state, { clusterPolicies: docs.clusterPolicies });
}

export async function kubeDelete(deps: LabDeps, state: LabState, files: readonly string[]): Promise<void> {
  const tool = requireKube(state);
  const args = files.flatMap((f) => ['-f', f]);
  try {
    await kubectl(deps.runner, tool, ['delete', '--dry-run=server', '--ignore-not-found', ...args]);
  } catch (err) {
    throw new LabError(`the API server refused the deletion; nothing was deleted:\n${commandMessage(err)}`);
  }
  try {
    await kubectl(deps.runner, tool, ['delete', '--ignore-not-found', '--wait=true', ...args]);
  } catch (err) {
    throw new LabError(`kubectl delete failed:\n${commandMessage(err)}`);
  }
  await settle(state, { clusterPolicies: splitDocuments(files).clusterPolicies });
}

async function defaultServiceAccount(api: KubeRest, namespace: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await api.get(`/api/v1/namespaces/${encodeURIComponent(namespace)}/serviceaccounts/default`))) {
    if (Date.now() > deadline)
      throw new LabError(`namespace ${namespace}: no default ServiceAccount after 30 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function items(api: KubeRest, path: string): Promise<ObjectMeta[]> {
  const list = await api.request({ method: HttpMethod.GET, path });
  return Array.isArray(list.items) ? (list.items as ObjectMeta[]) : [];
}

function newest(objects: readonly ObjectMeta[]): string {
  let best = 0n;
  for (const o of objects) {
    const rv = o.metadata?.resourceVersion;
    if (rv && /^\d+$/.test(rv) && BigInt(rv) > best) best = BigInt(rv);
  }
  return best.toString();
}

/**
 * Waits for every pod to run (or be gone), then for every agent to program the API's state; with
 * `clusterPolicies`, their ClusterNetworkPolicies too.
 */
export async function settle(state: LabState, opts: { clusterPolicies?: boolean } = {}): Promise<void> {
  const api = createKubeRest(kubePaths(state.dir).adminKubeconfig);
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  let pods: ObjectMeta[];
  for (;;) {
    pods = await items(api, '/api/v1/pods');
    const pending = pods.filter(
      (p) => p.metadata?.deletionTimestamp || p.status?.phase !== 'Running' || !p.status.podIP,
    );
    if (pending.length === 0) break;
    if (Date.now() > deadline) {
      const names = pending.map(
        (p) => `${p.metadata?.namespace}/${p.metadata?.name} (${p.status?.phase ?? '?'})`,
      );
      throw new LabError(`pods not running after ${SETTLE_TIMEOUT_MS / 1000} s: ${names.join(', ')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const targets: Record<string, string> = {
    pods: newest(pods),
    namespaces: newest(await items(api, '/api/v1/namespaces')),
    networkpolicies: await bumpBarrier(api),
    ...(opts.clusterPolicies ? { clusternetworkpolicies: await bumpClusterBarrier(api) } : {}),
  };
  await Promise.all(
    state.plan.nodes.map((n) =>
      waitForRevisions(agentPaths(state.dir, n.name).statusSocket, targets, deadline),
    ),
  );
}

const SELECTS_NOTHING = { matchLabels: { 'palisade.dev/lab-barrier': 'selects-nothing' } };

/** Creates or updates the barrier policy; returns its new resourceVersion. */
function bumpBarrier(api: KubeRest): Promise<string> {
  return bump(api, `/apis/networking.k8s.io/v1/namespaces/${AGENT_NAMESPACE}/networkpolicies`, {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: BARRIER_POLICY, namespace: AGENT_NAMESPACE },
    // Selects no pod: it only orders the agents' NetworkPolicy watch.
    spec: { podSelector: SELECTS_NOTHING, policyTypes: ['Ingress'] },
  });
}

/** The same for ClusterNetworkPolicies: last of all, selecting no pod, no rules. */
function bumpClusterBarrier(api: KubeRest): Promise<string> {
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

/** Stamps an annotation on the object (creating it when missing); returns its new resourceVersion. */
async function bump(
  api: KubeRest,
  collection: string,
  body: { metadata: { name: string; namespace?: string } } & Record<string, unknown>,
): Promise<string> {
  const stamp = { 'palisade.dev/lab-barrier': String(Date.now()) };
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

async function waitForRevisions(
  statusSocket: string,
  targets: Readonly<Record<string, string>>,
  deadline: number,
): Promise<void> {
  let last = 'no answer';
  for (;;) {
    try {
      const s = await agentStatus(statusSocket);
      const behind = Object.entries(targets).filter(
        ([r, rv]) => BigInt(s.revisions?.[r] ?? '0') < BigInt(rv),
      );
      if (s.ready && behind.length === 0) return;
      last = behind.map(([r, rv]) => `${r} ${s.revisions?.[r] ?? 'none'} < ${rv}`).join(', ');
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline)
      throw new LabError(`agent at ${statusSocket} has not programmed the change: ${last}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
