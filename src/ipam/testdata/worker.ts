// A stand-in for the CNI plugin process in the multi-process tests. The test bundles it with esbuild and runs it
// with plain node (fast start). One JSON argument describes the job; see `Job`.
//   allocate  print "ready", wait for a line on stdin (a start barrier), allocate, print the addresses as JSON
//   crash     allocate (and release) with a store that SIGKILLs this process at step `crashAt`
//   loop      print "ready", then allocate owner i and release owner i-1 forever (the test kills it)
import { parseIpamConfig } from '../config.js';
import { createFileStore, type FileStoreStep } from '../file-store.js';
import { allocate, release } from '../ipam.js';
import type { Owner } from '../types.js';
import type { WorkerJob as Job } from './processes.js';

const RELEASE_STEPS: readonly FileStoreStep[] = ['record-read', 'record-claimed'];

function waitForLine(): Promise<void> {
  return new Promise((resolve) => process.stdin.once('data', () => resolve()));
}

async function run(job: Job): Promise<void> {
  const parsed = parseIpamConfig(job.ipam);
  if (!parsed.ok) throw new Error(parsed.errors.join('; '));
  const config = parsed.config;
  const store = createFileStore({ dataDir: job.dataDir, network: job.network });
  const owner = (suffix = ''): Owner => ({ containerID: `${job.containerID}${suffix}`, ifname: 'eth0' });
  if (job.mode === 'allocate') {
    process.stdout.write('ready\n');
    await waitForLine();
    const got = await allocate(store, config, owner());
    process.stdout.write(`${JSON.stringify(got.map((a) => a.ip))}\n`);
    process.exit(0);
  }
  if (job.mode === 'crash') {
    const crashing = createFileStore({
      dataDir: job.dataDir,
      network: job.network,
      onStep: (step) => {
        if (step === job.crashAt) process.kill(process.pid, 'SIGKILL');
      },
    });
    const releasing = job.crashAt !== undefined && RELEASE_STEPS.includes(job.crashAt);
    await allocate(releasing ? store : crashing, config, owner());
    if (releasing) await release(crashing, owner());
    process.exit(3); // the step was never reached
  }
  process.stdout.write('ready\n');
  for (let i = 0; ; i++) {
    await allocate(store, config, owner(`-${i}`));
    if (i > 0) await release(store, owner(`-${i - 1}`));
  }
}

run(JSON.parse(process.argv[2] ?? '{}') as Job).then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(2);
  },
);
