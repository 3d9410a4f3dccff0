// `lab apply` and `lab delete`: change namespaces, pods, NetworkPolicies, ClusterNetworkPolicies,
// GlobalNetworkPolicies and HostEndpoints (of each group they are served as) of a running lab, through the lab's
// cluster directory (what every node's agent watches), and return only once every agent has programmed the change.
import { resolve } from 'node:path';
import type { PodObject } from '../model/k8s.js';
import { podKey } from '../model/k8s.js';
import type { ManifestEntry } from '../model/manifests.js';
import { agentPaths, waitForAgent } from './agents.js';
import { deleteObject, podManifest, writeObject, writeRevision } from './cluster-dir.js';
import { inParallel, type LabDeps, LabError, requireState } from './lab-common.js';
import { addHostNetworkPod, addPod, removePod } from './pods.js';
import { type LabState, type PodState, saveState, withLabLock } from './state.js';

/** How long apply/delete wait for every agent to program the change. */
const AGENT_WAIT_MS = 20_000;

function schedule(state: LabState, pods: readonly PodState[], pod: PodObject): string {
  if (pod.nodeName) {
    if (!state.plan.nodes.some((n) => n.name === pod.nodeName)) {
      const nodes = state.plan.nodes.map((n) => n.name).join(', ');
      throw new LabError(`pod ${podKey(pod)}: spec.nodeName "${pod.nodeName}" is not a lab node (${nodes})`);
    }
    return pod.nodeName;
  }
  const load = (n: string) => pods.filter((p) => p.node === n).length;
  return [...state.plan.nodes].sort((a, b) => load(a.name) - load(b.name))[0]!.name;
}

/** A Pod document and whether it asks for the node's network (spec.hostNetwork, which PodObject leaves out). */
interface PodToApply {
  readonly pod: PodObject;
  readonly hostNetwork: boolean;
}

function podsOf(entries: readonly ManifestEntry[]): PodToApply[] {
  return entries.flatMap(({ object, raw }) => {
    if (object.kind !== 'Pod') return [];
    const spec = raw.spec as { hostNetwork?: unknown } | undefined;
    return [{ pod: object, hostNetwork: spec?.hostNetwork === true }];
  });
}

function samePlacement(p: PodState, { pod, hostNetwork }: PodToApply, node: string): boolean {
  return (
    p.node === node &&
    (p.hostNetwork === true) === hostNetwork &&
    JSON.stringify(p.ports) === JSON.stringify(pod.ports)
  );
}

/** Kinds the lab cannot act on: named, so nothing in a manifest is silently ignored. */
function unsupportedProblems(entries: readonly ManifestEntry[]): string[] {
  return entries.flatMap(({ object: o }) => {
    if (o.kind === 'Node') return [`Node ${o.name}: the lab makes its nodes itself (lab up --nodes N)`];
    if (o.kind === 'Other') {
      const where = o.namespace ? `${o.namespace}/` : '';
      return [
        `${o.objectKind} ${where}${o.name}: kind ${o.apiVersion}/${o.objectKind} is not supported by the lab`,
      ];
    }
    return [];
  });
}

function validateApply(state: LabState, entries: readonly ManifestEntry[]): void {
  const declared = entries.flatMap((e) => (e.object.kind === 'Namespace' ? [e.object.name] : []));
  const namespaces = new Set([...Object.keys(state.namespaces), ...declared]);
  const problems = unsupportedProblems(entries);
  for (const { object: o } of entries) {
    if ((o.kind === 'Pod' || o.kind === 'NetworkPolicy') && !namespaces.has(o.namespace)) {
      problems.push(
        `${o.kind} ${o.namespace}/${o.name}: namespace "${o.namespace}" does not exist (declare a Namespace)`,
      );
    }
  }
  if (problems.length > 0) throw new LabError(problems.join('; '));
}

/**
 * A cluster-scoped document as the API server stores it: without metadata.namespace (which it ignores), so that
 * its file is found again by name alone.
 */
function clusterScoped(raw: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const { namespace: _, ...metadata } = (raw.metadata ?? {}) as Record<string, unknown>;
  return { ...raw, metadata };
}

/** Publishes a new revision and waits until every node's agent has programmed it. */
async function publish(state: LabState): Promise<LabState> {
  const next = { ...state, revision: state.revision + 1 };
  saveState(next);
  writeRevision(state.dir, next.revision);
  await Promise.all(
    state.plan.nodes.map((n) =>
      waitForAgent(agentPaths(state.dir, n.name).statusSocket, next.revision, AGENT_WAIT_MS),
    ),
  );
  return next;
}

async function applyPods(deps: LabDeps, state: LabState, pods: readonly PodToApply[]): Promise<LabState> {
  const current = new Map(state.pods.map((p) => [podKey(p), p]));
  const toCreate: (PodToApply & { node: string })[] = [];
  const toRecreate: PodState[] = [];
  for (const want of pods) {
    const o = want.pod;
    const existing = current.get(podKey(o));
    const node = existing && !o.nodeName ? existing.node : schedule(state, [...current.values()], o);
    if (existing && samePlacement(existing, want, node)) {
      current.set(podKey(o), { ...existing, labels: o.labels });
      writeObject(state.dir, podManifest({ ...existing, labels: o.labels }));
      continue;
    }
    if (existing) toRecreate.push(existing);
    toCreate.push({ ...want, node });
    current.set(podKey(o), { namespace: o.namespace, name: o.name, node } as PodState); // placeholder for scheduling
  }
  await inParallel(toRecreate, 8, (p) => removePod(deps, state, p));
  const created: PodState[] = [];
  try {
    await inParallel(toCreate, 8, async ({ pod, hostNetwork, node }) => {
      // As in a cluster: the Pod object exists (scheduled, no IP) before its sandbox is wired.
      writeObject(state.dir, podManifest({ ...pod, node, hostNetwork }));
      const p = await (hostNetwork ? addHostNetworkPod : addPod)(deps, state, pod, node);
      writeObject(state.dir, podManifest(p)); // the kubelet's status update: the pod's IP
      created.push(p);
    });
  } finally {
    for (const c of created) current.set(podKey(c), c);
    for (const { pod } of toCreate) {
      if (!created.some((c) => podKey(c) === podKey(pod))) {
        current.delete(podKey(pod));
        deleteObject(state.dir, 'Pod', pod.namespace, pod.name);
      }
    }
    state = { ...state, pods: [...current.values()].sort((a, b) => podKey(a).localeCompare(podKey(b))) };
    saveState(state);
  }
  return state;
}

export async function labApply(
  deps: LabDeps,
  dirIn: string,
  entries: readonly ManifestEntry[],
): Promise<LabState> {
  const dir = resolve(dirIn);
  return withLabLock(dir, async () => {
    let state = requireState(dir);
    validateApply(state, entries);
    const namespaces = { ...state.namespaces };
    const policies = new Set(state.policies);
    for (const { object: o, raw } of entries) {
      if (o.kind === 'Namespace') {
        namespaces[o.name] = { ...o.labels, 'kubernetes.io/metadata.name': o.name };
        writeObject(dir, { ...raw, metadata: { ...(raw.metadata as object), labels: namespaces[o.name] } });
      }
      // Policies go to the agents exactly as written: a broken one must reach them broken, and fail closed.
      if (o.kind === 'NetworkPolicy') {
        writeObject(dir, { ...raw, metadata: { ...(raw.metadata as object), namespace: o.namespace } });
        policies.add(`${o.namespace}/${o.name}`);
      }
      if (o.kind === 'ClusterNetworkPolicy') writeObject(dir, clusterScoped(raw));
      if (o.kind === 'GlobalNetworkPolicy' || o.kind === 'HostEndpoint')
        writeObject(dir, clusterScoped(raw), o.group);
    }
    state = { ...state, namespaces, policies: [...policies].sort() };
    state = await applyPods(deps, state, podsOf(entries));
    return publish(state);
  });
}

export async function labDelete(
  deps: LabDeps,
  dirIn: string,
  entries: readonly ManifestEntry[],
): Promise<LabState> {
  const dir = resolve(dirIn);
  return withLabLock(dir, async () => {
    let state = requireState(dir);
    const unsupported = unsupportedProblems(entries);
    if (unsupported.length > 0) throw new LabError(unsupported.join('; '));
    const objects = entries.map((e) => e.object);
    const goneNamespaces = new Set(objects.flatMap((o) => (o.kind === 'Namespace' ? [o.name] : [])));
    const gonePods = new Set(objects.flatMap((o) => (o.kind === 'Pod' ? [podKey(o)] : [])));
    const victims = state.pods.filter((p) => gonePods.has(podKey(p)) || goneNamespaces.has(p.namespace));
    const removed = new Set<string>();
    try {
      await inParallel(victims, 8, async (p) => {
        await removePod(deps, state, p);
        deleteObject(dir, 'Pod', p.namespace, p.name);
        removed.add(podKey(p));
      });
    } finally {
      const gonePolicies = new Set(
        objects.flatMap((o) => (o.kind === 'NetworkPolicy' ? [`${o.namespace}/${o.name}`] : [])),
      );
      for (const key of state.policies) {
        const [ns, name] = key.split('/') as [string, string];
        if (gonePolicies.has(key) || goneNamespaces.has(ns)) deleteObject(dir, 'NetworkPolicy', ns, name);
      }
      for (const ns of goneNamespaces) if (ns !== 'default') deleteObject(dir, 'Namespace', '', ns);
      for (const o of objects) {
        if (o.kind === 'ClusterNetworkPolicy') deleteObject(dir, o.kind, '', o.name);
        if (o.kind === 'GlobalNetworkPolicy' || o.kind === 'HostEndpoint')
          deleteObject(dir, o.kind, '', o.name, o.group);
      }
      const policies = state.policies.filter(
        (k) => !gonePolicies.has(k) && !goneNamespaces.has(k.split('/')[0]!),
      );
      const namespaces = Object.fromEntries(
        Object.entries(state.namespaces).filter(([n]) => !goneNamespaces.has(n) || n === 'default'),
      );
      state = { ...state, namespaces, policies, pods: state.pods.filter((p) => !removed.has(podKey(p))) };
      saveState(state);
    }
    return publish(state);
  });
}
