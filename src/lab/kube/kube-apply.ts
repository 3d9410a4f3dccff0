// `lab apply|delete -f` on the real control plane: every document goes through the API server, checked first
// with a server-side dry run (one the server rejects is reported with its kind, name and the server's message,
// and nothing of the apply is done), then applied with the pinned kubectl. The command returns once the pods
// have settled (every pod Running, or gone) and every node's agent has programmed what the API now holds.
//
// "Programmed" is read from each agent's status: the newest resourceVersion it has programmed per resource. Pods
// and Namespaces are waited for at the newest resourceVersion among the objects the API holds. A deletion
// leaves no object to read a version from, so the lab bumps a barrier NetworkPolicy after every change, and a
// barrier of each other policy resource the change names: ClusterNetworkPolicies, and GlobalNetworkPolicies and
// HostEndpoints per group (kube-barriers.ts).
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { CommandError } from '../../dataplane/runner.js';
import { type CalicoKindResource, calicoKindResource } from '../../datastore/kube-convert-calico.js';
import { createKubeRest, HttpMethod, type KubeRest } from '../../datastore/kube-rest.js';
import { isClusterNetworkPolicyDoc } from '../../model/cluster-network-policy-parse.js';
import type { CalicoCompatGroup } from '../../model/global-network-policy.js';
import { isObject } from '../../model/k8s.js';
import { calicoKindOf } from '../../model/manifests.js';
import { agentPaths, agentStatus } from '../agents.js';
import { type LabDeps, LabError } from '../lab-common.js';
import type { LabState } from '../state.js';
import { bumpBarrier, bumpCalicoKindBarrier, bumpClusterBarrier } from './kube-barriers.js';
import { kubectl } from './kubectl.js';
import { kubePaths } from './plan.js';

export { BARRIER_CLUSTER_POLICY, BARRIER_POLICY, isLabBarrier } from './kube-barriers.js';

const SETTLE_TIMEOUT_MS = 120_000;

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
  /** The GlobalNetworkPolicy and HostEndpoint resources (kind and group) the documents name. */
  readonly calicoKinds: CalicoKindResource[];
}

/** The resource of a GlobalNetworkPolicy or HostEndpoint document, in its group. */
function calicoKindResourceOf(doc: unknown): CalicoKindResource | undefined {
  const kind = calicoKindOf(doc);
  if (!kind || !isObject(doc)) return undefined;
  const group = String(doc.apiVersion).split('/')[0] as CalicoCompatGroup;
  return calicoKindResource(kind === 'HostEndpoint' ? 'hostendpoints' : 'globalnetworkpolicies', group);
}

/** The documents of the files, Namespaces apart: objects in a new namespace can be checked only once it exists. */
function splitDocuments(files: readonly string[]): Documents {
  const namespaces: string[] = [];
  const rest: string[] = [];
  const names: string[] = [];
  let clusterPolicies = false;
  const calicoKinds = new Set<CalicoKindResource>();
  for (const f of files) {
    for (const doc of parseAllDocuments(readFileSync(f === '-' ? 0 : f, 'utf8'))) {
      const value: unknown = doc.toJS();
      if (!isObject(value)) continue;
      const text = doc.toString();
      const items = value.kind === 'List' && Array.isArray(value.items) ? value.items : [value];
      if (items.some(isClusterNetworkPolicyDoc)) clusterPolicies = true;
      for (const item of items) {
        const resource = calicoKindResourceOf(item);
        if (resource) calicoKinds.add(resource);
      }
      if (value.kind === 'Namespace' && isObject(value.metadata) && typeof value.metadata.name === 'string') {
        namespaces.push(text);
        names.push(value.metadata.name);
      } else rest.push(text);
    }
  }
  return {
    namespaces: namespaces.join('---\n'),
    rest: rest.join('---\n'),
    names,
    clusterPolicies,
    calicoKinds: [...calicoKinds].sort(),
  };
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
  await settle(state, docs);
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
  await settle(state, splitDocuments(files));
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
 * `clusterPolicies`, their ClusterNetworkPolicies too, and the GlobalNetworkPolicies and HostEndpoints of each
 * resource in `calicoKinds`.
 */
export async function settle(
  state: LabState,
  opts: { clusterPolicies?: boolean; calicoKinds?: readonly CalicoKindResource[] } = {},
): Promise<void> {
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
  for (const r of opts.calicoKinds ?? []) targets[r] = await bumpCalicoKindBarrier(api, r);
  await Promise.all(
    state.plan.nodes.map((n) =>
      waitForRevisions(agentPaths(state.dir, n.name).statusSocket, targets, deadline),
    ),
  );
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
