// Pod wiring through netlink in-process (src/dataplane/netlink/) leaves the kernel exactly as the `ip -batch`
// scripts do: each spec is wired both ways in twin namespaces and everything iproute2 reports is compared
// (iproute2 is the oracle: it parses the kernel's answers with its own code, not ours). Then traffic, failure
// unwinding and deletion.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadNative, nativeUnavailableReason } from '../src/dataplane/native.js';
import { netlinkPodLinks } from '../src/dataplane/netlink/netlink-links.js';
import { ipPodLinks, PodLinkError, type PodLinks } from '../src/dataplane/pod-link.js';
import type { PodLinkSpec } from '../src/dataplane/pod-link-script.js';
import { createRunner } from '../src/dataplane/runner.js';
import { createFixture, ensureBuilt, runner } from './helpers/netns.js';

const fx = createFixture('pnl');
after(() => fx.cleanup());
before(() => ensureBuilt());

/** A runner whose commands run in the node netns: the `ip` wiring's node side is the netns it runs in. */
function inNode(nodeNetns: string) {
  const base = createRunner();
  return {
    run: (argv: readonly string[], o: { input?: string; netns?: string } = {}) =>
      base.run(argv, { ...o, netns: o.netns ?? nodeNetns }),
  };
}

/** A node namespace with addresses of its own on lo, for the pod's replies to come back to. */
async function nodeNetns(name: string): Promise<string> {
  const ns = await fx.netns(name);
  await runner.run(['ip', '-batch', '-'], {
    netns: ns,
    input: 'addr add 192.0.2.1/32 dev lo\naddr add 2001:db8::1/128 dev lo nodad\n',
  });
  return ns;
}

type Json = Record<string, unknown>;
const DROP = new Set([
  'ifindex',
  'link_index',
  'link_netnsid',
  'index',
  'valid_life_time',
  'preferred_life_time',
  'stats64',
  'linkinfo_slave',
  'inet6_addr_gen_mode_unused',
  'parentbus',
  'parentdev',
  'gso_max_size',
  'gro_max_size',
  'tso_max_size',
  'gso_ipv4_max_size',
  'gro_ipv4_max_size',
  'tso_max_segs',
  'num_tx_queues',
  'num_rx_queues',
  'inet6_token',
]);

/**
 * iproute2's view of a namespace, without what differs between any two namespaces (indexes, lifetimes). Taken
 * once the kernel's link watcher has caught up: a veth's operational state follows its carrier asynchronously.
 */
async function view(netns: string): Promise<Json> {
  const ip = async (...args: string[]) => {
    const { stdout } = await runner.run(['ip', '-j', ...args], { netns });
    return JSON.parse(stdout || '[]') as Json[];
  };
  for (let i = 0; i < 40; i++) {
    const links = (await ip('link', 'show')) as { ifname: string; operstate?: string }[];
    if (links.every((l) => l.ifname === 'lo' || l.operstate === 'UP')) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(strip);
    if (v && typeof v === 'object')
      return Object.fromEntries(
        Object.entries(v as Json)
          .filter(([k]) => !DROP.has(k))
          .map(([k, x]) => [k, strip(x)]),
      );
    return v;
  };
  const byName = (a: Json, b: Json) => JSON.stringify(a).localeCompare(JSON.stringify(b));
  return strip({
    links: (await ip('-d', 'addr', 'show')).sort(byName),
    routes4: await ip('-4', 'route', 'show', 'table', 'all'),
    routes6: await ip('-6', 'route', 'show', 'table', 'all'),
    neigh: (await ip('neigh', 'show', 'nud', 'permanent')).sort(byName),
  }) as Json;
}

const SPECS: [string, string[]][] = [
  ['IPv4', ['10.244.7.5']],
  ['IPv6', ['fd00:10:244:7::5']],
  ['dual-stack', ['10.244.7.6', 'fd00:10:244:7::6']],
];

describe('pod wiring through netlink', () => {
  const native = loadNative();
  before(() => assert.ok(native, `palisade-native.node: ${nativeUnavailableReason()}`));

  for (const [label, addresses] of SPECS) {
    it(`${label}: the kernel ends as the ip scripts leave it, and the node reaches the pod`, async () => {
      const tag = label.slice(0, 4).toLowerCase().replace('-', '');
      const ways: [string, (node: string) => PodLinks][] = [
        ['ip', (node) => ipPodLinks(inNode(node))],
        ['nl', (node) => netlinkPodLinks(native!, { nodeNetns: node })],
      ];
      const views: Json[] = [];
      for (const [way, links] of ways) {
        const node = await nodeNetns(`${tag}-${way}-node`);
        const pod = await fx.netns(`${tag}-${way}-pod`);
        const spec: PodLinkSpec = {
          netns: pod,
          ifname: 'eth0',
          hostIfname: 'palc0ffee00',
          mtu: 1450,
          podMac: '0a:58:0a:f4:07:05',
          addresses,
        };
        await links(node).create(spec);
        views.push({ node: await view(node), pod: await view(pod) });
        // Traffic both ways through the wiring: the node pings each pod address from its side.
        for (const a of addresses) {
          const ping = a.includes(':') ? ['ping', '-6', '-c1', '-W2', a] : ['ping', '-c1', '-W2', a];
          await runner.run(ping, { netns: node });
        }
      }
      assert.deepEqual(views[1], views[0]);
    });
  }

  it('the comparison is not vacuous: a different MTU shows', async () => {
    const node = await fx.netns('mtu-node');
    const pod = await fx.netns('mtu-pod');
    const spec: PodLinkSpec = {
      netns: pod,
      ifname: 'eth0',
      hostIfname: 'palmtu',
      mtu: 1400,
      podMac: '0a:58:0a:f4:07:09',
      addresses: ['10.244.7.9'],
    };
    const links = netlinkPodLinks(native!, { nodeNetns: node });
    await links.create(spec);
    const before = await view(node);
    await runner.run(['ip', 'link', 'set', 'palmtu', 'mtu', '1300'], { netns: node });
    assert.notDeepEqual(await view(node), before);
  });

  it('an interface name taken in the pod: PodLinkError, and nothing left on the node', async () => {
    const node = await fx.netns('taken-node');
    const pod = await fx.netns('taken-pod');
    await runner.run(['ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'other'], { netns: pod });
    const links = netlinkPodLinks(native!, { nodeNetns: node });
    const spec: PodLinkSpec = {
      netns: pod,
      ifname: 'eth0',
      hostIfname: 'paltaken',
      mtu: 1500,
      podMac: '0a:58:0a:f4:07:0a',
      addresses: ['10.244.7.10'],
    };
    await assert.rejects(
      links.create(spec),
      (err: unknown) => err instanceof PodLinkError && /already exists/.test(err.message),
    );
    const { stdout } = await runner.run(['ip', '-j', 'link', 'show'], { netns: node });
    assert.deepEqual(
      (JSON.parse(stdout) as { ifname: string }[]).map((l) => l.ifname),
      ['lo'],
    );
  });

  it('a stale host veth of the same name is replaced; deleteHost is true, then false', async () => {
    const node = await nodeNetns('stale-node');
    const pod = await fx.netns('stale-pod');
    await runner.run(['ip', 'link', 'add', 'palstale', 'type', 'veth', 'peer', 'name', 'x'], { netns: node });
    const links = netlinkPodLinks(native!, { nodeNetns: node });
    const spec: PodLinkSpec = {
      netns: pod,
      ifname: 'eth0',
      hostIfname: 'palstale',
      mtu: 1500,
      podMac: '0a:58:0a:f4:07:0b',
      addresses: ['10.244.7.11'],
    };
    await links.create(spec);
    await runner.run(['ping', '-c1', '-W2', '10.244.7.11'], { netns: node });
    assert.equal(await links.deleteHost('palstale'), true);
    assert.equal(await links.deleteHost('palstale'), false);
    const { stdout } = await runner.run(['ip', '-j', 'link', 'show'], { netns: pod });
    assert.deepEqual(
      (JSON.parse(stdout) as { ifname: string }[]).map((l) => l.ifname),
      ['lo'],
    );
  });

  it('retire: at once down and unrouted; then deleted by index, never the same-named link an ADD made since', async () => {
    const node = await nodeNetns('ret-node');
    const pod = await fx.netns('ret-pod');
    const links = netlinkPodLinks(native!, { nodeNetns: node });
    const spec: PodLinkSpec = {
      netns: pod,
      ifname: 'eth0',
      hostIfname: 'palret',
      mtu: 1500,
      podMac: '0a:58:0a:f4:07:0d',
      addresses: ['10.244.7.13', 'fd00:10:244:7::13'],
    };
    await links.create(spec);
    const { removed, gone } = await links.retire('palret');
    assert.equal(removed, true);
    const state = async () => {
      const { stdout } = await runner.run(['ip', '-j', 'link', 'show', 'palret'], { netns: node });
      return JSON.parse(stdout) as { flags: string[] }[];
    };
    const routes = async () =>
      (await runner.run(['ip', '-j', '-4', 'route'], { netns: node })).stdout +
      (await runner.run(['ip', '-j', '-6', 'route'], { netns: node })).stdout;
    const before = await state().catch(() => []);
    if (before.length > 0) assert.ok(!before[0]!.flags.includes('UP'), 'down when retire resolves');
    assert.doesNotMatch(await routes(), /palret/, 'no route through it when retire resolves');
    // An ADD of the same container and interface again, before the deletion has finished.
    const again = { ...spec, podMac: '0a:58:0a:f4:07:0e', netns: await fx.netns('ret-pod2') };
    await links.create(again);
    await gone;
    const after = await state();
    assert.equal(after.length, 1, 'the new link of the same name stays');
    assert.ok(after[0]!.flags.includes('UP'));
    await runner.run(['ping', '-c1', '-W2', '10.244.7.13'], { netns: node });
    const none = await links.retire('nosuch');
    assert.equal(none.removed, false);
    await none.gone;
  });

  it('retiredHostLinks: both ways list exactly the down host veths of ours', async () => {
    const node = await nodeNetns('rl-node');
    const ip = (...args: string[]) => runner.run(['ip', ...args], { netns: node });
    await ip('link', 'add', 'pal0123456789a', 'type', 'veth', 'peer', 'name', 'rlpeer1'); // ours, down
    await ip('link', 'add', 'pal0123456789b', 'type', 'veth', 'peer', 'name', 'rlpeer2'); // ours, up
    await ip('link', 'set', 'pal0123456789b', 'up');
    await ip('link', 'add', 'palnot-ours', 'type', 'veth', 'peer', 'name', 'rlpeer3'); // not our pattern
    for (const links of [ipPodLinks(inNode(node)), netlinkPodLinks(native!, { nodeNetns: node })])
      assert.deepEqual(await links.retiredHostLinks(), ['pal0123456789a']);
  });

  it('a missing pod namespace is a PodLinkError naming it', async () => {
    const node = await fx.netns('gone-node');
    const links = netlinkPodLinks(native!, { nodeNetns: node });
    const spec: PodLinkSpec = {
      netns: `/run/netns/${fx.prefix}-nosuch`,
      ifname: 'eth0',
      hostIfname: 'palgone',
      mtu: 1500,
      podMac: '0a:58:0a:f4:07:0c',
      addresses: ['10.244.7.12'],
    };
    await assert.rejects(links.create(spec), /nosuch/);
  });
});
