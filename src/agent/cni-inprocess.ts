// CNI invocations forwarded by the native shim (src/cni/shim/palisade-cni.c), run in the agent's process: the
// same runPlugin the Node plugin runs, so the answer is byte for byte what the plugin would print. What it saves
// is Node's start-up (~27 ms per exec). Its log lines go to the agent's log, with the pod's container ID.
import { existsSync } from 'node:fs';
import { runPlugin } from '../cni/plugin.js';
import type { Runner } from '../dataplane/runner.js';
import type { Logger } from '../util/log.js';
import type { CniAnswer } from './cni-socket.js';

export function cniInProcess(deps: { runner: Runner; log: Logger }) {
  const log = deps.log.child({ component: 'cni' });
  return (env: Readonly<Record<string, string>>, stdin: string): Promise<CniAnswer> =>
    runPlugin(env, stdin, { runner: deps.runner, log, netnsExists: (p) => existsSync(p) });
}
