// The pinned kubectl, run against the lab as its admin (through the loopback forwarder).
import { join } from 'node:path';
import type { Runner, RunResult } from '../../dataplane/runner.js';
import type { KubePaths } from './plan.js';

export function kubectlArgv(bin: string, paths: KubePaths, args: readonly string[]): string[] {
  return [join(bin, 'kubectl'), `--kubeconfig=${paths.adminKubeconfig}`, ...args];
}

export function kubectl(
  runner: Runner,
  opts: { bin: string; paths: KubePaths },
  args: readonly string[],
  input?: string,
): Promise<RunResult> {
  return runner.run(kubectlArgv(opts.bin, opts.paths, args), {
    timeoutMs: 120_000,
    ...(input !== undefined ? { input } : {}),
  });
}
