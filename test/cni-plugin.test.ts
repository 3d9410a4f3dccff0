// palisade-cni on real network namespaces, invoked exactly as a runtime does (env + stdin, from the node netns).
// Every case runs twice: the standalone Node plugin as the CNI binary, and the native shim handing the invocation
// to a real `palisade agent` in the node netns, which runs the plugin in its process (netlink, libnftables) and
// programs the pod's policy before ADD returns.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execPlugin, PluginError, type RuntimeConf } from '../src/cni/invoke.js';
import { hostVethName } from '../src/dataplane/veth-name.js';
import { startTestAgent, type TestAgent } from './helpers/agent.js';
import {
  createFixture,
  ensureBuilt,
  linksIn,
  palLinks,
  REPO,
  reservations,
  runner,
} from './helpers/netns.js';

const fx = createFixture('pct');
let nodeNs = '';
let binDir = '';
let ipamDir = '';

/** The agent of the shim path, while its suite runs. */
let agent: TestAgent | undefined;

function conf(extra: Record<string, unknown> = {}, subnet = '10.244.7.0/24'): Record<string, unknown> {
  return {
    cniVersion: '1.1.0',
    name: 'palisade',
    type: 'palisade-cni',
    mtu: 1500,
    ipam: { type: 'palisade', subnet, dataDir: ipamDir },
    ...(agent ? { agentSocket: agent.cniSocket } : {}),
    ...extra,
  };
}

type CniPath = 'standalone' | 'shim';
let pathTag = '';

/** A pod netns, named per path: both suites make the same pods. */
function podNetns(name: string): Promise<string> {
  return fx.netns(`${pathTag}${name}`);
}

/** A bin dir and IPAM dir of the path's own; for the shim, its agent in the node netns, ready. */
async function usePath(path: CniPath): Promise<void> {
  pathTag = path === 'shim' ? 's' : '';
  binDir = join(fx.tmp, `bin-${path}`);
  ipamDir = join(fx.tmp, `ipam-${path}`);
  mkdirSync(binDir, { recursive: true });
  if (path === 'standalone') {
    copyFileSync(join(REPO, 'dist', 'palisade-cni'), join(binDir, 'palisade-cni'));
    return;
  }
  copyFileSync(join(REPO, 'dist', 'palisade-cni-shim'), join(binDir, 'palisade-cni'));
  copyFileSync(join(REPO, 'dist', 'palisade-cni'), join(binDir, 'palisade-cni-node'));
  agent = await startTestAgent({ dir: fx.tmp, nodeNs, ipamDir });
}

async function stopAgent(): Promise<void> {
  await agent?.stop();
  agent = undefined;
}

function rt(containerID: string, netns: string, ifname = 'eth0'): RuntimeConf {
  return {
    containerID,
    netns,
    ifname,
    binDirs: [binDir],
    hostNetns: nodeNs,
    cacheDir: join(fx.tmp, 'cache'),
  };
}

/**
 * What DEL leaves on the node: at once, no host veth that is up or routed; within 2 s, none at all (through the
 * agent the link is taken down and unrouted before DEL answers, and deleted just after: docs/cni.md).
 */
async function hostVethsRetired(): Promise<void> {
  const { stdout } = await runner.run(['ip', '-j', 'link', 'show'], { netns: nodeNs });
  const up = (JSON.parse(stdout) as { ifname: string; flags: string[] }[]).filter(
    (l) => l.ifname.startsWith('pal') && l.flags.includes('UP'),
  );
  assert.deepEqual(up, [], 'no host veth is up once DEL has answered');
  const routes = await runner.run(['ip', '-j', 'route', 'show'], { netns: nodeNs });
  const viaPal = (JSON.parse(routes.stdout) as { dev?: string }[]).filter((r) => r.dev?.startsWith('pal'));
  assert.deepEqual(viaPal, [], 'no route through a host veth once DEL has answered');
  const deadline = Date.now() + 2000;
  while ((await palLinks(nodeNs)).length > 0 && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(await palLinks(nodeNs), []);
}

async function cni(command: string, c: Record<string, unknown>, r: RuntimeConf) {
  return execPlugin(runner, { command, conf: c, rt: r });
}

async function expectCode(p: Promise<unknown>, code: number, msg: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof PluginError, String(err));
    assert.equal(err.code, code, err.message);
    assert.match(`${err.msg} ${err.details}`, msg);
    return true;
  });
}

before(async () => {
  ensureBuilt();
  nodeNs = await fx.netns('node');
  // A node has an address of its own (the source of its traffic to pods); this kernel has no dummy driver.
  await runner.run(['ip', 'addr', 'add', '10.250.0.1/32', 'dev', 'lo'], { netns: nodeNs });
  await runner.run(['ip', 'addr', 'add', 'fd00:250::1/128', 'dev', 'lo'], { netns: nodeNs });
});
after(async () => {
  await stopAgent();
  await fx.cleanup();
});

for (const path of ['standalone', 'shim'] as const) {
  describe(
    path === 'shim' ? 'through the native shim to the agent' : 'through the standalone Node plugin',
    () => {
      before(() => usePath(path));
      after(() => stopAgent());

      describe('palisade-cni ADD / CHECK / DEL', () => {
        it('wires a pod: address, routes, host veth and host route; the node reaches it', async () => {
          const pod = await podNetns('p1');
          const result = (await cni('ADD', conf(), rt('c1', pod))) as {
            cniVersion: string;
            interfaces: { name: string; sandbox?: string; mac: string }[];
            ips: { address: string; gateway: string; interface: number }[];
          };
          assert.equal(result.cniVersion, '1.1.0');
          const host = hostVethName('c1', 'eth0');
          assert.equal(result.interfaces[0]!.name, host);
          assert.equal(result.interfaces[1]!.sandbox, pod);
          assert.match(result.ips[0]!.address, /^10\.244\.7\.\d+\/32$/);
          assert.equal(result.ips[0]!.gateway, '169.254.1.1');
          const ip = result.ips[0]!.address.split('/')[0]!;

          const { stdout: routes } = await runner.run(['ip', 'route'], { netns: pod });
          assert.match(routes, /default via 169\.254\.1\.1 dev eth0/);
          const { stdout: hostRoutes } = await runner.run(['ip', 'route'], { netns: nodeNs });
          assert.match(hostRoutes, new RegExp(`${ip.replaceAll('.', '\\.')} dev ${host} scope link`));
          await runner.run(['ping', '-c1', '-W2', ip], { netns: nodeNs });

          await cni('CHECK', conf({ prevResult: result }), rt('c1', pod));
          await cni('DEL', conf({ prevResult: result }), rt('c1', pod));
          await hostVethsRetired();
          assert.deepEqual(reservations(ipamDir, 'palisade'), []);
        });

        it('two pods on one node reach each other through the node (routed)', async () => {
          const a = await podNetns('pa');
          const b = await podNetns('pb');
          const ra = (await cni('ADD', conf(), rt('ca', a))) as { ips: { address: string }[] };
          const rb = (await cni('ADD', conf(), rt('cb', b))) as { ips: { address: string }[] };
          const ipB = rb.ips[0]!.address.split('/')[0]!;
          assert.notEqual(ra.ips[0]!.address, rb.ips[0]!.address);
          await runner.run(['ping', '-c1', '-W2', ipB], { netns: a });
          await cni('DEL', conf(), rt('ca', a));
          await cni('DEL', conf(), rt('cb', b));
        });

        it('dual stack: a /32 and a /128, both default routes, the node reaches the pod over both families', async () => {
          const pod = await podNetns('pds');
          const ranges = [[{ subnet: '10.244.6.0/24' }], [{ subnet: 'fd00:10:244:6::/64' }]];
          const dual = conf({ ipam: { type: 'palisade', ranges, dataDir: ipamDir } });
          const r = (await cni('ADD', dual, rt('cds', pod))) as {
            ips: { address: string; gateway: string }[];
          };
          assert.deepEqual(
            r.ips.map((ip) => ip.gateway),
            ['169.254.1.1', 'fe80::ecee:eeff:feee:eeee'],
          );
          const v6 = r.ips[1]!.address;
          assert.match(v6, /^fd00:10:244:6::[0-9a-f]+\/128$/);
          const { stdout: routes6 } = await runner.run(['ip', '-6', 'route'], { netns: pod });
          assert.match(routes6, /default via fe80::ecee:eeff:feee:eeee dev eth0/);
          await runner.run(['ping', '-6', '-c1', '-W2', v6.split('/')[0]!], { netns: nodeNs });
          await cni('CHECK', { ...dual, prevResult: r }, rt('cds', pod));
          await cni('DEL', dual, rt('cds', pod));
          await hostVethsRetired();
        });

        it('answers in the requested version format', async () => {
          for (const v of ['0.3.0', '0.3.1', '0.4.0', '1.0.0']) {
            const pod = await podNetns(`v${v.replaceAll('.', '')}`);
            const r = (await cni('ADD', conf({ cniVersion: v }), rt(`cv${v}`, pod))) as {
              cniVersion: string;
              ips: { version?: string }[];
              interfaces: { mtu?: number }[];
            };
            assert.equal(r.cniVersion, v);
            assert.equal(r.ips[0]!.version, v.startsWith('0.') ? '4' : undefined);
            assert.equal(r.interfaces[0]!.mtu, undefined);
            await cni('DEL', conf({ cniVersion: v }), rt(`cv${v}`, pod));
          }
        });

        it('CHECK names what is missing', async () => {
          const pod = await podNetns('pchk');
          const result = await cni('ADD', conf(), rt('cchk', pod));
          await runner.run(['ip', 'route', 'del', 'default'], { netns: pod });
          await expectCode(
            cni('CHECK', conf({ prevResult: result }), rt('cchk', pod)),
            101,
            /route to 0\.0\.0\.0\/0 via 169\.254\.1\.1 is missing/,
          );
          await runner.run(['ip', 'link', 'del', hostVethName('cchk', 'eth0')], { netns: nodeNs });
          await expectCode(
            cni('CHECK', conf({ prevResult: result }), rt('cchk', pod)),
            101,
            /interface "eth0" is missing/,
          );
          await expectCode(cni('CHECK', conf(), rt('cchk', pod)), 7, /prevResult: required for CHECK/);
          await expectCode(
            cni('CHECK', conf({ cniVersion: '0.3.1', prevResult: result }), rt('cchk', pod)),
            1,
            /does not allow CHECK/,
          );
          await cni('DEL', conf(), rt('cchk', pod));
        });
      });

      describe('palisade-cni DEL is idempotent', () => {
        it('a second DEL, a DEL with empty CNI_NETNS and a DEL after the netns is gone all succeed and release', async () => {
          const pod = await podNetns('pdel');
          await cni('ADD', conf(), rt('cdel', pod));
          assert.equal(reservations(ipamDir, 'palisade').length, 1);
          await runner.run(['ip', 'netns', 'del', pod.split('/').pop()!]);
          await cni('DEL', conf(), rt('cdel', pod)); // netns gone
          assert.deepEqual(reservations(ipamDir, 'palisade'), []);
          await hostVethsRetired();
          await cni('DEL', conf(), rt('cdel', pod)); // second DEL
          await cni('DEL', conf(), rt('cdel', '')); // containerd after the task exited
        });
        it('DEL with an empty CNI_NETNS releases the address and the host veth of a live pod', async () => {
          const pod = await podNetns('pdel2');
          await cni('ADD', conf(), rt('cdel2', pod));
          await cni('DEL', conf(), rt('cdel2', ''));
          assert.deepEqual(reservations(ipamDir, 'palisade'), []);
          await hostVethsRetired();
          assert.deepEqual(await linksIn(pod), ['lo']);
        });
      });

      describe('palisade-cni failures leave nothing behind', () => {
        it('a netns path that does not exist: code 3, nothing reserved', async () => {
          await expectCode(
            cni('ADD', conf(), rt('cnone', '/run/netns/does-not-exist-xyz')),
            3,
            /does not exist/,
          );
          assert.deepEqual(reservations(ipamDir, 'palisade'), []);
        });
        it('an interface name already taken in the pod: error, no veth, no reservation', async () => {
          const pod = await podNetns('pdup');
          await runner.run(['ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'other0'], {
            netns: pod,
          });
          await expectCode(cni('ADD', conf(), rt('cdup', pod)), 102, /already exists/);
          assert.deepEqual(await palLinks(nodeNs), []);
          assert.deepEqual(reservations(ipamDir, 'palisade'), []);
        });
        it('an exhausted range: code 100 naming the range; STATUS says not available (50)', async () => {
          const small = (extra: Record<string, unknown> = {}) => conf(extra, '10.99.0.0/30'); // 2 usable addresses
          const pods = [await podNetns('px1'), await podNetns('px2'), await podNetns('px3')];
          await cni('ADD', small(), rt('cx1', pods[0]!));
          await cni('ADD', small(), rt('cx2', pods[1]!));
          await expectCode(cni('ADD', small(), rt('cx3', pods[2]!)), 100, /10\.99\.0\.0\/30/);
          await expectCode(cni('STATUS', small(), rt('', '')), 50, /no free addresses/);
          assert.deepEqual(await linksIn(pods[2]!), ['lo']);
          await cni('DEL', small(), rt('cx1', pods[0]!));
          await cni('STATUS', small(), rt('', ''));
          await cni('DEL', small(), rt('cx2', pods[1]!));
        });
        it('an unreachable agent: code 11 (try again later), no veth, no reservation', async () => {
          const pod = await podNetns('pagent');
          const gated = conf({ agentSocket: join(fx.tmp, 'no-agent.sock'), agentTimeoutMs: 500 });
          await expectCode(
            cni('ADD', gated, rt('cagent', pod)),
            11,
            /palisade agent at .*no-agent\.sock: ENOENT/,
          );
          assert.deepEqual(await palLinks(nodeNs), []);
          assert.deepEqual(reservations(ipamDir, 'palisade'), []);
          assert.deepEqual(await linksIn(pod), ['lo']);
          await cni('DEL', gated, rt('cagent', pod)); // DEL still succeeds with the agent away
        });
        it('malformed stdin, unknown version, missing variables, bad config', async () => {
          const pod = await podNetns('pbad');
          await assert.rejects(
            runner.run([join(binDir, 'palisade-cni')], {
              input: '{not json',
              env: {
                ...process.env,
                CNI_COMMAND: 'ADD',
                CNI_CONTAINERID: 'x',
                CNI_NETNS: pod,
                CNI_IFNAME: 'eth0',
                CNI_PATH: binDir,
              },
              netns: nodeNs,
            }),
            (err: { stdout: string }) => {
              const doc = JSON.parse(err.stdout) as { code: number; msg: string; cniVersion: string };
              assert.equal(doc.code, 6);
              assert.equal(doc.cniVersion, '1.1.0');
              return true;
            },
          );
          await expectCode(
            cni('ADD', conf({ cniVersion: '9.9.9' }), rt('cb1', pod)),
            1,
            /config is "9\.9\.9"/,
          );
          await expectCode(cni('ADD', conf(), rt('cb2', pod, '')), 4, /CNI_IFNAME/);
          await expectCode(
            cni(
              'ADD',
              conf({ mtu: 20, ipam: { type: 'host-local', subnet: '10.0.0.0/33' } }),
              rt('cb3', pod),
            ),
            7,
            /mtu: 20 must be an integer from 68 to 65535.*ipam/,
          );
          await expectCode(
            cni('ADD', conf({ mode: 'bridge' }), rt('cb4', pod)),
            2,
            /mode: "bridge" is not supported/,
          );
          assert.deepEqual(await palLinks(nodeNs), []);
        });
      });

      describe('palisade-cni GC, STATUS and VERSION', () => {
        it('GC releases every attachment the runtime no longer lists, with its host veth', async () => {
          const keep = await podNetns('pgk');
          const gone = await podNetns('pgg');
          await cni('ADD', conf(), rt('ckeep', keep));
          await cni('ADD', conf(), rt('cgone', gone));
          assert.equal(reservations(ipamDir, 'palisade').length, 2);
          await cni(
            'GC',
            conf({ 'cni.dev/valid-attachments': [{ containerID: 'ckeep', ifname: 'eth0' }] }),
            rt('', ''),
          );
          assert.equal(reservations(ipamDir, 'palisade').length, 1);
          assert.deepEqual(await palLinks(nodeNs), [hostVethName('ckeep', 'eth0')]);
          await expectCode(cni('GC', conf({ cniVersion: '1.0.0' }), rt('', '')), 1, /does not allow GC/);
          await cni('DEL', conf(), rt('ckeep', keep));
        });
        it('GC sweeps host veths of ours left down by a DEL whose link deletion never came (agent died)', async () => {
          const live = await podNetns('pgl');
          const liveVeth = hostVethName('clive', 'eth0');
          // What DEL leaves when the agent dies right after answering: its host veth down, the address released.
          const leftover = hostVethName('cdied', 'eth0');
          // Up and unlisted: not ours to judge (another network's pod); a foreign name: not ours at all.
          const upUnlisted = hostVethName('cother', 'eth0');
          const foreign = 'palnotours';
          const ip = (...args: string[]) => runner.run(['ip', ...args], { netns: nodeNs });
          await cni('ADD', conf(), rt('clive', live));
          try {
            await ip('link', 'add', leftover, 'type', 'veth', 'peer', 'name', 'pgpeer1');
            await ip('link', 'add', upUnlisted, 'type', 'veth', 'peer', 'name', 'pgpeer2');
            await ip('link', 'set', upUnlisted, 'up');
            await ip('link', 'add', foreign, 'type', 'veth', 'peer', 'name', 'pgpeer3');
            await ip('link', 'set', liveVeth, 'down'); // listed: kept even when down
            await cni(
              'GC',
              conf({ 'cni.dev/valid-attachments': [{ containerID: 'clive', ifname: 'eth0' }] }),
              rt('', ''),
            );
            const left = await palLinks(nodeNs);
            assert.ok(!left.includes(leftover), `${leftover} swept: ${left.join(' ')}`);
            for (const kept of [upUnlisted, liveVeth, foreign])
              assert.ok(left.includes(kept), `${kept} kept: ${left.join(' ')}`);
          } finally {
            for (const l of [leftover, upUnlisted, foreign])
              await ip('link', 'del', l).catch(() => undefined);
            await ip('link', 'set', liveVeth, 'up').catch(() => undefined);
            await cni('DEL', conf(), rt('clive', live));
          }
        });
        it('VERSION lists the supported versions', async () => {
          const out = await cni('VERSION', { cniVersion: '1.1.0', type: 'palisade-cni' }, rt('', ''));
          assert.deepEqual(out, {
            cniVersion: '1.1.0',
            supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'],
          });
        });
      });

      describe('palisade-cni under concurrency', () => {
        it('50 parallel ADDs on one node get 50 distinct addresses; 50 parallel DELs release them all', async () => {
          const pods = await Promise.all(Array.from({ length: 50 }, (_, i) => podNetns(`q${i}`)));
          const results = (await Promise.all(pods.map((p, i) => cni('ADD', conf(), rt(`cq${i}`, p))))) as {
            ips: { address: string }[];
          }[];
          const addresses = new Set(results.map((r) => r.ips[0]!.address));
          assert.equal(addresses.size, 50);
          assert.equal(reservations(ipamDir, 'palisade').length, 50);
          assert.equal((await palLinks(nodeNs)).length, 50);
          await Promise.all(pods.map((p, i) => cni('DEL', conf(), rt(`cq${i}`, p))));
          assert.deepEqual(reservations(ipamDir, 'palisade'), []);
          await hostVethsRetired();
        });
      });

      if (path === 'shim')
        it('ran inside the agent: its log has the ADDs, wired through netlink and libnftables', () => {
          const log = readFileSync(join(fx.tmp, 'agent.log'), 'utf8');
          assert.match(log, /nftables through libnftables; pod wiring and conntrack through netlink/);
          const adds = log
            .split('\n')
            .filter((l) => l.includes('"component":"cni"') && l.includes('pod network added'));
          assert.ok(adds.length >= 50, `${adds.length} ADDs in the agent's log`);
        });
    },
  );
}
