// The native shim (src/cni/shim/palisade-cni.c) as a runtime execs it, installed as palisade-cni with the Node
// plugin beside it as palisade-cni-node: with an agent, the invocation runs in the agent's process (here a
// stand-in serving the agent's real in-process handler) and the answer is the plugin's own; without one, the
// shim execs the Node plugin with the same environment and stdin. Redirect mode only: routed mode in-process
// would wire veths in this test process's netns, which is the machine's root netns.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import type { Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cniInProcess } from '../src/agent/cni-inprocess.js';
import { serveStandInAgent } from '../src/agent/testdata/stand-in-agent.js';
import type { PodFacts } from '../src/chained/selection.js';
import { execPlugin, PluginError, type RuntimeConf } from '../src/cni/invoke.js';
import { captureLogger } from '../src/datastore/testdata/kube-testkit.js';
import { redirectTables } from './helpers/listeners.js';
import { createFixture, ensureBuilt, REPO, runner } from './helpers/netns.js';

const fx = createFixture('psh');
const T = { timeout: 30_000 };
const env = { ...process.env };
delete env.NODE_EXTRA_CA_CERTS;
const bin = join(fx.tmp, 'bin');
const agentSocket = join(fx.tmp, 'agent.sock');
let agent: Server | undefined;
let inProcess = 0;
let nodeNs = '';
/** The agent's log, where the plugin's lines land when it runs in the agent. */
const captured = captureLogger();

const web: PodFacts = {
  namespace: 'shop',
  name: 'web',
  labels: {},
  annotations: { 'sidecar.codesealer.com/status': 'injected', 'codesealer.com/dport': '8080' },
  containers: [{ name: 'codesealer-core', ports: [] }],
  initContainers: [],
};

const conf = (extra: Record<string, unknown> = {}) => ({
  cniVersion: '1.0.0',
  name: 'chain',
  type: 'palisade-cni',
  mode: 'redirect',
  agentSocket,
  markerDir: join(fx.tmp, 'markers'),
  prevResult: { cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: 'x' }], ips: [] },
  ...extra,
});

function rt(netns: string): RuntimeConf {
  return {
    containerID: 'ctr-web',
    netns,
    ifname: 'eth0',
    args: { IgnoreUnknown: '1', K8S_POD_NAMESPACE: 'shop', K8S_POD_NAME: 'web' },
    binDirs: [bin],
    cacheDir: join(fx.tmp, 'cache'),
    hostNetns: nodeNs,
    env,
  };
}

before(async () => {
  ensureBuilt();
  mkdirSync(bin);
  copyFileSync(join(REPO, 'dist', 'palisade-cni-shim'), join(bin, 'palisade-cni'));
  copyFileSync(join(REPO, 'dist', 'palisade-cni'), join(bin, 'palisade-cni-node'));
  nodeNs = await fx.netns('node');
  const run = cniInProcess({ runner, log: captured.log });
  agent = await serveStandInAgent(agentSocket, {
    facts: async (namespace) => ({
      pod: web,
      namespace: { name: namespace, labels: { 'codesealer.com/webhook': 'enabled' } },
      revision: '1',
    }),
    cni: (e, stdin) => {
      inProcess += 1;
      return run(e, stdin);
    },
  });
});

after(async () => {
  agent?.close();
  await fx.cleanup();
});

describe('the native CNI shim', () => {
  it(
    'with the agent: runs in the agent, installs the redirect, answers prevResult unchanged',
    T,
    async () => {
      const pod = await fx.netns('web');
      const c = conf();
      const out = await execPlugin(runner, { command: 'ADD', conf: c, rt: rt(pod) });
      assert.deepEqual(out, c.prevResult);
      assert.equal(inProcess, 1, 'the invocation ran in the agent');
      assert.equal(await redirectTables(pod), 1);
      const line = captured.records.find((r) => r.msg === 'traffic redirected to the proxy');
      assert.ok(line, 'the plugin logged into the agent');
      assert.equal(line.pod, 'shop/web', 'with the pod name');
      assert.equal(line.component, 'cni');
      await execPlugin(runner, { command: 'CHECK', conf: c, rt: rt(pod) });
      await execPlugin(runner, { command: 'DEL', conf: c, rt: rt(pod) });
      assert.equal(inProcess, 3);
    },
  );

  it("the plugin's errors come back as they are: code, message, exit status", T, async () => {
    const pod = await fx.netns('bad');
    await assert.rejects(
      execPlugin(runner, { command: 'ADD', conf: conf({ proxyPort: 0 }), rt: rt(pod) }),
      (err: unknown) => err instanceof PluginError && err.code === 7 && /proxyPort: 0/.test(err.msg),
    );
  });

  it('without the agent: execs the Node plugin with the same stdin and environment', T, async () => {
    const pod = await fx.netns('lone');
    const before = inProcess;
    await assert.rejects(
      execPlugin(runner, {
        command: 'ADD',
        conf: conf({ agentSocket: join(fx.tmp, 'gone.sock') }),
        rt: rt(pod),
      }),
      (err: unknown) =>
        err instanceof PluginError &&
        err.code === 11 &&
        /gone\.sock.*no kubeconfig is configured/.test(err.msg),
    );
    assert.equal(inProcess, before);
    assert.equal(await redirectTables(pod), 0);
  });

  it('VERSION is answered by the Node plugin', T, async () => {
    const out = await execPlugin(runner, {
      command: 'VERSION',
      conf: { cniVersion: '1.0.0', type: 'palisade-cni' },
      rt: rt(''),
    });
    assert.ok(Array.isArray(out?.supportedVersions), JSON.stringify(out));
  });
});
