// Runs testdata/worker.ts as separate OS processes: bundled once with esbuild, then started with plain node.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { FileStoreStep } from '../file-store.js';

export interface WorkerJob {
  readonly mode: 'allocate' | 'crash' | 'loop';
  readonly dataDir: string;
  readonly network: string;
  readonly ipam: unknown;
  readonly containerID: string;
  readonly crashAt?: FileStoreStep;
}

export interface Worker {
  readonly child: ChildProcess;
  /** Resolves once the worker printed "ready". */
  readonly ready: Promise<void>;
  readonly exit: Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
  }>;
}

/** Bundles the worker into `outDir` and returns the bundle's path. */
export async function bundleWorker(outDir: string): Promise<string> {
  const outfile = join(outDir, 'ipam-worker.mjs');
  await build({
    entryPoints: [fileURLToPath(new URL('./worker.ts', import.meta.url))],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile,
    logLevel: 'warning',
  });
  return outfile;
}

/** The environment for a child: NODE_EXTRA_CA_CERTS costs ~45 ms per start here and no worker needs TLS. */
function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  return env;
}

export function startWorker(bundle: string, job: WorkerJob): Worker {
  const child = spawn(process.execPath, [bundle, JSON.stringify(job)], {
    env: childEnv(),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (stdout.startsWith('ready\n')) resolve();
    });
    child.once('exit', () => reject(new Error(`worker exited before it was ready: ${stderr}`)));
  });
  ready.catch(() => undefined); // observed through `exit` when nobody waits for readiness
  const exit = new Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
  }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, ready, exit };
}
