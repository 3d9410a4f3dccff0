// The pinned Kubernetes binaries: kube/build.sh builds them once per pin into a cache outside the checkout
// and prints their directory. PALISADE_KUBE_BIN names a directory of them instead (e.g. a release's).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Runner } from '../../dataplane/runner.js';
import type { Logger } from '../../util/log.js';

export const KUBE_PROGRAMS = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kube-proxy',
  'kubectl',
] as const;

export async function kubeBinaries(runner: Runner, log: Logger, buildScript: string): Promise<string> {
  const given = process.env.PALISADE_KUBE_BIN;
  const dir = given ?? (await build(runner, log, buildScript));
  const missing = KUBE_PROGRAMS.filter((p) => !existsSync(join(dir, p)));
  if (missing.length > 0) {
    throw new Error(`${given ? 'PALISADE_KUBE_BIN' : buildScript} ${dir}: no ${missing.join(', ')}`);
  }
  return dir;
}

async function build(runner: Runner, log: Logger, buildScript: string): Promise<string> {
  log.info(
    { script: buildScript },
    'the Kubernetes binaries: built once per pin (~20 min cold; `make kube` shows progress)',
  );
  const { stdout } = await runner.run(['bash', buildScript], { timeoutMs: 60 * 60_000 });
  const dir = stdout.trim().split('\n').at(-1) ?? '';
  if (!dir) throw new Error(`${buildScript} printed no directory`);
  return dir;
}
