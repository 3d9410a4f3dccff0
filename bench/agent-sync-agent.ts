// The real `palisade agent` on a synthetic cluster, for bench/agent-sync.ts --agent, with either datastore:
// - dir: the cluster written as JSON manifests;
// - kubernetes: the cluster served by a fake API server (bench/fake-apiserver-main.ts, its own process in the
//   agent's netns), Pods as a real API server sends them (managedFields, image, env, resources, conditions:
//   ~2.5 KB each), so the informers' memory is what a cluster would cost.
// The local pods are IPAM records (how a restarted agent finds its endpoints). The agent runs in the bench's
// netns; reported: the time from spawn to /readyz, its RSS from /proc, and its heap from its /metrics.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createFileStore } from '../src/ipam/file-store.js';
import type { PodInfo } from '../src/model/cluster.js';
import type { LabelSelector, NetworkPolicy, PolicyRule } from '../src/model/network-policy.js';
import { LOCAL_NODE, type SyntheticCluster } from './agent-sync-cluster.js';

const REPO = resolve(import.meta.dirname, '..');
export const NETWORK = 'bench';

export type AgentDatastore = 'dir' | 'kubernetes';

export interface AgentMemory {
  readonly datastore: AgentDatastore;
  readonly readyMs: number;
  readonly rssMB: number;
  readonly hwmMB: number;
  /** From the agent's /metrics: V8 heap in use, and memory outside the heap (buffers). */
  readonly heapUsedMB: number;
  readonly externalMB: number;
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

export function policyManifest(p: NetworkPolicy) {
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

/** The cluster as one List manifest (any part of it: `pods` may be a subset). */
export function manifests(c: Pick<SyntheticCluster, 'namespaces' | 'nodes' | 'pods' | 'policies'>): object {
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

function get(socketPath: string, path: string): Promise<string> {
  return new Promise((res, rej) => {
    const req = request({ socketPath, path, timeout: 5000 }, (r) => {
      let body = '';
      r.setEncoding('utf8');
      r.on('data', (c: string) => {
        body += c;
      });
      r.on('end', () => res(body));
    });
    req.on('error', rej);
    req.on('timeout', () => req.destroy(new Error(`${path}: timeout`)));
    req.end();
  });
}

/** A gauge's value in MB from Prometheus text (the first sample of that name). */
function gaugeMB(metrics: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, 'm').exec(metrics);
  return m ? Number(m[1]) / 2 ** 20 : Number.NaN;
}

function statusKB(pid: number, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : Number.NaN;
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((res) => (child.exitCode !== null ? res() : child.once('exit', () => res())));
}

/** A Pod as a real API server sends it, for the kubernetes datastore. */
function apiPod(p: PodInfo, i: number): object {
  const image = `registry.example.com/team/${p.labels.app ?? 'app'}:1.${i % 50}.0`;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      namespace: p.namespace,
      name: p.name,
      uid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      labels: { ...p.labels, 'pod-template-hash': `h${i % 997}` },
      annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-11-01T00:00:00Z' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${p.name}-rs`, uid: `rs-${i}` }],
      managedFields: [
        {
          manager: 'kube-controller-manager',
          operation: 'Update',
          apiVersion: 'v1',
          fieldsType: 'FieldsV1',
          fieldsV1: {
            'f:metadata': {
              'f:labels': Object.fromEntries(Object.keys(p.labels).map((k) => [`f:${k}`, {}])),
            },
            'f:spec': {
              'f:containers': { 'k:{"name":"main"}': { 'f:image': {}, 'f:env': {}, 'f:ports': {} } },
            },
          },
        },
        {
          manager: 'kubelet',
          operation: 'Update',
          apiVersion: 'v1',
          fieldsType: 'FieldsV1',
          subresource: 'status',
          fieldsV1: {
            'f:status': { 'f:conditions': {}, 'f:containerStatuses': {}, 'f:podIP': {}, 'f:podIPs': {} },
          },
        },
      ],
    },
    spec: {
      nodeName: p.node,
      serviceAccountName: 'default',
      containers: [
        {
          name: 'main',
          image,
          env: [
            { name: 'LOG_LEVEL', value: 'info' },
            { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          ],
          resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
          ports: p.ports,
          volumeMounts: [
            { name: 'kube-api-access', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' },
          ],
          readinessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 10 },
        },
      ],
      volumes: [
        { name: 'kube-api-access', projected: { sources: [{ serviceAccountToken: { path: 'token' } }] } },
      ],
      tolerations: [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' }],
    },
    status: {
      phase: 'Running',
      podIP: p.ips[0],
      podIPs: p.ips.map((ip) => ({ ip })),
      hostIP: '198.18.0.1',
      startTime: '2026-11-01T00:00:00Z',
      conditions: ['Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map((type) => ({
        type,
        status: 'True',
        lastTransitionTime: '2026-11-01T00:00:00Z',
      })),
      containerStatuses: [
        {
          name: 'main',
          ready: true,
          restartCount: 0,
          image,
          imageID: `${image}@sha256:${'0'.repeat(64)}`,
          containerID: `containerd://${'a'.repeat(64)}`,
          state: { running: { startedAt: '2026-11-01T00:00:00Z' } },
        },
      ],
    },
  };
}

/** The cluster as the fake API server's objects file (bench/fake-apiserver-main.ts). */
function apiObjects(c: SyntheticCluster): object {
  const all = manifests(c) as { items: { kind: string }[] };
  const of = (kind: string) => all.items.filter((o) => o.kind === kind);
  return {
    namespaces: of('Namespace'),
    nodes: of('Node'),
    pods: c.pods.map(apiPod),
    networkpolicies: of('NetworkPolicy'),
  };
}

/** Starts the fake API server in `netns`; resolves once it is listening and has written `kubeconfig`. */
async function startApiServer(
  netns: string,
  objectsFile: string,
  kubeconfig: string,
  env: NodeJS.ProcessEnv,
) {
  const main = join(REPO, 'bench', 'fake-apiserver-main.ts');
  const child = spawn(
    'nsenter',
    [`--net=${netns}`, '--', process.execPath, '--import', 'tsx', main, objectsFile, kubeconfig],
    { env, cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((res, rej) => {
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('ready')) res();
    });
    child.once('exit', (code) => rej(new Error(`fake API server exited ${code} before ready`)));
  });
  return child;
}

/** Starts the agent in `netns` on `c`, waits for /readyz, reads its RSS, stops it (SIGTERM to its own pid). */
export async function measureAgent(
  c: SyntheticCluster,
  where: {
    tmp: string;
    netns: string;
    onChild: (child: ChildProcess | undefined) => void;
    datastore?: AgentDatastore;
  },
): Promise<AgentMemory> {
  const { tmp, netns } = where;
  const datastore = where.datastore ?? 'dir';
  const dir = join(tmp, 'cluster');
  const ipamDir = join(tmp, 'ipam');
  mkdirSync(dir, { recursive: true });
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  let text: string;
  let source: string;
  let server: ChildProcess | undefined;
  if (datastore === 'dir') {
    text = JSON.stringify(manifests(c));
    writeFileSync(join(dir, 'cluster.json'), text);
    writeFileSync(join(dir, 'REVISION'), '1\n');
    source = `dir:${dir}`;
  } else {
    text = JSON.stringify(apiObjects(c));
    const objectsFile = join(tmp, 'objects.json');
    writeFileSync(objectsFile, text);
    const kubeconfig = join(tmp, 'kubeconfig');
    server = await startApiServer(netns, objectsFile, kubeconfig, env);
    env.KUBECONFIG = kubeconfig;
    source = 'kubernetes';
  }
  try {
    const figures = await runAgent(c, { tmp, netns, ipamDir, source, env, onChild: where.onChild });
    return { datastore, ...figures, manifestsMB: Buffer.byteLength(text) / 2 ** 20 };
  } finally {
    if (server) {
      server.kill('SIGTERM');
      await exited(server);
    }
  }
}

async function runAgent(
  c: SyntheticCluster,
  where: AgentWhere,
): Promise<Omit<AgentMemory, 'datastore' | 'manifestsMB'>> {
  const agent = await startAgent(c, where);
  try {
    return { readyMs: agent.readyMs, ...(await agentMemory(agent)) };
  } finally {
    await agent.stop();
  }
}

export interface AgentWhere {
  readonly tmp: string;
  readonly netns: string;
  readonly ipamDir: string;
  /** --datastore: kubernetes or dir:PATH. */
  readonly source: string;
  readonly env: NodeJS.ProcessEnv;
  readonly onChild: (child: ChildProcess | undefined) => void;
}

export interface RunningAgent {
  readonly pid: number;
  /** From spawn to the first 200 on /readyz. */
  readonly readyMs: number;
  /** Its HTTP socket (health, metrics). */
  readonly http: string;
  /** SIGTERM to its own pid; resolves once it has exited. */
  stop(): Promise<void>;
}

/** Writes `c`'s local endpoints as IPAM records, starts the agent in `netns` and waits for /readyz. */
export async function startAgent(c: SyntheticCluster, where: AgentWhere): Promise<RunningAgent> {
  const { tmp, netns, ipamDir, env } = where;
  await writeIpam(c, ipamDir);
  const http = join(tmp, 'agent-http.sock');
  const argv = ['agent', '--node', LOCAL_NODE, '--datastore', where.source, '--ipam-dir', ipamDir];
  argv.push('--network', NETWORK, '--cni-socket', join(tmp, 'cni.sock'), '--listen', `unix:${http}`);
  // PALISADE_BENCH_AGENT_LOG=FILE: the agent's log at info level there (where an ADD's time goes, per phase).
  const logFile = process.env.PALISADE_BENCH_AGENT_LOG;
  argv.push('--log-level', logFile ? (process.env.PALISADE_BENCH_AGENT_LEVEL ?? 'info') : 'warn');
  const t0 = performance.now();
  // nsenter with only --net execs the command in place: the child's pid is the agent's.
  const child = spawn(
    'nsenter',
    [`--net=${netns}`, '--', process.execPath, join(REPO, 'bin', 'palisade'), ...argv],
    { env, stdio: ['ignore', logFile ? openSync(logFile, 'a') : 'ignore', 'inherit'] },
  );
  where.onChild(child);
  const stop = async () => {
    child.kill('SIGTERM');
    await exited(child);
    where.onChild(undefined);
  };
  try {
    while (!(await ready(http))) {
      if (child.exitCode !== null) throw new Error(`palisade agent exited ${child.exitCode} before ready`);
      if (performance.now() - t0 > 60_000) throw new Error('palisade agent not ready after 60 s');
      await new Promise((r) => setTimeout(r, 20));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { pid: child.pid!, readyMs: performance.now() - t0, http, stop };
}

/** A running agent's memory a second after its first sync: RSS and peak from /proc, heap from its /metrics. */
export async function agentMemory(
  agent: RunningAgent,
): Promise<Omit<AgentMemory, 'datastore' | 'manifestsMB' | 'readyMs'>> {
  await new Promise((r) => setTimeout(r, 1000)); // let the first sync's garbage settle a little
  const metrics = await get(agent.http, '/metrics');
  return {
    heapUsedMB: gaugeMB(metrics, 'nodejs_heap_size_used_bytes'),
    externalMB: gaugeMB(metrics, 'nodejs_external_memory_bytes'),
    rssMB: statusKB(agent.pid, 'VmRSS') / 1024,
    hwmMB: statusKB(agent.pid, 'VmHWM') / 1024,
  };
}
