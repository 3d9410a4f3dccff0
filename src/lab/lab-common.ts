// What the lab's operations share: their dependencies, their error type, state loading, bounded parallelism.

import type { PodDeps } from './pods.js';
import type { LabState } from './state.js';
import { loadState } from './state.js';

export interface LabDeps extends PodDeps {
  /**
   * The built plugin executables, copied into every node's CNI bin dir as install-cni installs them: the native
   * shim (dist/palisade-cni-shim) as palisade-cni, which hands each invocation to the node's agent, and the Node
   * plugin (dist/palisade-cni) beside it as palisade-cni-node, which the shim runs when the agent is away.
   */
  readonly pluginBinary: string;
  readonly shimBinary: string;
  /** The built CLI (dist/palisade.mjs): each node's agent runs `palisade agent` from it. */
  readonly cliEntry: string;
  /** kube/build.sh: builds (once per pin) the Kubernetes binaries of `--control-plane kubernetes`. */
  readonly kubeBuildScript: string;
}

export class LabError extends Error {
  override readonly name = 'LabError';
}

export function requireState(dir: string): LabState {
  const state = loadState(dir);
  if (!state) throw new LabError(`no lab in ${dir} (start one with \`palisade lab up --dir ${dir}\`)`);
  return state;
}

/** Runs tasks with at most `limit` in flight; rejects with the first error after all have settled. */
export async function inParallel<T>(
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
