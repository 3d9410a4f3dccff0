// The real `palisade agent` on a synthetic cluster, for bench/agent-sync.ts --agent: the cluster written as
// manifests for the dir datastore, the local pods as IPAM records (how a restarted agent finds its endpoints),
// the agent started in the bench's netns; reports the time from spawn to /readyz and its RSS from /proc.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createFileStore } from '../src/ipam/file-store.js';
import type { LabelSelector, NetworkPolicy, PolicyRule } from '../src/model/network-policy.js';
import { LOCAL_NODE, type SyntheticCluster } from './agent-sync-cluster.js';

const REPO = resolve(import.meta.dirname, '..');
const NETWORK = 'bench';

export interface AgentMemory {
  readonly readyMs: number;
  readonly rssMB: number;
  readonly hwmMB: number;
  readonly manifestsMB: number;
}

const selector = (s: LabelSelector) => ({ matchLabels: s.matchLabels, matchExpressions: s.matchExpressions });

function rules(rs: readonly PolicyRule[], peerKey: 'from' | 'to') {
  return rs.map((r) => ({
    ...(r.peers.length > 0
      ? {
          [peerKey]: r.peers.map((p) => ({
            ...(p.podSelector ? { podSelector: selector(p.podSelector) } : {}),
            ...(p.namespaceSelector ? { namespaceSelector: selector(p.namespaceSelector) } : {}),
            ...(p.ipBlock ? { ipBlock: { cidr: p.ipBlock.cidr, except: p.ipBlock.except } } : {}),
          })),
        }
      : {}),
    ...(r.ports.length > 0 ? { ports: r.ports } : {}),
  }));
}

function policyManifest(p: NetworkPolicy) {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { namespace: p.namespace, name: p.name },
    spec: {
      podSelector: selector(p.podSelector),
      policyTypes: p.policyTypes,
      ingress: rules(p.ingress, 'from'),
      egress: rules(p.egress, 'to'),
    },
  };
}

function manifests(c: SyntheticCluster): object {
  const items = [
    ...c.namespaces.map((n) => ({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: n.name, labels: n.labels },
    })),
    ...c.nodes.map((n) => ({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: n.name },
      status: { addresses: n.ips.map((address) => ({ type: 'InternalIP', address })) },
    })),
    ...c.pods.map((p) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { namespace: p.namespace, name: p.name, labels: p.labels },
      spec: { nodeName: p.node, containers: [{ name: 'main', ports: p.ports }] },
      status: { podIPs: p.ips.map((ip) => ({ ip })) },
    })),
    ...c.policies.map(policyManifest),
  ];
  return { apiVersion: 'v1', kind: 'List', items };
}

async function writeIpam(c: SyntheticCluster, dataDir: string): Promise<void> {
  const store = createFileStore({ dataDir, network: NETWORK, durable: false });
  for (const e of c.endpoints) {
    const ok = await store.reserve({
      network: NETWORK,
      containerID: e.containerID,
      ifname: e.ifname,
      ip: e.ips[0]!,
      subnet: '10.16.0.0/24',
      allocatedAt: new Date(0).toISOString(),
    });
    if (!ok) throw new Error(`IPAM record for ${e.ips[0]} already taken`);
  }
}

function ready(socketPath: string): Promise<boolean> {
  return new Promise((res) => {
    const req = request({ socketPath, path: '/readyz', timeout: 1000 }, (r) => {
      r.resume();
      res(r.statusCode === 200);
    });
    req.on('error', () => res(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

function statusKB(pid: number, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : Number.NaN;
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((res) => (child.exitCode !== null ? res() : child.once('exit', () => res())));
}

/** Starts the agent in `netns` on `c`, waits for /readyz, reads its RSS, stops it (SIGTERM to its own pid). */
export async function measureAgent(
  c: SyntheticCluster,
  where: { tmp: string; netns: string; onChild: (child: ChildProcess | undefined) => void },
): Promise<AgentMemory> {
  const { tmp, netns } = where;
  const dir = join(tmp, 'cluster');
  const ipamDir = join(tmp, 'ipam');
  mkdirSync(dir, { recursive: true });
  const text = JSON.stringify(manifests(c));
  writeFileSync(join(dir, 'cluster.json'), text);
  writeFileSync(join(dir, 'REVISION'), '1\n');
  await writeIpam(c, ipamDir);
  const http = join(tmp, 'agent-http.sock');
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  const argv = ['agent', '--node', LOCAL_NODE, '--datastore', `dir:${dir}`, '--ipam-dir', ipamDir];
  argv.push('--network', NETWORK, '--cni-socket', join(tmp, 'cni.sock'), '--listen', `unix:${http}`);
  argv.push('--log-level', 'warn');
  const t0 = performance.now();
  // nsenter with only --net execs the command in place: the child's pid is the agent's.
  const child = spawn(
    'nsenter',
    [`--net=${netns}`, '--', process.execPath, join(REPO, 'bin', 'palisade'), ...argv],
    {
      env,
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  where.onChild(child);
  try {
    while (!(await ready(http))) {
      if (child.exitCode !== null) throw new Error(`palisade agent exited ${child.exitCode} before ready`);
      if (performance.now() - t0 > 60_000) throw new Error('palisade agent not ready after 60 s');
      await new Promise((r) => setTimeout(r, 20));
    }
    const readyMs = performance.now() - t0;
    await new Promise((r) => setTimeout(r, 1000)); // let the first sync's garbage settle a little
    const pid = child.pid!;
    return {
      readyMs,
      rssMB: statusKB(pid, 'VmRSS') / 1024,
      hwmMB: statusKB(pid, 'VmHWM') / 1024,
      manifestsMB: Buffer.byteLength(text) / 2 ** 20,
    };
  } finally {
    child.kill('SIGTERM');
    await exited(child);
    where.onChild(undefined);
  }
}
