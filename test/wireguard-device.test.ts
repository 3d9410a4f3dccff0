// Two nodes' WireGuard devices on a real veth (wireguard-go here: these kernels have no module), their peers from
// the published annotations (src/model/wireguard.ts): a ping between their "pod" addresses crosses the tunnel,
// the veth carries only WireGuard (UDP 51820) while it does, a peer gone takes its routes with it, and back.
// Namespaces and interfaces carry a unique prefix (wireguard-go's socket directory is shared) and are removed.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadOrCreateKey } from '../src/agent/wireguard-keys.js';
import { startWireguardDevice, type WireguardDevice } from '../src/dataplane/wireguard.js';
import {
  formatWireguardAnnotation,
  tunnelAddress,
  WIREGUARD_ANNOTATION,
  wireguardPeers,
} from '../src/model/wireguard.js';
import { createFixture, runner } from './helpers/netns.js';

const fx = createFixture('pwd');
const ns = { a: '', b: '' };
const dev: Record<'a' | 'b', WireguardDevice | undefined> = { a: undefined, b: undefined };
const UNDERLAY = { a: '198.18.250.1', b: '198.18.250.2' };
const POD = { a: '10.250.1.1', b: '10.250.2.1' };
const POD6 = { a: 'fd00:250:1::1', b: 'fd00:250:2::1' };
const CIDR = { a: '10.250.1.0/24', b: '10.250.2.0/24' };
const CIDR6 = { a: 'fd00:250:1::/64', b: 'fd00:250:2::/64' };

function nodes(withB = true) {
  return (['a', 'b'] as const)
    .filter((n) => withB || n === 'a')
    .map((n) => ({
      name: n,
      ips: [UNDERLAY[n]],
      podCIDRs: [CIDR[n], CIDR6[n]],
      annotations: {
        [WIREGUARD_ANNOTATION]: formatWireguardAnnotation({
          publicKey: loadOrCreateKey(join(fx.tmp, `${n}.key`)).publicKey,
          port: 51820,
        }),
      },
    }));
}

/** A ping from `from`'s pod address (or, with `host`, from the node itself) to `to`'s pod, over IPv4 or IPv6. */
const ping = (from: 'a' | 'b', to: 'a' | 'b', opts: { family?: 4 | 6; host?: boolean } = {}) => {
  const [src, dst] = opts.family === 6 ? [POD6[from], POD6[to]] : [POD[from], POD[to]];
  const argv = ['ping', '-c', '1', '-W', '1', ...(opts.host ? [] : ['-I', src]), dst];
  return runner.run(argv, { netns: ns[from] }).then(
    () => true,
    () => false,
  );
};

before(async () => {
  for (const n of ['a', 'b']) loadOrCreateKey(join(fx.tmp, `${n}.key`));
  ns.a = await fx.netns('a');
  ns.b = await fx.netns('b');
  await runner.run([
    'ip',
    'link',
    'add',
    `${fx.prefix}va`,
    'netns',
    ns.a,
    'type',
    'veth',
    'peer',
    'name',
    `${fx.prefix}vb`,
    'netns',
    ns.b,
  ]);
  for (const n of ['a', 'b'] as const) {
    const v = `${fx.prefix}v${n}`;
    await runner.run(['ip', 'addr', 'add', `${UNDERLAY[n]}/24`, 'dev', v], { netns: ns[n] });
    await runner.run(['ip', 'link', 'set', v, 'up'], { netns: ns[n] });
    await runner.run(['ip', 'addr', 'add', `${POD[n]}/32`, 'dev', 'lo'], { netns: ns[n] });
    await runner.run(['ip', 'addr', 'add', `${POD6[n]}/128`, 'dev', 'lo'], { netns: ns[n] });
    dev[n] = await startWireguardDevice({
      runner,
      iface: `${fx.prefix}w${n}`,
      keyFile: join(fx.tmp, `${n}.key`),
      listenPort: 51820,
      netns: ns[n],
      logFile: join(fx.tmp, `${n}.log`),
      mtu: 1420,
      address: tunnelAddress([CIDR[n]]),
    });
  }
});
after(async () => {
  for (const d of Object.values(dev)) await d?.stop();
  await fx.cleanup();
});

describe('WireGuard devices between two nodes', () => {
  it('no peers: the pods do not reach each other (no route in clear either)', async () => {
    assert.equal(dev.a!.mode, 'userspace');
    assert.equal(await ping('a', 'b'), false);
  });

  it('peers from the published keys: the ping crosses the tunnel, with a handshake on both sides', async () => {
    for (const n of ['a', 'b'] as const) {
      const { peers, problems } = wireguardPeers(n, nodes());
      assert.deepEqual(problems, []);
      await dev[n]!.apply(peers);
    }
    // What the underlay carries meanwhile: counted on b's veth, ICMP (the ping in clear) and WireGuard's UDP.
    const veth = `${fx.prefix}vb`;
    await runner.run(['nft', '-f', '-'], {
      netns: ns.b,
      input: [
        `table inet ${fx.prefix} {`,
        '  counter plain {}',
        '  counter plain6 {}',
        '  counter wg {}',
        '  chain c {',
        '    type filter hook prerouting priority -400;',
        `    iifname "${veth}" meta l4proto icmp counter name "plain"`,
        `    iifname "${veth}" ip6 daddr fd00:250::/32 counter name "plain6"`,
        `    iifname "${veth}" udp dport 51820 counter name "wg"`,
        '  }',
        '}',
        '',
      ].join('\n'),
    });
    assert.equal(await ping('a', 'b'), true);
    assert.equal(await ping('a', 'b', { family: 6 }), true, 'IPv6 pods over the same peer');
    assert.equal(
      await ping('b', 'a', { host: true }),
      true,
      "the node's own traffic, from its tunnel address",
    );
    const counters = JSON.parse(
      (await runner.run(['nft', '-j', 'list', 'counters'], { netns: ns.b })).stdout,
    ) as {
      nftables: { counter?: { name: string; packets: number } }[];
    };
    const count = (name: string) => counters.nftables.find((o) => o.counter?.name === name)?.counter?.packets;
    assert.equal(count('plain'), 0, 'no ICMP crossed the underlay in clear');
    assert.equal(count('plain6'), 0, 'no IPv6 packet between pods crossed in clear');
    assert.ok((count('wg') ?? 0) > 0, 'it went through the tunnel');
    for (const n of ['a', 'b'] as const) {
      const [p] = (await dev[n]!.state()).peers;
      assert.ok(p && p.latestHandshake > 0 && p.rxBytes > 0, `${n}: ${JSON.stringify(p)}`);
    }
    const routes = (await runner.run(['ip', 'route', 'show', CIDR.b], { netns: ns.a })).stdout;
    assert.match(routes, new RegExp(`dev ${fx.prefix}wa`));
  });

  it('a peer gone takes its route: nothing leaves for its pods, and it comes back with the peer', async () => {
    await dev.a!.apply(wireguardPeers('a', nodes(false)).peers);
    assert.equal((await runner.run(['ip', 'route', 'show', CIDR.b], { netns: ns.a })).stdout.trim(), '');
    assert.equal(
      (await runner.run(['ip', '-6', 'route', 'show', CIDR6.b], { netns: ns.a })).stdout.trim(),
      '',
    );
    assert.equal(await ping('a', 'b'), false);
    assert.equal(await ping('a', 'b', { family: 6 }), false);
    await dev.a!.apply(wireguardPeers('a', nodes()).peers);
    assert.equal(await ping('a', 'b'), true);
  });
});
