// The host endpoint controller (issue 11 §3) on a real control plane (test/helpers/kube-api.ts: the pinned
// release's API server, and its controller manager with every controller, the garbage collector among them),
// with the CRDs `palisade manifests` renders and the agent's ServiceAccount holding exactly the ClusterRole that
// `palisade manifests --host-endpoint-controller` renders. The real `palisade agent --auto-host-endpoints` for
// node-a (in a netns of its own): its HostEndpoint is created within seconds, recreated after someone deletes
// it, follows the Node's labels, carries the extra label, is not written while nothing differs, and goes with
// the Node (the garbage collector, through the owner reference) without coming back. Another node's endpoint
// is never touched; someone else's endpoint of the node's name (node-c, an in-process controller with the same
// ServiceAccount) is left alone and reported by a Warning Event.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { openSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import type { HostEndpointController } from '../src/agent/host-endpoint-desired.js';
import { createHostEndpointController } from '../src/datastore/kube-host-endpoint-controller.js';
import { renderCrds } from '../src/deploy/crds.js';
import { kubeconfig } from '../src/lab/kube/kubeconfig.js';
import { createNullLogger } from '../src/util/log.js';
import { agentClusterRoleRules } from './helpers/agent-rbac.js';
import { type KubeApi, startForwarder, startKubeApi } from './helpers/kube-api.js';
import { ensureBuilt, REPO, runner } from './helpers/netns.js';

type Json = Record<string, unknown>;
type Hep = { metadata: Json & { labels?: Json; ownerReferences?: Json[] }; spec: Json };

const PORT = 6443;
const SA = 'palisade-hep';
const MANAGED = { 'palisade.dev/managed-by': 'palisade-agent' };
let api: KubeApi;
let agent: ChildProcess | undefined;
let forwarder: ChildProcess | undefined;
let foreignController: HostEndpointController | undefined;
let saKubeconfig = '';
let agentStartedAt = 0;
let agentSocket = '';

async function eventually<T>(what: string, fn: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const log = readFileSync(join(api.fx.tmp, 'agent.log'), 'utf8').slice(-3000);
      assert.fail(`${what}: not within ${ms} ms (${String(last ?? '')}); agent log:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function getHep(name: string): Promise<Hep | undefined> {
  const out = await api.kubectl(
    'get',
    'hostendpoints.palisade.dev',
    name,
    '-o',
    'json',
    '--ignore-not-found',
  );
  return out.trim() === '' ? undefined : (JSON.parse(out) as Hep);
}

async function getNode(name: string): Promise<{ metadata: Json }> {
  return JSON.parse(await api.kubectl('get', 'node', name, '-o', 'json')) as { metadata: Json };
}

/** The agent's /status, over its unix socket. */
function agentStatus(): Promise<{ hostEndpoint?: { state: string; creates: number; patches: number } }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: agentSocket, path: '/status' }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString();
      });
      res.on('end', () => resolve(JSON.parse(body)));
    });
    req.on('error', reject);
    req.end();
  });
}

const node = (name: string, labels: Json) => ({ apiVersion: 'v1', kind: 'Node', metadata: { name, labels } });

async function setAddresses(name: string, addresses: { type: string; address: string }[]): Promise<void> {
  await api.kubectl(
    'patch',
    'node',
    name,
    '--subresource=status',
    '--type=merge',
    '-p',
    JSON.stringify({ status: { addresses } }),
  );
}

/** A kubeconfig for the ServiceAccount's token, on 127.0.0.1:PORT (the agent netns' forwarder). */
function agentKubeconfig(): string {
  const sa = JSON.parse(readFileSync(saKubeconfig, 'utf8')) as { users: { user: Record<string, unknown> }[] };
  const tokenFile = (sa.users[0]!.user['auth-provider'] as { config: { tokenFile: string } }).config
    .tokenFile;
  const path = join(api.fx.tmp, 'agent.kubeconfig');
  writeFileSync(
    path,
    JSON.stringify(
      kubeconfig({
        server: `https://127.0.0.1:${PORT}`,
        caFile: api.paths.pki.caCert,
        user: SA,
        credentials: { tokenFile },
      }),
    ),
  );
  return path;
}

before(async () => {
  ensureBuilt();
  api = await startKubeApi('phe');
  const crds = join(api.fx.tmp, 'crds.json');
  writeFileSync(crds, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: renderCrds() }));
  await api.kubectl('apply', '-f', crds);
  await api.kubectl('wait', '--for=condition=Established', 'crd/hostendpoints.palisade.dev', '--timeout=30s');
  const rules = agentClusterRoleRules({ mode: 'main', hostEndpointController: true });
  saKubeconfig = await api.serviceAccount(SA, rules);
  await api.apply([
    node('node-a', { 'kubernetes.io/hostname': 'node-a', zone: 'z1' }),
    node('node-b', { 'kubernetes.io/hostname': 'node-b' }),
    node('node-c', { 'kubernetes.io/hostname': 'node-c' }),
    // node-b's endpoint, as node-b's agent made it: node-a's agent must never touch it.
    {
      apiVersion: 'palisade.dev/v1',
      kind: 'HostEndpoint',
      metadata: { name: 'node-b', labels: { ...MANAGED, 'kubernetes.io/hostname': 'stale' } },
      spec: { node: 'node-b', interfaceName: '*', expectedIPs: ['198.18.0.11'] },
    },
    // node-c's endpoint, made by hand: its agent must leave it alone.
    {
      apiVersion: 'palisade.dev/v1',
      kind: 'HostEndpoint',
      metadata: { name: 'node-c', labels: { 'host-endpoint': 'by-hand' } },
      spec: { node: 'node-c', interfaceName: 'eth0', expectedIPs: ['198.18.0.12'] },
    },
  ]);
  await setAddresses('node-a', [
    { type: 'InternalIP', address: '198.18.0.10' },
    { type: 'Hostname', address: 'node-a' },
  ]);

  const netns = await api.fx.netns('agent');
  forwarder = await startForwarder(runner, netns, PORT, api.paths.apiSocket);
  const env: NodeJS.ProcessEnv = { ...process.env, KUBECONFIG: agentKubeconfig() };
  delete env.NODE_EXTRA_CA_CERTS;
  const log = openSync(join(api.fx.tmp, 'agent.log'), 'a');
  agentSocket = join(api.fx.tmp, 'agent.sock');
  agentStartedAt = Date.now();
  agent = spawn(
    'nsenter',
    [
      `--net=${netns}`,
      '--',
      process.execPath,
      join(REPO, 'dist', 'palisade.mjs'),
      'agent',
      ...['--node', 'node-a', '--datastore', 'kubernetes'],
      ...['--ipam-dir', join(api.fx.tmp, 'ipam'), '--cni-socket', join(api.fx.tmp, 'cni.sock')],
      ...['--listen', `unix:${agentSocket}`],
      '--auto-host-endpoints',
      ...['--host-endpoint-label', 'host-endpoint=ingress'],
    ],
    { env, stdio: ['ignore', log, log] },
  );
});

after(async () => {
  await foreignController?.stop();
  if (agent?.pid && agent.exitCode === null) {
    agent.kill('SIGTERM');
    await new Promise((r) => agent!.once('exit', r));
  }
  if (forwarder?.pid && forwarder.exitCode === null) process.kill(-forwarder.pid, 'SIGTERM');
  await api?.cleanup();
});

describe('the host endpoint controller on a real control plane', () => {
  let nodeB: Hep | undefined;

  it('the RBAC is the one palisade manifests --host-endpoint-controller renders, and no more', async () => {
    nodeB = await getHep('node-b');
    const can = async (verb: string, resource: string) =>
      (
        await api
          .kubectl('auth', 'can-i', verb, resource, `--as=system:serviceaccount:default:${SA}`)
          .catch(() => 'no')
      ).trim();
    for (const verb of ['create', 'patch', 'watch'])
      assert.equal(await can(verb, 'hostendpoints.palisade.dev'), 'yes', verb);
    // Least privilege: the controller creates and patches; the garbage collector deletes.
    for (const verb of ['delete', 'update'])
      assert.equal(await can(verb, 'hostendpoints.palisade.dev'), 'no', verb);
    assert.equal(await can('patch', 'nodes'), 'no');
    assert.equal(await can('delete', 'nodes'), 'no');
  });

  it("creates its node's HostEndpoint within seconds", async (t) => {
    const hep = await eventually('the HostEndpoint', () => getHep('node-a'));
    t.diagnostic(`created ${Date.now() - agentStartedAt} ms after the agent was started`);
    const uid = (await getNode('node-a')).metadata.uid;
    assert.deepStrictEqual(hep.metadata.labels, {
      'kubernetes.io/hostname': 'node-a',
      zone: 'z1',
      'host-endpoint': 'ingress',
      ...MANAGED,
    });
    assert.deepStrictEqual(hep.spec, {
      node: 'node-a',
      interfaceName: '*',
      expectedIPs: ['198.18.0.10'],
      profiles: ['projectcalico-default-allow'],
    });
    assert.deepStrictEqual(hep.metadata.ownerReferences, [
      { apiVersion: 'v1', kind: 'Node', name: 'node-a', uid, controller: false, blockOwnerDeletion: false },
    ]);
    assert.ok(Date.now() - agentStartedAt < 15_000);
  });

  it('recreates it within seconds after someone deletes it', async (t) => {
    const before = await getHep('node-a');
    const t0 = Date.now();
    await api.kubectl('delete', 'hostendpoints.palisade.dev', 'node-a', '--wait=true');
    const again = await eventually(
      'recreated',
      async () => {
        const h = await getHep('node-a');
        return h && h.metadata.uid !== before?.metadata.uid ? h : undefined;
      },
      10_000,
    );
    t.diagnostic(`recreated ${Date.now() - t0} ms after the delete was sent`);
    assert.equal((again.metadata.labels as Json)['host-endpoint'], 'ingress');
  });

  it("follows the Node's labels and addresses", async () => {
    await api.kubectl('label', 'node', 'node-a', 'zone=z2', 'role=edge', '--overwrite');
    await api.kubectl('label', 'node', 'node-a', 'kubernetes.io/hostname-');
    await setAddresses('node-a', [
      { type: 'InternalIP', address: '198.18.0.10' },
      { type: 'ExternalIP', address: '203.0.113.10' },
    ]);
    const want = { zone: 'z2', role: 'edge', 'host-endpoint': 'ingress', ...MANAGED };
    await eventually('labels and addresses followed', async () => {
      const h = await getHep('node-a');
      const ok =
        isDeepStrictEqual(h?.metadata.labels, want) &&
        isDeepStrictEqual(h?.spec.expectedIPs, ['198.18.0.10', '203.0.113.10']);
      return ok ? h : undefined;
    });
  });

  it('writes nothing while nothing that matters changes', async () => {
    const settled = await eventually('in place', async () => {
      const s = (await agentStatus()).hostEndpoint;
      return s?.state === 'in-place' ? s : undefined;
    });
    const hep = await getHep('node-a');
    // A Node change the endpoint does not depend on (an annotation), and a second to act on it.
    await api.kubectl('annotate', 'node', 'node-a', 'example.com/note=x', '--overwrite');
    await new Promise((r) => setTimeout(r, 2000));
    const now = (await agentStatus()).hostEndpoint;
    assert.deepStrictEqual([now?.creates, now?.patches], [settled.creates, settled.patches]);
    assert.equal((await getHep('node-a'))?.metadata.resourceVersion, hep?.metadata.resourceVersion);
  });

  it("never touches another node's endpoint", async () => {
    assert.ok(nodeB);
    assert.equal((await getHep('node-b'))?.metadata.resourceVersion, nodeB.metadata.resourceVersion);
  });

  it("leaves someone else's endpoint of its node's name alone, and says so in an Event", async () => {
    const hep = await getHep('node-c');
    foreignController = createHostEndpointController({
      node: 'node-c',
      extraLabels: {},
      log: createNullLogger(),
      kubeConfig: saKubeconfig,
    });
    foreignController.start();
    await eventually('foreign', async () =>
      foreignController?.status().state === 'foreign' ? true : undefined,
    );
    const event = await eventually('the Warning Event', async () => {
      const list = JSON.parse(
        await api.kubectl(
          'get',
          'events',
          '-n',
          'default',
          '--field-selector',
          'reason=HostEndpointNotManaged',
          '-o',
          'json',
        ),
      ) as { items: Json[] };
      return list.items[0];
    });
    assert.deepStrictEqual(
      [event.type, (event.involvedObject as Json).name, (event.involvedObject as Json).uid],
      ['Warning', 'node-c', hep?.metadata.uid],
    );
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal((await getHep('node-c'))?.metadata.resourceVersion, hep?.metadata.resourceVersion);
  });

  it('goes with its Node (the garbage collector) and is not created again', async (t) => {
    const t0 = Date.now();
    await api.kubectl('delete', 'node', 'node-a');
    // The garbage collector watches a CRD's resource once its discovery resync (30 s) has seen it.
    await eventually('collected', async () => ((await getHep('node-a')) ? undefined : true), 90_000);
    t.diagnostic(`collected ${Date.now() - t0} ms after the Node was deleted`);
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(await getHep('node-a'), undefined);
    assert.equal((await agentStatus()).hostEndpoint?.state, 'waiting');
  });

  it('logged no warning (no request refused: the RBAC was enough)', () => {
    const lines = readFileSync(join(api.fx.tmp, 'agent.log'), 'utf8').split('\n').filter(Boolean);
    const warnings = lines
      .map((l) => JSON.parse(l) as { level: number; component?: string; msg: string })
      .filter((r) => r.component === 'host-endpoint' && r.level >= 40);
    assert.deepStrictEqual(warnings, []);
  });
});
