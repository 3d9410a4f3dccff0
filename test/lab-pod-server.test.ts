// Root integration test of the lab's pod server and probe client: three pod netns joined by veths to a bridge
// in a fourth netns (10.244.250.0/24, nothing in the root netns), a bundled pod server in each pod, real
// connections between every pair, and an nftables drop inside one pod's own netns.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { build } from 'esbuild';
import { createRunner, isNotFound } from '../src/dataplane/runner.js';
import {
  type Matrix,
  type ProbePod,
  podStatus,
  probeMatrix,
  probeTargets,
  renderMatrixTable,
  shutdownPodServer,
  waitForPodServer,
} from '../src/lab/probe.js';

const isRoot = process.getuid?.() === 0;
const prefix = `lps${randomBytes(2).toString('hex')}`;
const bridgeNs = `${prefix}-br`;
const names = ['a', 'b', 'c'] as const;
const runner = createRunner();
const sctpInKernel = existsSync('/proc/sys/net/sctp');

interface LabPod extends ProbePod {
  readonly netns: string;
  child?: ChildProcess;
  exited?: Promise<number | null>;
  readyMs?: number;
}

const pods: LabPod[] = names.map((n, i) => ({
  key: `lab/${n}`,
  ip: `10.244.250.${11 + i}`,
  netns: `${prefix}-${n}`,
  controlSocket: '',
}));
let dir = '';

function ipIn(netns: string, ...args: string[]): Promise<unknown> {
  return runner.run(['ip', '-n', netns, ...args]);
}

async function createTopology(): Promise<void> {
  await runner.run(['ip', 'netns', 'add', bridgeNs]);
  await ipIn(bridgeNs, 'link', 'add', 'br0', 'type', 'bridge');
  await ipIn(bridgeNs, 'link', 'set', 'br0', 'up');
  for (const [i, pod] of pods.entries()) {
    const hostSide = `v-${names[i]}`;
    await runner.run(['ip', 'netns', 'add', pod.netns]);
    // Created inside the bridge netns, the peer going straight into the pod netns: never in the root netns.
    await ipIn(bridgeNs, 'link', 'add', hostSide, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod.netns);
    await ipIn(bridgeNs, 'link', 'set', hostSide, 'master', 'br0', 'up');
    await ipIn(pod.netns, 'link', 'set', 'lo', 'up');
    await ipIn(pod.netns, 'addr', 'add', `${pod.ip}/24`, 'dev', 'eth0');
    await ipIn(pod.netns, 'link', 'set', 'eth0', 'up');
  }
}

function serverEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  return env;
}

async function startServer(pod: LabPod, bundle: string): Promise<void> {
  const controlSocket = join(dir, `${pod.netns}.sock`);
  Object.assign(pod, { controlSocket });
  const config = join(dir, `${pod.netns}.json`);
  const ports = [
    { name: 'http', port: 80, protocol: 'TCP' },
    { name: 'dns', port: 53, protocol: 'UDP' },
    { port: 9000, protocol: 'SCTP' },
  ];
  writeFileSync(config, JSON.stringify({ id: pod.key, controlSocket, ports }));
  const logFd = openSync(join(dir, `${pod.netns}.log`), 'a');
  const started = performance.now();
  const argv = [`--net=/run/netns/${pod.netns}`, process.execPath, bundle, config];
  pod.child = spawn('nsenter', argv, { stdio: ['ignore', logFd, logFd], env: serverEnv() });
  closeSync(logFd);
  const child = pod.child;
  pod.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  await waitForPodServer(controlSocket, 5000);
  pod.readyMs = Math.round(performance.now() - started);
}

async function stopEverything(): Promise<void> {
  for (const pod of pods) {
    const c = pod.child;
    if (c?.pid !== undefined && c.exitCode === null && c.signalCode === null) process.kill(c.pid, 'SIGKILL');
  }
  await Promise.all(pods.map((p) => p.exited));
  for (const ns of [...pods.map((p) => p.netns), bridgeNs]) {
    try {
      await runner.run(['ip', 'netns', 'del', ns]);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
}

function fullMatrix(value: (from: string, to: string) => boolean): Matrix {
  const m: Matrix = {};
  for (const from of pods)
    m[from.key] = Object.fromEntries(pods.map((to) => [to.key, value(from.key, to.key)]));
  return m;
}

function diagnoseTable(t: { diagnostic: (msg: string) => void }, matrix: Matrix): void {
  for (const line of renderMatrixTable(matrix).trimEnd().split('\n')) t.diagnostic(line);
}

describe('lab pod server in network namespaces', { skip: isRoot ? false : 'needs root' }, () => {
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
    const bundle = join(dir, 'pod-server.cjs');
    const common = {
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      logLevel: 'warning',
    } as const;
    await build({ ...common, entryPoints: ['src/lab/pod-server-main.ts'], outfile: bundle });
    await createTopology();
    for (const pod of pods) await startServer(pod, bundle);
  });
  after(stopEverything);

  it('starts each server fast, in its own netns, with every port bound', async (t) => {
    t.diagnostic(`start-to-ready ms: ${pods.map((p) => `${p.key}=${p.readyMs}`).join(' ')}`);
    for (const pod of pods) {
      const status = await podStatus(pod.controlSocket);
      assert.equal(status.id, pod.key);
      assert.equal(status.pid, pod.child!.pid, 'nsenter execs node, so the PID is the one we started');
      const sctp = sctpInKernel
        ? { port: 9000, protocol: 'SCTP', listening: true }
        : { port: 9000, protocol: 'SCTP', listening: false, error: 'sctp not supported by the kernel' };
      assert.deepStrictEqual(status.ports, [
        { port: 80, protocol: 'TCP', name: 'http', listening: true },
        { port: 53, protocol: 'UDP', name: 'dns', listening: true },
        sctp,
      ]);
      assert.ok(pod.readyMs! < 1000, `${pod.key} took ${pod.readyMs} ms to be ready`);
    }
  });

  for (const protocol of ['TCP', 'UDP'] as const) {
    it(`reaches every pod from every pod over ${protocol}`, async (t) => {
      const port = protocol === 'TCP' ? 80 : 53;
      const { matrix, details } = await probeMatrix(pods, { port, protocol });
      diagnoseTable(t, matrix);
      assert.deepStrictEqual(
        matrix,
        fullMatrix(() => true),
        JSON.stringify(details),
      );
    });
  }

  it("drops TCP in one pod's own netns: its column turns false, UDP stays true", async (t) => {
    const b = pods[1]!;
    const rules =
      'table inet lps_drop {\n chain input {\n  type filter hook input priority 0; policy accept;\n  tcp dport 80 drop\n }\n}\n';
    await runner.run(['nft', '-f', '-'], { netns: `/run/netns/${b.netns}`, input: rules });
    try {
      const tcp = await probeMatrix(pods, { port: 80, protocol: 'TCP', timeoutMs: 500 });
      diagnoseTable(t, tcp.matrix);
      assert.deepStrictEqual(
        tcp.matrix,
        fullMatrix((_, to) => to !== b.key),
      );
      assert.equal(tcp.details['lab/a']!['lab/b']!.reason, 'timeout');
      const udp = await probeMatrix(pods, { port: 53, protocol: 'UDP', timeoutMs: 500 });
      assert.deepStrictEqual(
        udp.matrix,
        fullMatrix(() => true),
      );
    } finally {
      await runner.run(['nft', 'delete', 'table', 'inet', 'lps_drop'], { netns: `/run/netns/${b.netns}` });
    }
  });

  it('reports refused for a port nobody serves (TCP RST, UDP ICMP port unreachable)', async () => {
    for (const [protocol, port] of [
      ['TCP', 81],
      ['UDP', 54],
    ] as const) {
      const { matrix, details } = await probeMatrix(pods, { port, protocol, timeoutMs: 500 });
      assert.deepStrictEqual(
        matrix,
        fullMatrix(() => false),
      );
      const reasons = new Set(
        Object.values(details).flatMap((row) => Object.values(row).map((r) => r.reason)),
      );
      assert.deepStrictEqual([...reasons], ['refused'], `${protocol}/${port}`);
    }
  });

  it('reports timeout for an address nobody has, and wrong-peer for the wrong pod', async () => {
    const results = await probeTargets(
      pods[0]!.controlSocket,
      [
        { key: 'ghost/tcp', ip: '10.244.250.99', port: 80, protocol: 'TCP' },
        { key: 'ghost/udp', ip: '10.244.250.99', port: 53, protocol: 'UDP' },
        { key: 'lab/not-c', ip: pods[2]!.ip, port: 80, protocol: 'TCP' },
      ],
      300,
    );
    assert.deepStrictEqual(Object.fromEntries(Object.entries(results).map(([k, r]) => [k, r.reason])), {
      'ghost/tcp': 'timeout',
      'ghost/udp': 'timeout',
      'lab/not-c': 'wrong-peer:lab/c',
    });
  });

  it('exits 0 and removes its socket on shutdown and on SIGTERM', async () => {
    const [, b, c] = pods;
    await shutdownPodServer(c!.controlSocket);
    assert.equal(await c!.exited, 0);
    assert.equal(existsSync(c!.controlSocket), false);
    process.kill(b!.child!.pid!, 'SIGTERM');
    assert.equal(await b!.exited, 0);
    assert.equal(existsSync(b!.controlSocket), false);
  });
});
