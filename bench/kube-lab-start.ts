// What the lab on a real control plane costs: `lab up` time with the manifest directory and with
// `--control-plane kubernetes` side by side (each several times, binaries already built by kube/build.sh), and
// the resident memory of every process the real control plane adds, after the demo's pods are applied.
//
//   env -u NODE_EXTRA_CA_CERTS node --import tsx bench/kube-lab-start.ts [--runs N]
//
// Needs root; every lab lives in a private directory and is taken down (also on failure and Ctrl-C). Prints
// figures, never pass/fail.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { formatTable, ms, summarize } from './stats.js';

const run = promisify(execFile);
const REPO = join(import.meta.dirname, '..');
const CLI = join(REPO, 'bin', 'palisade');
const DEMO = join(REPO, 'examples', 'demo.yaml');

interface LabJson {
  agents: Record<string, number>;
  kube?: {
    controlPlane: { pids: Record<string, number> };
    kubelets: Record<string, number>;
    proxies: Record<string, number>;
  };
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

async function palisade(dir: string, ...args: string[]): Promise<void> {
  const env: NodeJS.ProcessEnv = { ...process.env, PALISADE_LAB_DIR: dir };
  delete env.NODE_EXTRA_CA_CERTS;
  await run(CLI, args, { env, maxBuffer: 1 << 24 });
}

let current: string | undefined;
async function down(): Promise<void> {
  if (!current) return;
  const dir = current;
  current = undefined;
  await palisade(dir, 'lab', 'down').catch((e: unknown) => console.error(e));
  rmSync(dir, { recursive: true, force: true });
}
process.once('SIGINT', () => void down().then(() => process.exit(130)));

async function upOnce(controlPlane: 'dir' | 'kubernetes'): Promise<{ ms: number; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'plbench-'));
  current = dir;
  const t0 = performance.now();
  await palisade(dir, 'lab', 'up', '--nodes', '2', '--control-plane', controlPlane);
  return { ms: performance.now() - t0, dir };
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--runs');
  const runs = i > 0 ? Number(process.argv[i + 1]) : 3;
  console.log(
    `machine: ${cpus().length} cores, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const times: Record<string, number[]> = { dir: [], kubernetes: [] };
  let memory: [string, number][] = [];
  for (let r = 0; r < runs; r++) {
    for (const mode of ['dir', 'kubernetes'] as const) {
      const { ms: took, dir } = await upOnce(mode);
      times[mode]!.push(took);
      if (mode === 'kubernetes' && r === runs - 1) {
        await palisade(dir, 'lab', 'apply', '-f', DEMO);
        const s = JSON.parse(readFileSync(join(dir, 'lab.json'), 'utf8')) as LabJson;
        const k = s.kube!;
        memory = [
          ...Object.entries(k.controlPlane.pids).map(
            ([name, pid]) => [name, rssMiB(pid)] as [string, number],
          ),
          ...Object.entries(k.kubelets).map(
            ([n, pid]) => [`lab kubelet ${n}`, rssMiB(pid)] as [string, number],
          ),
          ...Object.entries(k.proxies).map(
            ([n, pid]) => [`kube-proxy ${n}`, rssMiB(pid)] as [string, number],
          ),
          ...Object.entries(s.agents).map(
            ([n, pid]) => [`palisade agent ${n}`, rssMiB(pid)] as [string, number],
          ),
        ];
      }
      await down();
    }
  }
  console.log(`\nlab up, 2 nodes (${runs} runs each, alternating; Kubernetes binaries already built)`);
  console.log(
    formatTable(
      ['control plane', 'first', 'p50', 'max'],
      (['dir', 'kubernetes'] as const).map((m) => {
        const s = summarize(times[m]!);
        return [m, ms(times[m]![0]!), ms(s.p50), ms(s.max)];
      }),
    ),
  );
  console.log('\nresident memory with the demo applied (6 pods), --control-plane kubernetes');
  const total = memory.reduce((a, [, v]) => a + v, 0);
  console.log(
    formatTable(
      ['process', 'RSS MiB'],
      [...memory.map(([n, v]) => [n, v.toFixed(1)]), ['total', total.toFixed(1)]],
    ),
  );
  console.log(
    `\nload after: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
}

try {
  await main();
} finally {
  await down();
}
