// Latency of the on-disk store as the plugin sees it: a /24 with 100 addresses in use, a fresh store instance
// per operation (one per plugin process). Not a test; run by hand and copy the figures into the ADR:
//   node --import tsx src/ipam/testdata/bench.ts [dir-on-the-target-filesystem]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFileStore } from '../file-store.js';
import { allocate, gc, release } from '../ipam.js';
import { mustParse, owner } from './helpers.js';

const ROUNDS = 300;
const config = mustParse({ subnet: '10.0.0.0/24' });

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function summary(name: string, ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!.toFixed(3);
  return `${name.padEnd(34)} p50 ${at(0.5)} ms  p90 ${at(0.9)} ms  p99 ${at(0.99)} ms`;
}

async function run(root: string, durable: boolean): Promise<void> {
  const dataDir = mkdtempSync(join(root, 'palisade-ipam-bench-'));
  const store = () => createFileStore({ dataDir, network: 'bench', durable });
  try {
    for (let i = 0; i < 100; i++) await allocate(store(), config, owner(`fill-${i}`));
    const add: number[] = [];
    const del: number[] = [];
    const noopDel: number[] = [];
    const gcs: number[] = [];
    const valid = Array.from({ length: 100 }, (_, i) => owner(`fill-${i}`));
    for (let i = 0; i < ROUNDS; i++) {
      add.push(await time(() => allocate(store(), config, owner(`pod-${i}`))));
      del.push(await time(() => release(store(), owner(`pod-${i}`))));
      noopDel.push(await time(() => release(store(), owner(`pod-${i}`))));
      if (i % 10 === 0) gcs.push(await time(() => gc(store(), valid)));
    }
    const tag = durable ? 'fsync' : 'no fsync';
    console.log(summary(`allocate (${tag})`, add));
    console.log(summary(`release (${tag})`, del));
    console.log(summary(`release, nothing held: scan (${tag})`, noopDel));
    console.log(summary(`gc, 100 records all valid (${tag})`, gcs));
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const root = process.argv[2] ?? tmpdir();
await run(root, true);
await run(root, false);
