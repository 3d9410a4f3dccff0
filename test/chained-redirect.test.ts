// Chained redirect mode end to end, in real namespaces: palisade-cni (`"mode": "redirect"`) runs after Debian's
// reference `bridge` + `host-local` plugins, exec'd as a runtime does (src/cni/invoke.ts, the plugins inside a
// "node" netns so the bridge never touches the root netns). The pod facts come from a stand-in agent socket.
// Checked: an annotated pod's inbound connection to a listed port lands on the proxy port, with the original
// port recoverable from conntrack; the proxy's own outbound traffic is not captured, other outbound is; an
// unselected pod is untouched; prevResult comes back unchanged; CHECK; DEL removes the table (and ADD again
// in the same netns works); no agent → code 11, nothing left. Every case runs twice: the Node plugin exec'd
// standalone, and the native shim handing the invocation to the (stand-in) agent, which runs the plugin in its
// process with libnftables in the pod's netns.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import type { Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cniInProcess } from '../src/agent/cni-inprocess.js';
import { serveStandInAgent } from '../src/agent/testdata/stand-in-agent.js';
import { REDIRECT_TABLE } from '../src/chained/redirect-rules.js';
import type { PodFacts } from '../src/chained/selection.js';
import { injectedPod, plainPod } from '../src/chained/testdata/facts.js';
import type { FactsAnswer } from '../src/cni/agent-client.js';
import { execPlugin, PluginError, type RuntimeConf } from '../src/cni/invoke.js';
import { loadNative, nativeUnavailableReason } from '../src/dataplane/native.js';
import { libNft } from '../src/dataplane/nft-exec.js';
import { createNullLogger } from '../src/util/log.js';
import { Listeners, redirectTables, whoAnswers } from './helpers/listeners.js';
import { createFixture, ensureBuilt, REPO, runner } from './helpers/netns.js';

const fx = createFixture('pch');
const REF_BIN = '/usr/lib/cni';
const PROXY_UID = 1337;
const T = { timeout: 30_000 };
const env = { ...process.env };
delete env.NODE_EXTRA_CA_CERTS;

let nodeNs = '';
let agent: Server | undefined;
const listeners = new Listeners(fx.tmp);

const annotated = injectedPod('web');
const plain = plainPod('db');
const FACTS: Record<string, PodFacts> = { 'shop/web': annotated, 'shop/db': plain };

function bridgeConf() {
  return {
    cniVersion: '1.0.0',
    name: 'chain',
    type: 'bridge',
    bridge: `${fx.prefix}br`,
    isGateway: true,
    ipMasq: false,
    ipam: { type: 'host-local', ranges: [[{ subnet: '10.97.0.0/24' }]], dataDir: join(fx.tmp, 'host-local') },
  };
}

function redirectConf(extra: Record<string, unknown> = {}) {
  return {
    cniVersion: '1.0.0',
    name: 'chain',
    type: 'palisade-cni',
    mode: 'redirect',
    agentSocket: join(fx.tmp, 'agent.sock'),
    agentTimeoutMs: 2000,
    markerDir: join(fx.tmp, 'markers'),
    outbound: { proxyPort: 15001, includeCidrs: ['0.0.0.0/0'] },
    ...extra,
  };
}

function rt(name: string, netns: string): RuntimeConf {
  return {
    containerID: `ctr-${tag}${name}`,
    netns,
    ifname: 'eth0',
    args: { IgnoreUnknown: '1', K8S_POD_NAMESPACE: 'shop', K8S_POD_NAME: name, K8S_POD_UID: `uid-${name}` },
    binDirs: [REF_BIN, binDir],
    cacheDir: join(fx.tmp, 'cache'),
    hostNetns: nodeNs,
    env,
  };
}

const ipOf = (result: Record<string, unknown>) =>
  String((result.ips as { address: string }[])[0]!.address).split('/')[0]!;

let web = '';
let db = '';
/** Where palisade-cni is found: the Node plugin (dist/), or a bin dir with the shim and the plugin beside it. */
let binDir = '';
let tag = '';
let inProcess = 0;
let webResult: Record<string, unknown> = {};
let dbResult: Record<string, unknown> = {};

before(async () => {
  ensureBuilt();
  nodeNs = await fx.netns('node');
  const native = loadNative();
  assert.ok(native, `palisade-native.node: ${nativeUnavailableReason()}`);
  const run = cniInProcess({
    runner,
    log: createNullLogger(),
    podNft: (netns) => libNft(native, netns),
  });
  agent = await serveStandInAgent(join(fx.tmp, 'agent.sock'), {
    facts: async (namespace, name): Promise<FactsAnswer> => ({
      pod: FACTS[`${namespace}/${name}`] ?? null,
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
  listeners.stop();
  agent?.close();
  await fx.cleanup();
});

for (const path of ['standalone', 'shim'] as const) {
  describe(`chained after bridge + host-local, ${path === 'shim' ? 'through the shim to the agent' : 'the Node plugin standalone'}`, () => {
    before(async () => {
      tag = path === 'shim' ? 's' : '';
      if (path === 'standalone') binDir = join(REPO, 'dist');
      else {
        binDir = join(fx.tmp, 'bin-shim');
        mkdirSync(binDir, { recursive: true });
        copyFileSync(join(REPO, 'dist', 'palisade-cni-shim'), join(binDir, 'palisade-cni'));
        copyFileSync(join(REPO, 'dist', 'palisade-cni'), join(binDir, 'palisade-cni-node'));
      }
      web = await fx.netns(`${tag}web`);
      db = await fx.netns(`${tag}db`);
      inProcess = 0;
    });
    after(() => listeners.stop());

    it('ADD: prevResult comes back unchanged, for the redirected pod and the untouched one', T, async () => {
      for (const [name, netns] of [
        ['web', web],
        ['db', db],
      ] as const) {
        const prev = await execPlugin(runner, { command: 'ADD', conf: bridgeConf(), rt: rt(name, netns) });
        assert.ok(prev, 'bridge answered');
        const out = await execPlugin(runner, {
          command: 'ADD',
          conf: { ...redirectConf(), prevResult: prev },
          rt: rt(name, netns),
        });
        assert.deepEqual(out, prev);
        if (name === 'web') webResult = out!;
        else dbResult = out!;
      }
      assert.equal(await redirectTables(web), 1, 'the annotated pod has the redirect table');
      assert.equal(await redirectTables(db), 0, 'the plain pod has none');
      const marker = JSON.parse(readFileSync(join(fx.tmp, 'markers', 'uid-web'), 'utf8')) as Record<
        string,
        unknown
      >;
      assert.deepEqual([marker.namespace, marker.name, marker.ports], ['shop', 'web', [8080]]);
      assert.deepEqual(
        readdirSync(join(fx.tmp, 'markers')),
        ['uid-web'],
        'only the redirected pod leaves a marker',
      );
    });

    it(
      'inbound to the listed port lands on the proxy port; the original port is in conntrack',
      T,
      async () => {
        await listeners.listen(web, 15006, 'proxy-in');
        await listeners.listen(web, 15001, 'proxy-out');
        await listeners.listen(web, 8080, 'web-app');
        await listeners.listen(db, 5432, 'db-app');
        assert.equal(await whoAnswers(db, ipOf(webResult), 8080), 'proxy-in');
        const { stdout } = await runner.run(['conntrack', '-L', '-p', 'tcp', '--orig-port-dst', '8080'], {
          netns: web,
        });
        assert.match(stdout, /dport=8080 .*sport=15006/, 'conntrack keeps the original destination port');
      },
    );

    it("the proxy's own outbound traffic is not redirected; the app's is", T, async () => {
      assert.equal(await whoAnswers(web, ipOf(dbResult), 5432, PROXY_UID), 'db-app');
      assert.equal(await whoAnswers(web, ipOf(dbResult), 5432, 1000), 'proxy-out');
    });

    it('the unselected pod is untouched both ways', T, async () => {
      assert.equal(await whoAnswers(web, ipOf(dbResult), 5432, PROXY_UID), 'db-app');
      await listeners.listen(db, 8080, 'db-8080');
      assert.equal(await whoAnswers(web, ipOf(dbResult), 8080, PROXY_UID), 'db-8080');
    });

    it('CHECK passes for both; it fails once the table is gone', T, async () => {
      for (const [name, netns, result] of [
        ['web', web, webResult],
        ['db', db, dbResult],
      ] as const) {
        await execPlugin(runner, {
          command: 'CHECK',
          conf: { ...redirectConf(), prevResult: result },
          rt: rt(name, netns),
        });
      }
      await runner.run(['nft', 'delete', 'table', 'inet', REDIRECT_TABLE], { netns: web });
      await assert.rejects(
        execPlugin(runner, {
          command: 'CHECK',
          conf: { ...redirectConf(), prevResult: webResult },
          rt: rt('web', web),
        }),
        (err: unknown) => err instanceof PluginError && err.code === 101 && /is missing/.test(err.msg),
      );
    });

    it(
      'no agent and no kubeconfig: ADD fails with code 11 and a clear message, and installs nothing',
      T,
      async () => {
        const lone = await fx.netns(`${tag}lone`);
        FACTS['shop/lone'] = { ...annotated, name: 'lone' };
        const prev = { cniVersion: '1.0.0', interfaces: [], ips: [] };
        await assert.rejects(
          execPlugin(runner, {
            command: 'ADD',
            conf: { ...redirectConf({ agentSocket: join(fx.tmp, 'no-agent.sock') }), prevResult: prev },
            rt: rt('lone', lone),
          }),
          (err: unknown) =>
            err instanceof PluginError &&
            err.code === 11 &&
            /no-agent\.sock.*no kubeconfig is configured/.test(err.msg),
        );
        assert.equal(await redirectTables(lone), 0);
      },
    );

    it('a pod in an excluded namespace is never held up, even with no agent', T, async () => {
      const prev = { cniVersion: '1.0.0', interfaces: [], ips: [] };
      const out = await execPlugin(runner, {
        command: 'ADD',
        conf: { ...redirectConf({ agentSocket: join(fx.tmp, 'no-agent.sock') }), prevResult: prev },
        rt: {
          ...rt('x', web),
          args: { IgnoreUnknown: '1', K8S_POD_NAMESPACE: 'kube-system', K8S_POD_NAME: 'coredns' },
        },
      });
      assert.deepEqual(out, prev);
    });

    it(
      'DEL removes the redirect table; a second DEL succeeds; ADD again in the same netns redirects again',
      T,
      async () => {
        const add = () =>
          execPlugin(runner, {
            command: 'ADD',
            conf: { ...redirectConf(), prevResult: webResult },
            rt: rt('web', web),
          });
        const del = () => execPlugin(runner, { command: 'DEL', conf: redirectConf(), rt: rt('web', web) });
        await add(); // the CHECK test above deleted the table by hand
        assert.equal(await redirectTables(web), 1, 'ADD installed the table');
        await del();
        assert.equal(await redirectTables(web), 0, 'DEL removed the table');
        assert.equal(await whoAnswers(db, ipOf(webResult), 8080), 'web-app', 'inbound reaches the app again');
        assert.deepEqual(readdirSync(join(fx.tmp, 'markers')), [], 'DEL removes the marker');
        await del();
        assert.equal(await redirectTables(web), 0, 'a second DEL succeeds with nothing to remove');
        await add();
        assert.equal(await redirectTables(web), 1);
        assert.equal(
          await whoAnswers(db, ipOf(webResult), 8080),
          'proxy-in',
          'redirected again after DEL + ADD',
        );
        await del();
        assert.equal(await redirectTables(web), 0);
      },
    );

    it('DEL succeeds when the netns is already gone, and when it never existed', T, async () => {
      const short = await fx.netns(`${tag}short`);
      const prev = { cniVersion: '1.0.0', interfaces: [], ips: [] };
      FACTS['shop/short'] = { ...annotated, name: 'short' };
      await execPlugin(runner, {
        command: 'ADD',
        conf: { ...redirectConf(), prevResult: prev },
        rt: rt('short', short),
      });
      assert.equal(await redirectTables(short), 1);
      await runner.run(['ip', 'netns', 'del', short.split('/').pop()!]);
      await execPlugin(runner, { command: 'DEL', conf: redirectConf(), rt: rt('short', short) });
      await execPlugin(runner, { command: 'DEL', conf: bridgeConf(), rt: rt('web', web) });
      await execPlugin(runner, {
        command: 'DEL',
        conf: redirectConf(),
        rt: { ...rt('gone', '/run/netns/none') },
      });
      assert.equal(existsSync('/run/netns/none'), false);
    });
    if (path === 'shim')
      it('ran inside the agent: the shim handed every invocation over', () => {
        assert.ok(inProcess >= 10, `${inProcess} invocations ran in the agent`);
      });
  });
}
