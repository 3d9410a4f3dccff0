// Host policy is never silent (issue 11), on a real control plane (test/helpers/kube-api.ts) with the CRDs
// `palisade manifests` renders and the real `palisade agent` for node-a (in a netns of its own) running as a
// ServiceAccount holding exactly the ClusterRole it renders: a preDNAT GlobalNetworkPolicy selecting no
// HostEndpoint gets SelectsHostEndpoints False and a SelectsNoHostEndpoint Event, which flips once a matching
// HostEndpoint is created; that endpoint names an interface node-a does not have (InterfacePresent False, an
// InterfaceNotFound Event) until the interface appears; a policy that fails closed gets Accepted False and a
// PolicyRejected Event; a change that would cut a connection the node cannot lose is refused with an Event
// naming it. Every Event shows in `kubectl describe`. ADR 0013.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { openSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { renderCrds } from '../src/deploy/crds.js';
import { kubeconfig } from '../src/lab/kube/kubeconfig.js';
import { agentClusterRoleRules } from './helpers/agent-rbac.js';
import { type KubeApi, startForwarder, startKubeApi } from './helpers/kube-api.js';
import { ensureBuilt, REPO, runner } from './helpers/netns.js';

type Json = Record<string, unknown>;
type Obj = { metadata: Json & { uid: string; generation: number }; status?: { conditions?: Json[] } };

const PORT = 6443;
const SA = 'palisade-agent';
const DNS = '198.18.0.53';
let api: KubeApi;
let agent: ChildProcess | undefined;
let forwarder: ChildProcess | undefined;
let agentNetns = '';
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

const get = async (resource: string, name: string): Promise<Obj> =>
  JSON.parse(await api.kubectl('get', resource, name, '-o', 'json')) as Obj;

/** [status, reason] of a condition once it is there and observes the object's generation. */
async function condition(resource: string, name: string, type: string): Promise<string[] | undefined> {
  const o = await get(resource, name);
  const c = o.status?.conditions?.find((x) => x.type === type);
  return c && c.observedGeneration === o.metadata.generation
    ? [String(c.status), String(c.reason)]
    : undefined;
}

async function waitCondition(resource: string, name: string, type: string, want: string[]): Promise<void> {
  await eventually(`${resource} ${name} ${type} ${want.join('/')}`, async () => {
    const got = await condition(resource, name, type);
    return got && got[0] === want[0] && got[1] === want[1] ? got : undefined;
  });
}

/** The Warning Event of `reason` about the object of `uid` (in namespace default: all of these are cluster-scoped). */
async function eventOf(reason: string, uid: string): Promise<Json> {
  return eventually(`a ${reason} Event`, async () => {
    const list = JSON.parse(
      await api.kubectl(
        'get',
        'events',
        '-n',
        'default',
        '--field-selector',
        `reason=${reason},involvedObject.uid=${uid}`,
        '-o',
        'json',
      ),
    ) as { items: Json[] };
    return list.items[0];
  });
}

const GNP = 'globalnetworkpolicies.palisade.dev';
const HEP = 'hostendpoints.palisade.dev';
const gnp = (name: string, spec: Json) => ({
  apiVersion: 'palisade.dev/v1',
  kind: 'GlobalNetworkPolicy',
  metadata: { name },
  spec,
});

/** The agent's /status, over its unix socket. */
function agentStatus(): Promise<{ hostPolicy: { refused: Json[] } }> {
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

/** A kubeconfig for the ServiceAccount's token, on 127.0.0.1:PORT (the agent netns' forwarder). */
function agentKubeconfig(saKubeconfig: string): string {
  const sa = JSON.parse(readFileSync(saKubeconfig, 'utf8')) as { users: { user: Record<string, unknown> }[] };
  const tokenFile = (sa.users[0]!.user['auth-provider'] as { config: { tokenFile: string } }).config
    .tokenFile;
  const path = join(api.fx.tmp, 'agent.kubeconfig');
  const kc = kubeconfig({
    server: `https://127.0.0.1:${PORT}`,
    caFile: api.paths.pki.caCert,
    user: SA,
    credentials: { tokenFile },
  });
  writeFileSync(path, JSON.stringify(kc));
  return path;
}

before(async () => {
  ensureBuilt();
  api = await startKubeApi('phs');
  const crds = join(api.fx.tmp, 'crds.json');
  writeFileSync(crds, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: renderCrds() }));
  await api.kubectl('apply', '-f', crds);
  for (const crd of [GNP, HEP])
    await api.kubectl('wait', '--for=condition=Established', `crd/${crd}`, '--timeout=30s');
  const saKubeconfig = await api.serviceAccount(SA, agentClusterRoleRules());
  await api.apply([{ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-a' } }]);
  await api.kubectl(
    'patch',
    'node',
    'node-a',
    '--subresource=status',
    '--type=merge',
    '-p',
    JSON.stringify({ status: { addresses: [{ type: 'InternalIP', address: '198.18.0.10' }] } }),
  );
  agentNetns = await api.fx.netns('agent');
  forwarder = await startForwarder(runner, agentNetns, PORT, api.paths.apiSocket);
  const env: NodeJS.ProcessEnv = { ...process.env, KUBECONFIG: agentKubeconfig(saKubeconfig) };
  delete env.NODE_EXTRA_CA_CERTS;
  const log = openSync(join(api.fx.tmp, 'agent.log'), 'a');
  agentSocket = join(api.fx.tmp, 'agent.sock');
  agent = spawn(
    'nsenter',
    [
      `--net=${agentNetns}`,
      '--',
      process.execPath,
      join(REPO, 'dist', 'palisade.mjs'),
      'agent',
      ...['--node', 'node-a', '--datastore', 'kubernetes'],
      ...['--ipam-dir', join(api.fx.tmp, 'ipam'), '--cni-socket', join(api.fx.tmp, 'cni.sock')],
      ...['--listen', `unix:${agentSocket}`, '--resync-interval', '1000', '--dns-server', DNS],
    ],
    { env, stdio: ['ignore', log, log] },
  );
});

after(async () => {
  if (agent?.pid && agent.exitCode === null) {
    agent.kill('SIGTERM');
    await new Promise((r) => agent!.once('exit', r));
  }
  if (forwarder?.pid && forwarder.exitCode === null) process.kill(-forwarder.pid, 'SIGTERM');
  await api?.cleanup();
});

describe('host policy reporting on a real control plane', () => {
  it("the agent may write these kinds' status, not the objects themselves", async () => {
    const can = async (verb: string, resource: string, ...more: string[]) =>
      (
        await api
          .kubectl('auth', 'can-i', verb, resource, ...more, `--as=system:serviceaccount:default:${SA}`)
          .catch(() => 'no')
      ).trim();
    for (const r of [
      GNP,
      HEP,
      'globalnetworkpolicies.crd.projectcalico.org',
      'hostendpoints.projectcalico.org',
    ]) {
      assert.equal(await can('patch', r, '--subresource=status'), 'yes', r);
      assert.equal(await can('patch', r), 'no', r);
    }
  });

  let edge: Obj;
  it('a preDNAT policy that selects no HostEndpoint: SelectsHostEndpoints False, and an Event', async (t) => {
    const t0 = Date.now();
    await api.apply([
      gnp('edge-guard', {
        selector: "role == 'edge'",
        preDNAT: true,
        applyOnForward: true,
        ingress: [
          {
            action: 'Deny',
            protocol: 'TCP',
            source: { nets: ['203.0.113.0/24'] },
            destination: { ports: [9999] },
          },
        ],
      }),
    ]);
    await waitCondition(GNP, 'edge-guard', 'SelectsHostEndpoints', ['False', 'NoHostEndpointSelected']);
    t.diagnostic(`condition written ${Date.now() - t0} ms after the apply`);
    assert.deepEqual(await condition(GNP, 'edge-guard', 'Accepted'), ['True', 'Accepted']);
    edge = await get(GNP, 'edge-guard');
    const event = await eventOf('SelectsNoHostEndpoint', edge.metadata.uid);
    assert.equal(event.type, 'Warning');
    assert.deepEqual(event.involvedObject, {
      apiVersion: 'palisade.dev/v1',
      kind: 'GlobalNetworkPolicy',
      name: 'edge-guard',
      uid: edge.metadata.uid,
    });
    assert.match(String(event.message), /No HostEndpoint matches spec.selector "role == 'edge'"/);
    assert.match(await api.kubectl('describe', GNP, 'edge-guard'), /SelectsNoHostEndpoint/);
  });

  let hep: Obj;
  it('a matching HostEndpoint flips it; its missing interface is reported (condition and Event)', async (t) => {
    const t0 = Date.now();
    await api.apply([
      {
        apiVersion: 'palisade.dev/v1',
        kind: 'HostEndpoint',
        metadata: { name: 'node-a-eth9', labels: { role: 'edge' } },
        spec: { node: 'node-a', interfaceName: 'eth9', profiles: ['projectcalico-default-allow'] },
      },
    ]);
    await waitCondition(GNP, 'edge-guard', 'SelectsHostEndpoints', ['True', 'HostEndpointsSelected']);
    t.diagnostic(`flipped ${Date.now() - t0} ms after the HostEndpoint was created`);
    await waitCondition(HEP, 'node-a-eth9', 'InterfacePresent', ['False', 'InterfaceNotFound']);
    await waitCondition(HEP, 'node-a-eth9', 'Programmed', ['True', 'Programmed']);
    assert.deepEqual(await condition(HEP, 'node-a-eth9', 'Accepted'), ['True', 'Accepted']);
    hep = await get(HEP, 'node-a-eth9');
    const event = await eventOf('InterfaceNotFound', hep.metadata.uid);
    assert.equal(
      event.message,
      'Interface "eth9" does not exist on node node-a; its rules take effect when it appears',
    );
    assert.deepEqual(
      [event.source, event.reportingInstance],
      [{ component: 'palisade-agent', host: 'node-a' }, 'node-a'],
    );
    assert.match(await api.kubectl('describe', HEP, 'node-a-eth9'), /InterfaceNotFound/);
  });

  it('the interface appearing is seen by the periodic check', async (t) => {
    const t0 = Date.now();
    // Only in the agent's own netns.
    await runner.run(['ip', 'link', 'add', 'eth9', 'type', 'veth', 'peer', 'name', 'eth9-peer'], {
      netns: agentNetns,
    });
    await waitCondition(HEP, 'node-a-eth9', 'InterfacePresent', ['True', 'InterfaceFound']);
    t.diagnostic(`InterfaceFound ${Date.now() - t0} ms after the link was added`);
  });

  it('a policy that fails closed: Accepted False, and a PolicyRejected Event from the node', async () => {
    await api.apply([
      gnp('broken', {
        selector: "role == 'nothing'",
        types: ['Ingress'],
        ingress: [{ action: 'Allow', protocol: 'TCPX' }],
      }),
    ]);
    await waitCondition(GNP, 'broken', 'Accepted', ['False', 'InvalidSpec']);
    const broken = await get(GNP, 'broken');
    const event = await eventOf('PolicyRejected', broken.metadata.uid);
    assert.match(
      String(event.message),
      /^GlobalNetworkPolicy rejected; it fails closed .*spec\.ingress\[0\]\.protocol/,
    );
    assert.equal(event.reportingInstance, 'node-a');
    // Not a host policy: nothing said of host endpoints.
    assert.equal(await condition(GNP, 'broken', 'SelectsHostEndpoints'), undefined);
  });

  it('a change that would cut the node off is refused, with an Event naming the connection', async (t) => {
    const t0 = Date.now();
    await api.apply([
      gnp('cut-dns', { selector: "role == 'edge'", types: ['Egress'], egress: [{ action: 'Deny' }] }),
    ]);
    const cut = await eventually('cut-dns', async () => {
      const o = await get(GNP, 'cut-dns').catch(() => undefined);
      return o?.metadata.uid ? o : undefined;
    });
    const event = await eventOf('HostPolicyRefused', cut.metadata.uid);
    t.diagnostic(`refused and reported ${Date.now() - t0} ms after the apply`);
    assert.equal(
      event.message,
      `refused on node-a: it would cut node → DNS ${DNS}:53/TCP via eth9; the version programmed before stays ` +
        'until this one changes',
    );
    const refused = (await agentStatus()).hostPolicy.refused;
    assert.deepEqual(refused, [
      { object: 'gnp:cut-dns', reason: 'would-cut', connection: `node → DNS ${DNS}:53/TCP via eth9` },
    ]);
    // The endpoint it would have cut stays programmed.
    assert.deepEqual(await condition(HEP, 'node-a-eth9', 'Programmed'), ['True', 'Programmed']);
  });

  it('logged no warning about status or events (the RBAC was enough)', () => {
    const lines = readFileSync(join(api.fx.tmp, 'agent.log'), 'utf8').split('\n').filter(Boolean);
    const warnings = lines
      .map((l) => JSON.parse(l) as { level: number; component?: string; msg: string })
      .filter(
        (r) =>
          ['gnp-status', 'hep-status', 'events', 'host-interfaces'].includes(r.component ?? '') &&
          r.level >= 40,
      );
    assert.deepEqual(warnings, []);
  });
});
