// Shared helpers for lab tests: a lab in a private directory driven through bin/palisade, probe matrices from
// the real kernel, and the matrix the reference evaluator expects for the lab's own cluster directory.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { readManifestDir, snapshotFromObjects } from '../../src/datastore/dir.js';
import type { DatastoreSnapshot } from '../../src/datastore/types.js';
import { BARRIER_CLUSTER_POLICY, BARRIER_POLICY } from '../../src/lab/kube/kube-apply.js';
import { isLabBarrier } from '../../src/lab/kube/kube-barriers.js';
import type { PairResult, PairsJson } from '../../src/lab/probe-pairs.js';
import { CALICO_GROUPS, servedGroups } from '../../src/model/calico-groups.js';
import type { Protocol } from '../../src/model/k8s.js';
import { parseManifests } from '../../src/model/manifests.js';
import { evaluateFlow } from '../../src/policy/reference.js';
import { createFixture, ensureBuilt, type Fixture, REPO } from './netns.js';

const run = promisify(execFile);

export type Matrix = Record<string, Record<string, boolean>>;
/** A protocol and port to probe, e.g. ['TCP', 80]. */
export type Probe = readonly [Protocol, number];

export interface LabNode {
  readonly name: string;
  readonly netns: string;
  readonly underlayIP: string;
}

export interface PairProbeOpts {
  readonly protocol?: Protocol;
  /** For destinations without :PORT; default 80. */
  readonly port?: number;
  /** Default: the lab's timeoutMs. */
  readonly timeoutMs?: number;
}

/** Where a lab keeps its cluster: the embedded manifest directory, or a real control plane. */
export type ControlPlane = 'dir' | 'kubernetes';

/** Both kinds of lab, for suites that run on each; LAB_CONTROL_PLANE=dir|kubernetes narrows it to one. */
export function controlPlanes(): ControlPlane[] {
  const only = process.env.LAB_CONTROL_PLANE;
  return only === 'dir' || only === 'kubernetes' ? [only] : ['dir', 'kubernetes'];
}

export interface Lab {
  readonly fx: Fixture;
  readonly dir: string;
  readonly controlPlane: ControlPlane;
  /** The cluster as the lab's source of truth holds it now (the directory, or the API server). */
  snapshot(): DatastoreSnapshot;
  palisade(...args: string[]): Promise<string>;
  up(nodes: number, ...files: string[]): Promise<void>;
  /** `lab apply -f` (or `lab delete -f`) of a manifest text, written to a temporary file. */
  applyText(text: string, verb?: 'apply' | 'delete'): Promise<void>;
  probe(protocol: Protocol, port: number): Promise<Matrix>;
  /**
   * `lab probe --from ... --to ... --json`: every source probes every destination (NS/POD, NODE, outside,
   * outside@ADDR; destinations also ADDR and :PORT); results in order, sources first.
   */
  probePairs(from: readonly string[], to: readonly string[], opts?: PairProbeOpts): Promise<PairResult[]>;
  /** The reference's matrix for the cluster directory as it is now. */
  expected(protocol: Protocol, port: number): Matrix;
  /** Probes every (protocol, port) in parallel; the pairs where the kernel and the reference disagree. */
  mismatches(what: string, probes: readonly Probe[]): Promise<string[]>;
  /** Probes every (protocol, port) in parallel and asserts each equals the reference's expectation. */
  agrees(what: string, probes: readonly Probe[]): Promise<void>;
  /** Deletes every NetworkPolicy the lab holds. */
  deleteAllPolicies(): Promise<void>;
  /** Namespace/name of every NetworkPolicy the lab holds (not the lab's own barrier policy). */
  policies(): string[];
  nodes(): LabNode[];
  /** TCP connect from a node's own netns (not a pod): true when the connection is made. */
  nodeConnects(node: LabNode, ip: string, port: number): Promise<boolean>;
  /** Where a running pod is: its network namespace and address. */
  pod(key: string): { netns: string; ip: string };
  /** Pod IPs by "namespace/name". */
  podIPs(): Record<string, string>;
  down(): Promise<void>;
}

interface PodJson {
  namespace: string;
  name: string;
  ip: string;
  netns: string;
}

interface LabJson {
  plan: { nodes: LabNode[] };
  policies: string[];
  pods: PodJson[];
}

/** Lists the pairs where `got` and `want` differ, one per line: "src -> dst: kernel ✓, reference ✗". */
export function matrixDiff(got: Matrix, want: Matrix): string[] {
  const out: string[] = [];
  const mark = (v: boolean | undefined) => (v === undefined ? '?' : v ? '✓' : '✗');
  for (const src of new Set([...Object.keys(got), ...Object.keys(want)])) {
    const g = got[src] ?? {};
    const w = want[src] ?? {};
    for (const dst of new Set([...Object.keys(g), ...Object.keys(w)])) {
      if (g[dst] !== w[dst]) out.push(`${src} -> ${dst}: kernel ${mark(g[dst])}, reference ${mark(w[dst])}`);
    }
  }
  return out;
}

export function countFalse(m: Matrix): number {
  return Object.values(m)
    .flatMap((r) => Object.values(r))
    .filter((v) => !v).length;
}

/**
 * The API server's objects as plain manifests (metadata trimmed to name, namespace and labels), read with the
 * lab's own manifest parser, not the agent's Kubernetes conversion.
 */
function apiObjects(dir: string) {
  const state = JSON.parse(readFileSync(join(dir, 'lab.json'), 'utf8')) as {
    kube: { controlPlane: { bin: string } };
  };
  const out = execFileSync(
    join(state.kube.controlPlane.bin, 'kubectl'),
    [
      `--kubeconfig=${join(dir, 'kube', 'admin.kubeconfig')}`,
      'get',
      [
        'namespaces,nodes,pods,networkpolicies,clusternetworkpolicies',
        ...servedGroups(CALICO_GROUPS).flatMap((g) => [`globalnetworkpolicies.${g}`, `hostendpoints.${g}`]),
      ].join(','),
      '-A',
      '-o',
      'json',
    ],
    { encoding: 'utf8', maxBuffer: 1 << 26 },
  );
  type Item = {
    apiVersion: string;
    kind: string;
    metadata: Record<string, unknown>;
    spec?: unknown;
    status?: Record<string, unknown>;
  };
  const docs = (JSON.parse(out) as { items: Item[] }).items
    .filter((o) => !(o.kind === 'NetworkPolicy' && o.metadata.name === BARRIER_POLICY))
    .filter((o) => !(o.kind === 'ClusterNetworkPolicy' && o.metadata.name === BARRIER_CLUSTER_POLICY))
    .filter((o) => !isLabBarrier(o))
    .filter((o) => o.kind !== 'Pod' || !o.metadata.deletionTimestamp)
    .map((o) => {
      const { name, namespace, labels } = o.metadata;
      const metadata = { name, ...(namespace ? { namespace } : {}), ...(labels ? { labels } : {}) };
      if (o.kind === 'Pod') {
        const spec = o.spec as { nodeName?: string; containers: { name: string; ports?: unknown[] }[] };
        return {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata,
          spec: {
            nodeName: spec.nodeName,
            containers: spec.containers.map((c) => ({ name: c.name, ports: c.ports ?? [] })),
          },
          status: { podIPs: o.status?.podIPs ?? [] },
        };
      }
      if (o.kind === 'Node') {
        const { annotations } = o.metadata;
        return {
          apiVersion: 'v1',
          kind: 'Node',
          metadata: { ...metadata, ...(annotations ? { annotations } : {}) },
          spec: { podCIDRs: (o.spec as { podCIDRs?: string[] } | undefined)?.podCIDRs ?? [] },
          status: { addresses: o.status?.addresses },
        };
      }
      if (o.kind === 'Namespace') return { apiVersion: 'v1', kind: 'Namespace', metadata };
      return { apiVersion: o.apiVersion, kind: o.kind, metadata, spec: o.spec };
    });
  return docs.flatMap((d) => parseManifests(JSON.stringify(d), `${d.kind} ${String(d.metadata.name)}`));
}

export function createLab(
  tag: string,
  opts: {
    timeoutMs?: number;
    controlPlane?: ControlPlane;
    /** `lab up --outside-address` each (beyond the defaults 198.18.0.4-6, 203.0.113.10-11). */
    outsideAddresses?: readonly string[];
    /** `lab up --host-endpoint-label` each (kubernetes): the agents keep their nodes' HostEndpoints. */
    hostEndpointLabels?: readonly string[];
    /** `lab up --encryption`. */
    encryption?: 'wireguard' | 'ipsec';
  } = {},
): Lab {
  const controlPlane = opts.controlPlane ?? 'dir';
  const fx = createFixture(tag);
  const dir = join(fx.tmp, 'lab');
  const env: NodeJS.ProcessEnv = { ...process.env, PALISADE_LAB_DIR: dir };
  delete env.NODE_EXTRA_CA_CERTS;
  const timeout = String(opts.timeoutMs ?? 1000);
  // `lab apply` returns only once every agent has programmed the change, so a probe right after it must agree:
  // strict by default. (A race between drift repair and sync once made a kernel lag ~1-2 s; fixed in the
  // reconciler.) LAB_SETTLE_MS > 0 re-probes a mismatch for that long, printing LATE CONVERGENCE, to help
  // tell a lag from a wrong verdict when debugging.
  const settleMs = Number(process.env.LAB_SETTLE_MS ?? 0);
  let seq = 0;
  const state = () => JSON.parse(readFileSync(join(dir, 'lab.json'), 'utf8')) as LabJson;

  async function palisade(...args: string[]): Promise<string> {
    const { stdout } = await run(join(REPO, 'bin', 'palisade'), args, { env, maxBuffer: 1 << 24 });
    return stdout;
  }

  async function probe(protocol: Protocol, port: number): Promise<Matrix> {
    const args = ['--protocol', protocol.toLowerCase(), '--port', String(port), '--timeout', timeout];
    const out = await palisade('lab', 'probe', '--json', ...args);
    return (JSON.parse(out) as { matrix: Matrix }).matrix;
  }

  async function probePairs(
    from: readonly string[],
    to: readonly string[],
    o: PairProbeOpts = {},
  ): Promise<PairResult[]> {
    const args = [
      ...from.flatMap((f) => ['--from', f]),
      ...to.flatMap((t) => ['--to', t]),
      ...['--protocol', (o.protocol ?? 'TCP').toLowerCase(), '--port', String(o.port ?? 80)],
      ...['--timeout', String(o.timeoutMs ?? timeout)],
    ];
    const out = await palisade('lab', 'probe', '--json', ...args);
    return [...(JSON.parse(out) as PairsJson).results];
  }

  function snapshot(): DatastoreSnapshot {
    const objects = controlPlane === 'kubernetes' ? apiObjects(dir) : readManifestDir(join(dir, 'cluster'));
    return snapshotFromObjects(objects, '');
  }

  function expected(protocol: Protocol, port: number, snap = snapshot()): Matrix {
    const out: Matrix = {};
    for (const src of snap.pods) {
      const row: Record<string, boolean> = {};
      for (const dst of snap.pods) {
        const flow = { srcIp: src.ips[0]!, dstIp: dst.ips[0]!, protocol, dstPort: port };
        // Reachable = policy allows and something listens there (pods serve exactly their declared ports).
        const serves = dst.ports.some((p) => p.containerPort === port && p.protocol === protocol);
        row[`${dst.namespace}/${dst.name}`] = serves && evaluateFlow(snap, flow).allowed;
      }
      out[`${src.namespace}/${src.name}`] = row;
    }
    return out;
  }

  async function diffsNow(probes: readonly Probe[]): Promise<string[]> {
    const got = await Promise.all(probes.map(([protocol, port]) => probe(protocol, port)));
    const snap = snapshot(); // one read of the cluster for every probe (on Kubernetes, a kubectl call)
    return probes.flatMap(([protocol, port], i) =>
      matrixDiff(got[i]!, expected(protocol, port, snap)).map((d) => `${protocol}/${port} ${d}`),
    );
  }

  async function mismatches(what: string, probes: readonly Probe[]): Promise<string[]> {
    let diffs = await diffsNow(probes);
    const first = diffs;
    const t0 = Date.now();
    while (diffs.length > 0 && Date.now() - t0 < settleMs) {
      await new Promise((r) => setTimeout(r, 250));
      diffs = await diffsNow(probes);
    }
    if (first.length > 0 && diffs.length === 0) {
      // The kernel agreed only after `lab apply` had returned: see LAB_SETTLE_MS above.
      console.error(
        `LATE CONVERGENCE ${what}: ${first.length} pairs agreed only after ${Date.now() - t0} ms:`,
      );
      console.error(`  ${first.slice(0, 8).join('\n  ')}`);
    }
    return diffs;
  }

  async function applyText(text: string, verb: 'apply' | 'delete' = 'apply'): Promise<void> {
    seq += 1;
    const file = join(fx.tmp, `manifest-${seq}.yaml`);
    writeFileSync(file, text);
    await palisade('lab', verb, '-f', file);
  }

  /** NetworkPolicies as "namespace/name", ClusterNetworkPolicies as "cnp:name". */
  const policies = (): string[] => {
    const snap = snapshot();
    const cluster = (snap.clusterPolicies ?? []).map((p) => `cnp:${p.name}`);
    const namespaced =
      controlPlane === 'kubernetes' ? snap.policies.map((p) => `${p.namespace}/${p.name}`) : state().policies;
    return [...namespaced, ...cluster];
  };

  return {
    fx,
    dir,
    controlPlane,
    snapshot,
    palisade,
    async up(nodes, ...files) {
      ensureBuilt();
      await palisade(
        'lab',
        'up',
        '--nodes',
        String(nodes),
        '--control-plane',
        controlPlane,
        ...(opts.outsideAddresses ?? []).flatMap((a) => ['--outside-address', a]),
        ...(opts.hostEndpointLabels ?? []).flatMap((l) => ['--host-endpoint-label', l]),
        ...(opts.encryption ? ['--encryption', opts.encryption] : []),
        ...files.flatMap((f) => ['-f', f]),
      );
    },
    applyText,
    probe,
    probePairs,
    expected,
    mismatches,
    async agrees(what, probes) {
      const diffs = await mismatches(what, probes);
      assert.deepEqual(diffs, [], `${what} differs:\n  ${diffs.join('\n  ')}`);
    },
    policies,
    async deleteAllPolicies() {
      const docs = policies().map((key) => {
        if (key.startsWith('cnp:'))
          return `apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: { name: ${key.slice(4)} }\nspec: { tier: Baseline, priority: 0, subject: { namespaces: {} } }\n`;
        const [ns, name] = key.split('/') as [string, string];
        return `apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: { name: ${name}, namespace: ${ns} }\nspec: { podSelector: {} }\n`;
      });
      if (docs.length > 0) await applyText(docs.join('---\n'), 'delete');
    },
    nodes: () => state().plan.nodes,
    pod(key) {
      const pods =
        controlPlane === 'kubernetes'
          ? state().plan.nodes.flatMap((n) => {
              const file = join(dir, 'nodes', n.name, 'kubelet.json');
              return existsSync(file)
                ? Object.values(JSON.parse(readFileSync(file, 'utf8')) as Record<string, PodJson>)
                : [];
            })
          : state().pods;
      const p = pods.find((x) => `${x.namespace}/${x.name}` === key);
      assert.ok(p, `pod ${key} runs in the lab`);
      return { netns: p.netns, ip: p.ip };
    },
    podIPs: () =>
      controlPlane === 'kubernetes'
        ? Object.fromEntries(snapshot().pods.map((p) => [`${p.namespace}/${p.name}`, p.ips[0] ?? '']))
        : Object.fromEntries(state().pods.map((p) => [`${p.namespace}/${p.name}`, p.ip])),
    async nodeConnects(node, ip, port) {
      const argv = [`--net=/run/netns/${node.netns}`, 'nc', '-z', '-w1', ip, String(port)];
      return run('nsenter', argv).then(
        () => true,
        () => false,
      );
    },
    async down() {
      if (existsSync(join(dir, 'lab.json'))) {
        await palisade('lab', 'down').catch((e: unknown) => console.error(e));
      }
      await fx.cleanup();
    },
  };
}
