// Chained mode's repair controller end to end on a real API server: the real `palisade agent` with
// `--repair label`, authenticated as the ServiceAccount whose ClusterRole `palisade manifests --mode chained`
// renders with repair on (patch on pods, nothing more), labels the pod of its node that the profile selects
// and that left no redirect marker; a pod with its marker, a pod the profile does not select and a pod of
// another node are left alone.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeMarker } from '../src/cni/redirect-marker.js';
import { parseValues, renderManifests } from '../src/deploy/manifests.js';
import { kubeconfig } from '../src/lab/kube/kubeconfig.js';
import { type KubeApi, startForwarder, startKubeApi } from './helpers/kube-api.js';
import { ensureBuilt, REPO, runner } from './helpers/netns.js';

const PORT = 6443;
let api: KubeApi;
let agent: ChildProcess | undefined;
let forwarder: ChildProcess | undefined;

function chainedValues() {
  const v = parseValues({ mode: 'chained', repair: 'label' });
  if ('errors' in v) throw new Error(v.errors.join('; '));
  return v;
}

const INJECTED = { 'sidecar.codesealer.com/status': 'injected', 'codesealer.com/dport': '8080' };
const pod = (name: string, node: string, annotations: Record<string, string>) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'mesh', annotations },
  spec: {
    nodeName: node,
    containers: [
      { name: 'app', image: 'lab/pod-server', ports: [{ containerPort: 8080 }] },
      { name: 'codesealer-core', image: 'lab/pod-server' },
    ],
  },
});

async function labels(name: string): Promise<Record<string, string>> {
  const out = await api.kubectl('get', 'pod', '-n', 'mesh', name, '-o', 'json');
  return (JSON.parse(out) as { metadata: { labels?: Record<string, string> } }).metadata.labels ?? {};
}

before(async () => {
  ensureBuilt();
  api = await startKubeApi('pkr');
  const values = chainedValues();
  const role = renderManifests(values).find((o) => o.kind === 'ClusterRole') as {
    rules: Record<string, unknown>[];
  };
  // The ServiceAccount gets exactly the rules the chained manifests with repair on grant the agent.
  const saKubeconfig = await api.serviceAccount('palisade-repair', role.rules);
  await api.apply([
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'mesh', labels: { 'codesealer.com/webhook': 'enabled' } },
    },
    { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-a' } },
  ]);
  await api.namespaceReady('mesh');
  await api.apply([
    pod('unwired', 'node-a', INJECTED),
    pod('wired', 'node-a', INJECTED),
    pod('plain', 'node-a', {}),
    pod('elsewhere', 'node-b', INJECTED),
  ]);
  // Running, as the primary CNI and kubelet left them: only a pod with an address has had its ADD.
  for (const [i, name] of ['unwired', 'wired', 'plain', 'elsewhere'].entries()) {
    const ip = `10.244.0.${i + 10}`;
    await api.kubectl(
      'patch',
      'pod',
      '-n',
      'mesh',
      name,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({ status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] } }),
    );
  }
  const markers = join(api.fx.tmp, 'markers');
  mkdirSync(markers, { recursive: true });
  const wired = JSON.parse(await api.kubectl('get', 'pod', '-n', 'mesh', 'wired', '-o', 'json')) as {
    metadata: { uid: string };
  };
  writeMarker(markers, {
    namespace: 'mesh',
    name: 'wired',
    uid: wired.metadata.uid,
    containerID: 'c'.repeat(64),
    netns: '/run/netns/none',
    ports: [8080],
    at: new Date().toISOString(),
  });

  // The agent in a netns of its own, reaching the API server through a forwarder on that netns' loopback.
  const netns = await api.fx.netns('agent');
  forwarder = await startForwarder(runner, netns, PORT, api.paths.apiSocket);
  const sa = JSON.parse(readFileSync(saKubeconfig, 'utf8')) as { users: { user: Record<string, unknown> }[] };
  const tokenFile = (sa.users[0]!.user['auth-provider'] as { config: { tokenFile: string } }).config
    .tokenFile;
  const agentKubeconfig = join(api.fx.tmp, 'agent.kubeconfig');
  writeFileSync(
    agentKubeconfig,
    JSON.stringify(
      kubeconfig({
        server: `https://127.0.0.1:${PORT}`,
        caFile: api.paths.pki.caCert,
        user: 'palisade-repair',
        credentials: { tokenFile },
      }),
    ),
  );
  const cniEntry = renderManifests(values).find((o) => o.kind === 'ConfigMap') as {
    data: { cni_network_config: string };
  };
  const redirect = { ...JSON.parse(cniEntry.data.cni_network_config), markerDir: markers };
  const env: NodeJS.ProcessEnv = { ...process.env, KUBECONFIG: agentKubeconfig };
  delete env.NODE_EXTRA_CA_CERTS;
  const log = openSync(join(api.fx.tmp, 'agent.log'), 'a');
  agent = spawn(
    'nsenter',
    [
      `--net=${netns}`,
      '--',
      process.execPath,
      join(REPO, 'dist', 'palisade.mjs'),
      'agent',
      '--node',
      'node-a',
      '--datastore',
      'kubernetes',
      '--ipam-dir',
      join(api.fx.tmp, 'ipam'),
      '--cni-socket',
      join(api.fx.tmp, 'cni.sock'),
      '--listen',
      `unix:${join(api.fx.tmp, 'agent.sock')}`,
      '--repair',
      'label',
      '--redirect-config',
      JSON.stringify(redirect),
      '--repair-grace',
      '0',
      '--repair-interval',
      '500',
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

describe('the repair controller on a real API server', () => {
  it('labels the selected pod of its node that left no marker, and only that one', async () => {
    const deadline = Date.now() + 30_000;
    while ((await labels('unwired'))['palisade.dev/redirect-missing'] !== 'true') {
      if (Date.now() > deadline) {
        const log = readFileSync(join(api.fx.tmp, 'agent.log'), 'utf8').slice(-3000);
        assert.fail(`the unwired pod was not labelled within 30 s; agent log:\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    // A few more passes: still nothing on the others.
    await new Promise((r) => setTimeout(r, 1500));
    for (const name of ['wired', 'plain', 'elsewhere']) {
      assert.equal((await labels(name))['palisade.dev/redirect-missing'], undefined, name);
    }
  });

  it('was given no more than patch on pods: it cannot delete them', async () => {
    const can = async (verb: string) =>
      (
        await api
          .kubectl(
            'auth',
            'can-i',
            verb,
            'pods',
            '-n',
            'mesh',
            '--as=system:serviceaccount:default:palisade-repair',
          )
          .catch(() => 'no')
      ).trim();
    assert.equal(await can('patch'), 'yes');
    assert.equal(await can('delete'), 'no');
  });
});
