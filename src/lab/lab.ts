// The lab's operations: up, apply, delete, status, probe, down. State lives in the lab directory so separate
// commands work on the same lab; a lock serialises them. Nothing touches the root network namespace.
import { existsSync, rmdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Runner } from '../dataplane/runner.js';
import type { PodObject } from '../model/k8s.js';
import { podKey } from '../model/k8s.js';
import type { ManifestObject } from '../model/manifests.js';
import { writeNodeFiles } from './node-files.js';
import { nodeScript, planLab, switchScript } from './plan.js';
import { addPod, deleteNetns, type PodDeps, removePod } from './pods.js';
import { type Matrix, type ProbeOptions, probeMatrix } from './probe.js';
import { type LabState, loadState, type PodState, saveState, statePath, withLabLock } from './state.js';

export interface LabDeps extends PodDeps {
  /** The built plugin executable (dist/palisade-cni), copied into every node's CNI bin dir. */
  readonly pluginBinary: string;
}

export class LabError extends Error {
  override readonly name = 'LabError';
}

function requireState(dir: string): LabState {
  const state = loadState(dir);
  if (!state) throw new LabError(`no lab in ${dir} (start one with \`palisade lab up --dir ${dir}\`)`);
  return state;
}

async function netnsWithPrefix(runner: Runner, prefix: string): Promise<string[]> {
  const { stdout } = await runner.run(['ip', 'netns', 'list']);
  return stdout
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(`${prefix}-`));
}

/** Runs tasks with at most `limit` in flight; rejects with the first error after all have settled. */
async function inParallel<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  const errors: unknown[] = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item).catch((e: unknown) => errors.push(e));
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (errors.length > 0) throw errors[0];
}

export async function labUp(deps: LabDeps, opts: { dir: string; nodes: number }): Promise<LabState> {
  const dir = resolve(opts.dir);
  return withLabLock(dir, async () => {
    if (existsSync(statePath(dir)))
      throw new LabError(`a lab is already up in ${dir} (\`palisade lab down --dir ${dir}\`)`);
    const plan = planLab(dir, opts.nodes);
    const leftovers = await netnsWithPrefix(deps.runner, plan.prefix);
    if (leftovers.length > 0) {
      throw new LabError(
        `network namespaces of an earlier lab in ${dir} still exist (${leftovers.join(', ')}); run \`palisade lab down --dir ${dir}\``,
      );
    }
    const state: LabState = {
      version: 1,
      dir,
      plan,
      namespaces: { default: { 'kubernetes.io/metadata.name': 'default' } },
      pods: [],
    };
    try {
      for (const ns of [plan.switchNetns, ...plan.nodes.map((n) => n.netns)]) {
        await deps.runner.run(['ip', 'netns', 'add', ns]);
      }
      await deps.runner.run(['ip', '-batch', '-'], {
        netns: `/run/netns/${plan.switchNetns}`,
        input: switchScript(plan),
      });
      for (const node of plan.nodes) {
        await deps.runner.run(['ip', '-batch', '-'], {
          netns: `/run/netns/${node.netns}`,
          input: nodeScript(plan, node),
        });
        await deps.runner.run(['sysctl', '-qw', 'net.ipv4.ip_forward=1'], {
          netns: `/run/netns/${node.netns}`,
        });
        writeNodeFiles(dir, node, deps.pluginBinary);
      }
      saveState(state);
    } catch (err) {
      await teardown(deps, dir, plan.prefix, []);
      throw err;
    }
    deps.log.info({ dir, prefix: plan.prefix, nodes: plan.nodes.length }, 'lab up');
    return state;
  });
}

function schedule(state: LabState, pods: readonly PodState[], pod: PodObject): string {
  if (pod.nodeName) {
    if (!state.plan.nodes.some((n) => n.name === pod.nodeName)) {
      throw new LabError(
        `pod ${podKey(pod)}: spec.nodeName "${pod.nodeName}" is not a lab node (${state.plan.nodes.map((n) => n.name).join(', ')})`,
      );
    }
    return pod.nodeName;
  }
  const load = (n: string) => pods.filter((p) => p.node === n).length;
  return [...state.plan.nodes].sort((a, b) => load(a.name) - load(b.name))[0]!.name;
}

function samePlacement(p: PodState, pod: PodObject, node: string): boolean {
  return p.node === node && JSON.stringify(p.ports) === JSON.stringify(pod.ports);
}

/** Kinds the lab cannot act on (yet): named, so nothing in a manifest is silently ignored. */
function unsupportedProblems(objects: readonly ManifestObject[]): string[] {
  return objects.flatMap((o) => {
    if (o.kind === 'NetworkPolicy') {
      return [`NetworkPolicy ${o.namespace}/${o.name}: the lab does not run policy agents yet (issue 3)`];
    }
    if (o.kind === 'Other') {
      const where = o.namespace ? `${o.namespace}/` : '';
      return [
        `${o.objectKind} ${where}${o.name}: kind ${o.apiVersion}/${o.objectKind} is not supported by the lab yet`,
      ];
    }
    return [];
  });
}

/** Checks a whole manifest set against the lab before anything changes. */
function validateApply(state: LabState, objects: readonly ManifestObject[]): void {
  const problems: string[] = [];
  const namespaces = new Set([
    ...Object.keys(state.namespaces),
    ...objects.filter((o) => o.kind === 'Namespace').map((o) => o.name),
  ]);
  problems.push(...unsupportedProblems(objects));
  for (const o of objects) {
    if (o.kind === 'Pod' && !namespaces.has(o.namespace))
      problems.push(`pod ${podKey(o)}: namespace "${o.namespace}" does not exist (declare a Namespace)`);
  }
  if (problems.length > 0) throw new LabError(problems.join('; '));
}

export async function labApply(
  deps: LabDeps,
  dirIn: string,
  objects: readonly ManifestObject[],
): Promise<LabState> {
  const dir = resolve(dirIn);
  return withLabLock(dir, async () => {
    let state = requireState(dir);
    validateApply(state, objects);
    const namespaces = { ...state.namespaces };
    for (const o of objects) {
      if (o.kind === 'Namespace') namespaces[o.name] = { ...o.labels, 'kubernetes.io/metadata.name': o.name };
    }
    state = { ...state, namespaces };
    const pods = new Map(state.pods.map((p) => [podKey(p), p]));
    const toCreate: { pod: PodObject; node: string }[] = [];
    const toRecreate: PodState[] = [];
    for (const o of objects) {
      if (o.kind !== 'Pod') continue;
      const existing = pods.get(podKey(o));
      const node = existing && !o.nodeName ? existing.node : schedule(state, [...pods.values()], o);
      if (existing && samePlacement(existing, o, node)) {
        pods.set(podKey(o), { ...existing, labels: o.labels });
        continue;
      }
      if (existing) toRecreate.push(existing);
      toCreate.push({ pod: o, node });
      pods.set(podKey(o), { namespace: o.namespace, name: o.name, node } as PodState); // placeholder for scheduling
    }
    await inParallel(toRecreate, 8, (p) => removePod(deps, state, p));
    const created: PodState[] = [];
    try {
      await inParallel(toCreate, 8, async ({ pod, node }) => {
        created.push(await addPod(deps, state, pod, node));
      });
    } finally {
      for (const c of created) pods.set(podKey(c), c);
      for (const { pod } of toCreate)
        if (!created.some((c) => podKey(c) === podKey(pod))) pods.delete(podKey(pod));
      state = { ...state, pods: [...pods.values()].sort((a, b) => podKey(a).localeCompare(podKey(b))) };
      saveState(state);
    }
    return state;
  });
}

export async function labDelete(
  deps: LabDeps,
  dirIn: string,
  objects: readonly ManifestObject[],
): Promise<LabState> {
  const dir = resolve(dirIn);
  return withLabLock(dir, async () => {
    let state = requireState(dir);
    const unsupported = unsupportedProblems(objects);
    if (unsupported.length > 0) throw new LabError(unsupported.join('; '));
    const goneNamespaces = new Set(objects.filter((o) => o.kind === 'Namespace').map((o) => o.name));
    const gonePods = new Set(objects.filter((o) => o.kind === 'Pod').map((o) => podKey(o as PodObject)));
    const victims = state.pods.filter((p) => gonePods.has(podKey(p)) || goneNamespaces.has(p.namespace));
    const removed = new Set<string>();
    try {
      await inParallel(victims, 8, async (p) => {
        await removePod(deps, state, p);
        removed.add(podKey(p));
      });
    } finally {
      const namespaces = Object.fromEntries(
        Object.entries(state.namespaces).filter(([n]) => !goneNamespaces.has(n) || n === 'default'),
      );
      state = { ...state, namespaces, pods: state.pods.filter((p) => !removed.has(podKey(p))) };
      saveState(state);
    }
    return state;
  });
}

export function labStatus(dirIn: string) {
  const state = requireState(resolve(dirIn));
  return {
    nodes: state.plan.nodes.map((n) => ({ name: n.name, underlayIP: n.underlayIP, podCIDR: n.podCIDR })),
    pods: state.pods.map((p) => ({
      namespace: p.namespace,
      name: p.name,
      node: p.node,
      ip: p.ip,
      labels: { ...p.labels },
    })),
  };
}

/** SCTP needs the kernel's SCTP stack (CONFIG_IP_SCTP); without it every probe would fail, so say why. */
export function sctpAvailable(): boolean {
  return existsSync('/proc/sys/net/sctp');
}

export async function labProbe(dirIn: string, opts: ProbeOptions): Promise<Matrix> {
  const state = requireState(resolve(dirIn));
  if (opts.protocol === 'SCTP' && !sctpAvailable()) {
    throw new LabError(
      'cannot probe SCTP: this kernel has no SCTP support (CONFIG_IP_SCTP), so no pod can serve it',
    );
  }
  const pods = state.pods.map((p) => ({ key: podKey(p), ip: p.ip, controlSocket: p.controlSocket }));
  return (await probeMatrix(pods, opts)).matrix;
}

async function teardown(
  deps: LabDeps,
  dir: string,
  prefix: string,
  pods: readonly PodState[],
): Promise<string[]> {
  const problems: string[] = [];
  const state = loadState(dir);
  if (state) {
    await inParallel(pods, 8, (p) => removePod(deps, state, p)).catch((e: unknown) =>
      problems.push(String(e)),
    );
  }
  for (const ns of await netnsWithPrefix(deps.runner, prefix)) {
    await deleteNetns(deps.runner, ns).catch((e: unknown) => problems.push(String(e)));
  }
  for (const sub of ['nodes', 'pods', 'lab.json']) rmSync(join(dir, sub), { recursive: true, force: true });
  return problems;
}

/** Removes every namespace, veth, process and file the lab made, even after a half-finished `up`. */
export async function labDown(deps: LabDeps, dirIn: string): Promise<void> {
  const dir = resolve(dirIn);
  await withLabLock(dir, async () => {
    const state = loadState(dir);
    const prefix = state?.plan.prefix ?? planLab(dir, 1).prefix;
    const problems = await teardown(deps, dir, prefix, state?.pods ?? []);
    if (problems.length > 0) deps.log.warn({ problems }, 'lab down: some resources needed a second attempt');
    deps.log.info({ dir }, 'lab down');
  });
  try {
    rmdirSync(dir); // only if the lab left it empty: files of others stay
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'ENOENT') throw err;
  }
}
