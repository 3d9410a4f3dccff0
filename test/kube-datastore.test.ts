// The agent's Kubernetes side against a real API server (the pinned release of kube/, test/helpers/kube-api.ts),
// each as the least-privileged ServiceAccount it runs as: the datastore's list (in pages) and watch, its
// recovery from an API server restart and from a watch whose history was compacted away (410), the Warning
// Events for rejected policies, the repair controller's label and delete, and chained mode's API fallback.
// What the real server cannot be made to do (stall a watch, send an object it would refuse, fail a request
// on purpose) stays with the fake server of the unit tests.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { podFacts } from '../src/cni/pod-facts.js';
import { parseRedirectConf } from '../src/cni/redirect-config.js';
import { createKubeDatastore } from '../src/datastore/kube.js';
import { KubeApiError } from '../src/datastore/kube-client.js';
import { createPolicyEventRecorder } from '../src/datastore/kube-events.js';
import { createPodRepairApi } from '../src/datastore/kube-pods.js';
import type { Datastore } from '../src/datastore/types.js';
import { pluginKubeconfig } from '../src/install/cni-conf.js';
import { createLineLogger, createNullLogger } from '../src/util/log.js';
import { agentClusterRoleRules } from './helpers/agent-rbac.js';
import { type KubeApi, startKubeApi } from './helpers/kube-api.js';

let api: KubeApi;
/** The agent's ClusterRole as `palisade manifests` renders it, and the repair controller's verbs. */
const AGENT_RULES = [
  ...agentClusterRoleRules(),
  { apiGroups: [''], resources: ['pods'], verbs: ['patch', 'delete'] },
];
let agentKubeconfig = '';

async function eventually<T>(what: string, fn: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms (${String(last ?? '')})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const pod = (
  ns: string,
  name: string,
  labels: Record<string, string>,
  extra: Record<string, unknown> = {},
) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: ns, labels, ...extra },
  spec: {
    nodeName: 'node-a', // no kubelet: the pod stays as written, which is all the datastore reads
    containers: [{ name: 'main', image: 'lab/pod-server', ports: [{ name: 'http', containerPort: 8080 }] }],
  },
});

before(async () => {
  api = await startKubeApi('pkd');
  agentKubeconfig = await api.serviceAccount('palisade-agent', AGENT_RULES);
  await api.apply([
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'prod', labels: { env: 'prod' } } },
    {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'node-a' },
    },
  ]);
  await api.namespaceReady('prod');
});
after(async () => {
  await api?.cleanup();
});

describe('the kubernetes datastore on a real API server', () => {
  let ds: Datastore | undefined;
  const records: Record<string, unknown>[] = [];
  const log = createLineLogger({
    level: 'debug',
    write: (l) => records.push(JSON.parse(l) as Record<string, unknown>),
  });
  after(async () => {
    await ds?.stop();
  });

  it('lists everything in pages (250 pods) and converges', async () => {
    const pods = Array.from({ length: 250 }, (_, i) => pod('prod', `p${i}`, { app: i % 2 ? 'web' : 'db' }));
    await api.apply([
      ...pods,
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'allow-web', namespace: 'prod' },
        spec: { podSelector: { matchLabels: { app: 'db' } }, ingress: [{ ports: [{ port: 5432 }] }] },
      },
    ]);
    ds = createKubeDatastore({ kubeConfig: agentKubeconfig, log });
    await ds.start(() => {});
    const s = await eventually('synced', () => {
      const s = ds!.snapshot();
      return s.synced && s.pods.length === 250 ? s : undefined;
    });
    assert.deepEqual(s.namespaces.find((n) => n.name === 'prod')?.labels, {
      env: 'prod',
      'kubernetes.io/metadata.name': 'prod',
    });
    assert.deepEqual(
      s.policies.map((p) => [p.name, p.problems]),
      [['allow-web', []]],
    );
    assert.ok(Number(s.revisions?.pods) > 0 && Number(s.revisions?.networkpolicies) > 0);
  });

  it('follows ADDED, MODIFIED and DELETED: labels, status addresses, namespaces, policies', async () => {
    await api.kubectl('label', 'pod', '-n', 'prod', 'p1', 'tier=front');
    await api.kubectl(
      'patch',
      'pod',
      '-n',
      'prod',
      'p2',
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({ status: { podIP: '10.244.0.9', podIPs: [{ ip: '10.244.0.9' }] } }),
    );
    await api.kubectl('label', 'namespace', 'prod', 'env=staging', '--overwrite');
    await api.kubectl('delete', 'networkpolicy', '-n', 'prod', 'allow-web');
    await eventually('events applied', () => {
      const s = ds!.snapshot();
      const p1 = s.pods.find((p) => p.name === 'p1');
      const p2 = s.pods.find((p) => p.name === 'p2');
      return (
        p1?.labels.tier === 'front' &&
        p2?.ips[0] === '10.244.0.9' &&
        s.namespaces.find((n) => n.name === 'prod')?.labels.env === 'staging' &&
        s.policies.length === 0
      );
    });
  });

  it('rides out an API server restart, and a watch whose history was compacted away (410): lists again', async () => {
    const seen = records.length;
    // Writes of kinds the datastore does not watch move etcd past every version it knows of; the compaction and
    // the restart leave its watches nothing to resume from.
    for (let i = 0; i < 5; i++) {
      await api.apply([
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `bump${i}`, namespace: 'default' } },
      ]);
    }
    await api.compact();
    await api.stop('kube-apiserver');
    await api.start('kube-apiserver');
    await api.kubectl('label', 'pod', '-n', 'prod', 'p3', 'after=restart');
    await eventually('the change after the restart', () =>
      ds!.snapshot().pods.find((p) => p.name === 'p3')?.labels.after === 'restart' ? true : undefined,
    );
    const after = records.slice(seen).map((r) => String(r.msg));
    assert.ok(
      after.some((m) => /relisting|restarting/.test(m)),
      `the datastore had to list again or restart:\n${after.join('\n')}`,
    );
    assert.equal(ds!.snapshot().pods.length, 250);
  });
});

describe('Warning Events for rejected policies, on a real API server', () => {
  it('writes one per (policy, node), and bumps its count on a repeat', async () => {
    let now = Date.now();
    const recorder = createPolicyEventRecorder({
      kubeConfig: agentKubeconfig,
      node: 'node-a',
      log: createNullLogger(),
      now: () => now,
    });
    const rejected = [
      { policy: 'prod/broken', problems: ['spec.policyTypes[1]: "Ingress" is listed twice'] },
    ];
    await recorder.record(rejected);
    now += 61_000;
    await recorder.record(rejected);
    recorder.stop();
    const events = JSON.parse(
      await api.kubectl(
        'get',
        'events',
        '-n',
        'prod',
        '--field-selector',
        'reason=PolicyRejected',
        '-o',
        'json',
      ),
    ) as { items: { type: string; count: number; message: string; involvedObject: { name: string } }[] };
    assert.equal(events.items.length, 1);
    assert.equal(events.items[0]!.type, 'Warning');
    assert.equal(events.items[0]!.involvedObject.name, 'broken');
    assert.equal(events.items[0]!.count, 2);
    assert.match(events.items[0]!.message, /listed twice/);
  });
});

describe("the repair controller's API calls, on a real API server", () => {
  it('labels a pod; deletes only the pod of the given UID; a pod already gone is done', async () => {
    await api.apply([pod('prod', 'fixme', { app: 'x' })]);
    const repair = createPodRepairApi({ kubeConfig: agentKubeconfig });
    await repair.label('prod', 'fixme', 'palisade.dev/redirect-missing', 'true');
    const got = JSON.parse(await api.kubectl('get', 'pod', '-n', 'prod', 'fixme', '-o', 'json')) as {
      metadata: { uid: string; labels: Record<string, string> };
    };
    assert.equal(got.metadata.labels['palisade.dev/redirect-missing'], 'true');
    await assert.rejects(
      repair.remove('prod', 'fixme', 'not-its-uid'),
      (e: unknown) => e instanceof KubeApiError && e.statusCode === 409,
    );
    await repair.remove('prod', 'fixme', got.metadata.uid);
    // No kubelet confirms the deletion here, so the pod stays, marked for deletion.
    const deleted = JSON.parse(await api.kubectl('get', 'pod', '-n', 'prod', 'fixme', '-o', 'json')) as {
      metadata: { deletionTimestamp?: string };
    };
    assert.ok(deleted.metadata.deletionTimestamp, 'deleted (gracefully)');
    await repair.remove('prod', 'never-was', 'some-uid');
    await repair.label('prod', 'never-was', 'palisade.dev/redirect-missing', 'true');
  });
});

describe("chained mode's API fallback, on a real API server", () => {
  it('reads the pod and its namespace with the plugin kubeconfig install-cni writes', async () => {
    await api.apply([
      {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: 'mesh', labels: { 'codesealer.com/webhook': 'enabled' } },
      },
    ]);
    await api.namespaceReady('mesh');
    await api.apply([
      pod('mesh', 'web', { app: 'web' }, { annotations: { 'sidecar.codesealer.com/status': 'injected' } }),
    ]);
    const kubeconfig = join(api.fx.tmp, 'plugin.kubeconfig');
    writeFileSync(
      kubeconfig,
      pluginKubeconfig({
        server: api.server,
        caPem: readFileSync(api.paths.pki.caCert, 'utf8'),
        token: readFileSync(join(api.fx.tmp, 'palisade-agent.token'), 'utf8').trim(),
      }),
    );
    const conf = parseRedirectConf(
      {
        cniVersion: '1.0.0',
        name: 'chain',
        type: 'palisade-cni',
        mode: 'redirect',
        agentSocket: join(api.fx.tmp, 'no-agent.sock'),
        agentTimeoutMs: 200,
        kubeconfig,
        prevResult: { cniVersion: '1.0.0', interfaces: [], ips: [] },
      },
      'ADD',
    );
    const facts = await podFacts(conf, 'mesh', 'web', createNullLogger());
    assert.equal(facts.source, 'api');
    assert.equal(facts.pod.annotations['sidecar.codesealer.com/status'], 'injected');
    assert.equal(facts.namespace?.labels['codesealer.com/webhook'], 'enabled');
  });
});
