// Two nodes' IPsec daemons (strongSwan charon, one per node netns) on a real veth: a ping between their "pod"
// addresses crosses the tunnel while the veth carries only ESP in UDP 4500; the pods' traffic never leaves in
// clear, not even while one side's charon restarts; the restarted side comes back without the other being
// touched; a peer removed from the config loses its SAs and its traffic. Measured times are printed as
// diagnostics. Namespaces carry a unique prefix and are removed (charons stopped by PID) even on failure.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { FAIL_CLOSED_METRIC, type IpsecDaemon, startIpsecDaemon } from '../src/dataplane/ipsec.js';
import { connectionName, type IpsecConfig } from '../src/dataplane/ipsec-plan.js';
import { createFixture, linksIn, runner } from './helpers/netns.js';

type Node = 'a' | 'b';
const fx = createFixture('pis');
const ns: Record<Node, string> = { a: '', b: '' };
const dev: Record<Node, IpsecDaemon | undefined> = { a: undefined, b: undefined };
const NAME: Record<Node, string> = { a: `${fx.prefix}.a`, b: `${fx.prefix}.b` }; // dotted, as node names may be
const UNDERLAY: Record<Node, string> = { a: '198.18.251.1', b: '198.18.251.2' };
const POD: Record<Node, string> = { a: '10.251.1.1', b: '10.251.2.1' };
const CIDR: Record<Node, string> = { a: '10.251.1.0/24', b: '10.251.2.0/24' };
const PSK = randomBytes(24).toString('base64');
const other = (n: Node): Node => (n === 'a' ? 'b' : 'a');

function config(n: Node, withPeer = true): IpsecConfig {
  const o = other(n);
  return {
    node: NAME[n],
    address: UNDERLAY[n],
    podCIDRs: [CIDR[n]],
    peers: withPeer ? [{ node: NAME[o], address: UNDERLAY[o], podCIDRs: [CIDR[o]] }] : [],
    psk: PSK,
  };
}

const start = (n: Node) =>
  startIpsecDaemon({ runner, netns: ns[n], dir: join(fx.tmp, n), logFile: join(fx.tmp, `${n}.log`) });

const ping = (from: Node, count = 1) =>
  runner
    .run(
      ['ping', '-n', '-q', '-c', String(count), '-i', '0.05', '-W', '1', '-I', POD[from], POD[other(from)]],
      {
        netns: ns[from],
      },
    )
    .then(
      () => true,
      () => false,
    );

/** Milliseconds until `probe` holds (polled), or an error naming `what` after `timeoutMs`. */
async function waitFor(what: string, probe: () => Promise<boolean>, timeoutMs = 10_000): Promise<number> {
  const t0 = performance.now();
  while (!(await probe())) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Math.round(performance.now() - t0);
}

// Counted on each node's veth as packets come in: any packet from a pod address (the pods' traffic in clear),
// and ESP in UDP.
async function addCounters(n: Node): Promise<void> {
  const veth = `${fx.prefix}v${n}`;
  await runner.run(['nft', '-f', '-'], {
    netns: ns[n],
    input: `table inet ${fx.prefix} {
  counter plain {}
  counter espinudp {}
  chain c {
    type filter hook prerouting priority -400;
    iifname "${veth}" ip saddr 10.251.0.0/16 counter name "plain"
    iifname "${veth}" udp dport 4500 counter name "espinudp"
  }
}
`,
  });
}
async function counters(n: Node): Promise<{ plain: number; espinudp: number }> {
  const { stdout } = await runner.run(['nft', '-j', 'list', 'counters'], { netns: ns[n] });
  const list = (JSON.parse(stdout) as { nftables: { counter?: { name: string; packets: number } }[] })
    .nftables;
  const get = (name: string) => list.find((o) => o.counter?.name === name)?.counter?.packets ?? -1;
  return { plain: get('plain'), espinudp: get('espinudp') };
}
const resetCounters = () =>
  Promise.all((['a', 'b'] as const).map((n) => runner.run(['nft', 'reset', 'counters'], { netns: ns[n] })));

const routes = async (n: Node, table: string) =>
  (await runner.run(['ip', 'route', 'show', 'table', table], { netns: ns[n] })).stdout;

/** What /proc/config.gz says of kernel ESP with GCM (the probe's independent oracle); undefined: unknown. */
function kernelHasEsp(): boolean | undefined {
  try {
    const conf = gunzipSync(readFileSync('/proc/config.gz')).toString('utf8');
    return /^CONFIG_INET_ESP=[ym]$/m.test(conf) && /^CONFIG_CRYPTO_GCM=[ym]$/m.test(conf);
  } catch {
    return undefined; // no config exported
  }
}

before(async () => {
  ns.a = await fx.netns('a');
  ns.b = await fx.netns('b');
  const [va, vb] = [`${fx.prefix}va`, `${fx.prefix}vb`];
  await runner.run([
    'ip',
    'link',
    'add',
    va,
    'netns',
    ns.a,
    'type',
    'veth',
    'peer',
    'name',
    vb,
    'netns',
    ns.b,
  ]);
  for (const n of ['a', 'b'] as const) {
    const v = `${fx.prefix}v${n}`;
    await runner.run(['ip', 'addr', 'add', `${UNDERLAY[n]}/24`, 'dev', v], { netns: ns[n] });
    await runner.run(['ip', 'link', 'set', v, 'up'], { netns: ns[n] });
    await runner.run(['ip', 'addr', 'add', `${POD[n]}/32`, 'dev', 'lo'], { netns: ns[n] });
    await addCounters(n);
  }
  // b's underlay would carry a's pod CIDR in clear (as a default route would): IPsec must keep traffic off it.
  await runner.run(['ip', 'route', 'add', CIDR.a, 'via', UNDERLAY.a, 'metric', '5000'], { netns: ns.b });
  dev.a = await start('a');
  dev.b = await start('b');
});
after(async () => {
  for (const n of ['a', 'b'] as const) await dev[n]?.stop();
  await fx.cleanup();
});

describe('IPsec daemons between two nodes', () => {
  it('the mode follows the kernel (libipsec here: its TUN device in the netns)', async (t) => {
    const esp = kernelHasEsp();
    if (esp !== undefined) assert.equal(dev.a!.mode, esp ? 'kernel' : 'libipsec', dev.a!.modeReason);
    t.diagnostic(`mode ${dev.a!.mode}: ${dev.a!.modeReason}`);
    if (dev.a!.mode === 'libipsec') assert.ok((await linksIn(ns.a)).includes('ipsec0'));
  });

  it('without IPsec, b sends to a pod of a in clear (the counters see it)', async () => {
    await ping('b'); // no answer: a has no route back; the request crossed the veth
    assert.ok((await counters('a')).plain > 0);
  });

  it('both configs applied: the ping crosses the tunnel, and the veth carries only ESP in UDP', async (t) => {
    await resetCounters();
    await dev.a!.apply(config('a'));
    const t0 = performance.now();
    await dev.b!.apply(config('b')); // b initiates (a's attempt found no config on b)
    const applied = Math.round(performance.now() - t0);
    const up = applied + (await waitFor('tunnel up', () => ping('a')));
    t.diagnostic(`b's apply took ${applied} ms; first ping through ${up} ms after b's apply began`);
    const { stdout } = await runner.run(
      ['ping', '-n', '-q', '-c', '20', '-i', '0.05', '-W', '1', '-I', POD.a, POD.b],
      { netns: ns.a },
    );
    assert.match(stdout, / 0% packet loss/);
    t.diagnostic(`20 pings a to b through the tunnel: rtt ${/rtt (.*)/.exec(stdout)?.[1]}`);
    assert.equal(await ping('b', 20), true);
    for (const n of ['a', 'b'] as const) {
      const c = await counters(n);
      assert.equal(c.plain, 0, `${n}: nothing from a pod address in clear`);
      assert.ok(c.espinudp >= 40, `${n}: ESP in UDP 4500 (${c.espinudp} packets)`);
      const sa = (await dev[n]!.state())[connectionName(NAME[other(n)])];
      assert.equal(sa?.ikeState, 'ESTABLISHED', `${n}: ${JSON.stringify(sa)}`);
      assert.deepEqual(sa.childStates, ['INSTALLED']);
      assert.equal(sa.ikeSas, 1);
    }
    if (dev.a!.mode === 'libipsec')
      assert.match(await routes('a', '220'), new RegExp(`^${CIDR.b} dev ipsec0 .*src ${POD.a}`, 'm'));
    assert.match(
      await routes('b', 'main'),
      new RegExp(`^unreachable ${CIDR.a} metric ${FAIL_CLOSED_METRIC}`, 'm'),
    );
  });

  it("a's charon restarted: b untouched, nothing in clear meanwhile, one IKE_SA again", async (t) => {
    const bPid = dev.b!.pid;
    await resetCounters();
    const s0 = performance.now();
    await dev.a!.stop();
    dev.a = undefined;
    t.diagnostic(`charon a stopped in ${Math.round(performance.now() - s0)} ms`);
    const down = { ping: await ping('b'), counters: await counters('a') };
    const t0 = performance.now();
    dev.a = await start('a');
    const started = Math.round(performance.now() - t0);
    await dev.a.apply(config('a'));
    const applied = Math.round(performance.now() - t0);
    const up = await waitFor('tunnel back', () => ping('b'));
    t.diagnostic(
      `charon a started in ${started} ms, applied at ${applied} ms, tunnel back ${up} ms after that`,
    );
    assert.equal(down.ping, false, 'while a was down nothing passed');
    assert.equal(down.counters.plain, 0, 'and nothing left b in clear over its underlay route');
    assert.equal(dev.b!.pid, bPid);
    assert.doesNotThrow(() => process.kill(bPid, 0), 'b still runs');
    await new Promise((r) => setTimeout(r, 3000)); // past b's retransmits, were it re-initiating too
    for (const n of ['a', 'b'] as const) {
      const sa = (await dev[n]!.state())[connectionName(NAME[other(n)])];
      assert.equal(sa?.ikeSas, 1, `${n}: ${JSON.stringify(sa)}`);
    }
    assert.equal(await ping('b', 10), true);
    assert.equal((await counters('a')).plain, 0);
  });

  it('a peer removed from the config: its SAs are gone on both sides, its traffic no longer passes', async () => {
    await dev.a!.apply(config('a', false));
    assert.deepEqual(await dev.a!.state(), {});
    await waitFor("b's SA deleted", async () => Object.keys(await dev.b!.state()).length === 0, 3000);
    assert.doesNotMatch(await routes('a', '220'), new RegExp(CIDR.b));
    assert.doesNotMatch(await routes('a', 'main'), new RegExp(CIDR.b));
    await resetCounters();
    assert.equal(await ping('a'), false);
    assert.equal(await ping('b'), false);
    assert.equal((await counters('a')).plain, 0, 'nothing from b in clear');
    // libipsec routes from an address inside the local pod CIDRs: without one, apply refuses before loading.
    if (dev.a!.mode === 'libipsec')
      await assert.rejects(
        dev.a!.apply({ ...config('a'), podCIDRs: ['10.251.9.0/24'] }),
        /no address of \S+ lies in podCIDRs 10\.251\.9\.0\/24/,
      );
    assert.deepEqual(await dev.a!.state(), {});
    await dev.a!.apply(config('a'));
    await waitFor('tunnel back with the peer', () => ping('a'));
  });
});
