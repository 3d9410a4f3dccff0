// One palisade agent per lab node, inside the node's netns: watching the lab's cluster directory, or the lab's
// API server as the ServiceAccount `palisade manifests` creates (with the real control plane).
import { request } from 'node:http';
import { startDetached } from '../dataplane/runner.js';
import { clusterDir } from './cluster-dir.js';
import { nodePaths } from './node-files.js';
import { type NodePlan, tunnelIfaceOf } from './plan.js';
import { stopProcess } from './processes.js';
import type { LabEncryption } from './state.js';

export function agentPaths(labDir: string, node: string) {
  const p = nodePaths(labDir, node);
  return { cniSocket: p.cniSocket, statusSocket: p.statusSocket, log: p.agentLog };
}

/** Where an agent reads the cluster: the lab's directory, or an API server through a kubeconfig. */
export type AgentDatastore =
  | { readonly kind: 'dir' }
  | { readonly kind: 'kubernetes'; readonly kubeconfig: string };

export function startNodeAgent(opts: {
  labDir: string;
  node: NodePlan;
  cliEntry: string;
  datastore?: AgentDatastore;
  /** With the kubernetes datastore: keep the node's HostEndpoint, with these extra labels (KEY=VALUE). */
  hostEndpointLabels?: readonly string[];
  encryption?: LabEncryption;
}): number {
  const p = agentPaths(opts.labDir, opts.node.name);
  const files = nodePaths(opts.labDir, opts.node.name);
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  const datastore = opts.datastore ?? { kind: 'dir' };
  if (datastore.kind === 'kubernetes') env.KUBECONFIG = datastore.kubeconfig;
  else delete env.KUBECONFIG;
  return startDetached(
    [
      'nsenter',
      `--net=/run/netns/${opts.node.netns}`,
      process.execPath,
      opts.cliEntry,
      'agent',
      '--node',
      opts.node.name,
      '--datastore',
      datastore.kind === 'dir' ? `dir:${clusterDir(opts.labDir)}` : 'kubernetes',
      '--ipam-dir',
      files.ipamDir,
      '--network',
      'palisade',
      '--cni-socket',
      p.cniSocket,
      '--listen',
      `unix:${p.statusSocket}`,
      '--resync-interval',
      '2000',
      '--log-level',
      process.env.PALISADE_AGENT_LOG_LEVEL ?? 'info',
      ...(process.env.PALISADE_AGENT_MERGE_ABOVE
        ? ['--merge-above', process.env.PALISADE_AGENT_MERGE_ABOVE]
        : []),
      // Extra agent flags for a test or an experiment (e.g. narrower failsafes), split on spaces.
      ...(process.env.PALISADE_AGENT_ARGS?.split(' ').filter((a) => a !== '') ?? []),
      ...(opts.hostEndpointLabels
        ? ['--auto-host-endpoints', ...opts.hostEndpointLabels.flatMap((l) => ['--host-endpoint-label', l])]
        : []),
      ...(opts.encryption === 'ipsec'
        ? [
            '--encryption',
            'ipsec',
            '--ipsec-psk-file',
            files.ipsecPsk,
            '--ipsec-dir',
            files.ipsecDir,
            '--ipsec-log',
            files.ipsecLog,
          ]
        : []),
      ...(opts.encryption === 'wireguard'
        ? [
            '--encryption',
            'wireguard',
            '--wireguard-interface',
            tunnelIfaceOf(opts.node),
            '--wireguard-key-file',
            files.wireguardKey,
            '--wireguard-log',
            files.wireguardLog,
          ]
        : []),
    ],
    { logFile: p.log, env },
  );
}

export async function stopNodeAgent(labDir: string, pid: number): Promise<void> {
  await stopProcess(pid, labDir);
}

export interface AgentStatus {
  readonly ready: boolean;
  readonly revision: string;
  /** Kubernetes datastore: the newest resourceVersion programmed, per resource. */
  readonly revisions?: Readonly<Record<string, string>>;
}

export function agentStatus(statusSocket: string, timeoutMs = 1000): Promise<AgentStatus> {
  return new Promise((resolve, reject) => {
    // agent: false — no keep-alive pool: a pooled socket would keep this short-lived CLI process alive after its work.
    const req = request(
      { socketPath: statusSocket, path: '/status', timeout: timeoutMs, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => {
          try {
            resolve(JSON.parse(body) as AgentStatus);
          } catch (err) {
            reject(err);
          }
        });
      },
    );
    req.on('timeout', () =>
      req.destroy(new Error(`agent at ${statusSocket}: no answer within ${timeoutMs} ms`)),
    );
    req.on('error', reject);
    req.end();
  });
}

/** Waits until the agent is ready and has programmed at least `revision`. */
export async function waitForAgent(statusSocket: string, revision: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  for (;;) {
    try {
      const s = await agentStatus(statusSocket);
      if (s.ready && Number(s.revision) >= revision) return;
      last = `ready=${s.ready} revision=${s.revision}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline) {
      throw new Error(
        `agent at ${statusSocket} did not program revision ${revision} within ${timeoutMs} ms (${last})`,
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}
