// A real `palisade agent` in a test's node netns, for CNI tests through the native shim: started detached (its pid
// is the agent's: nsenter with only --net execs in place), ready once its status says so, stopped by its pid.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDetached } from '../../src/dataplane/runner.js';
import { agentStatus } from '../../src/lab/agents.js';
import { REPO } from './netns.js';

export interface TestAgent {
  readonly pid: number;
  readonly cniSocket: string;
  readonly log: string;
  /** SIGTERM, then SIGKILL after 5 s; resolves once the process is gone. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

/** Starts an agent for node `node-1` in `nodeNs`, on an empty cluster directory, and waits until it is ready. */
export async function startTestAgent(opts: {
  dir: string;
  nodeNs: string;
  ipamDir: string;
  network?: string;
}): Promise<TestAgent> {
  const cluster = join(opts.dir, 'cluster');
  mkdirSync(cluster, { recursive: true });
  const cniSocket = join(opts.dir, 'agent-cni.sock');
  const status = join(opts.dir, 'agent-status.sock');
  const log = join(opts.dir, 'agent.log');
  const argv = ['agent', '--node', 'node-1', '--datastore', `dir:${cluster}`, '--ipam-dir', opts.ipamDir];
  argv.push('--network', opts.network ?? 'palisade', '--cni-socket', cniSocket, '--listen', `unix:${status}`);
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  const pid = startDetached(
    ['nsenter', `--net=${opts.nodeNs}`, process.execPath, join(REPO, 'bin', 'palisade'), ...argv],
    { logFile: log, env },
  );
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (gone(pid)) return;
    process.kill(pid, signal);
    for (let i = 0; i < 100 && !gone(pid); i++) await new Promise((r) => setTimeout(r, 50));
    if (!gone(pid)) process.kill(pid, 'SIGKILL');
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    const ready = await agentStatus(status).then(
      (s) => s.ready,
      () => false,
    );
    if (ready) break;
    if (gone(pid) || Date.now() > deadline) {
      await stop('SIGKILL');
      throw new Error(`agent not ready: ${readFileSync(log, 'utf8').slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { pid, cniSocket, log, stop };
}
