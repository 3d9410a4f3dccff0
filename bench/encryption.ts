// Encryption between nodes (issue 12 §5): throughput, TCP_RR and TCP_CRR between pods on two nodes with no
// encryption, WireGuard and IPsec as Palisade sets them up (its device code, routes, MTU and strict table), and
// the same backends configured by hand (the ceiling: wireguard-go + wg set + ip route; charon + a hand-written
// swanctl.conf), in one run, side by side; then the time from a node's key rotation to every peer using the new
// key, over --rotations rotations in a 3-node dir lab.
//
//   env -u NODE_EXTRA_CA_CERTS node --import tsx bench/encryption.ts [--seconds 3] [--passes 2]
//       [--rotations 20] [--json]
//
// Topology: two "node" netns joined by a veth (the underlay, 198.18.240.1/.2), each with one pod netns wired as
// palisade-cni wires it (routed /32, gateway 169.254.1.1); pods' MTU as the lab gives them for each backend
// (1500 none, 1440 WireGuard, 1400 IPsec: kernel-libipsec's limit here). Client pod on node a, server pod on
// node b; iperf3 (one stream) and bench/per-packet-rr.ts. Needs root, gcc, iperf3, wireguard-go, wg, charon;
// touches only its own namespaces and temp dir and removes them (servers stopped by PID) on exit or Ctrl-C.
import { type ChildProcess, execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateKey } from '../src/agent/wireguard-keys.js';
import { type IpsecDaemon, startIpsecDaemon } from '../src/dataplane/ipsec.js';
import { renderReplace } from '../src/dataplane/nft-render.js';
import { type ChildProcess as Child, createRunner, startChild } from '../src/dataplane/runner.js';
import { startWireguardDevice, type WireguardDevice } from '../src/dataplane/wireguard.js';
import type { ClusterState } from '../src/model/cluster.js';
import { LIBIPSEC_MTU, podMtu } from '../src/model/tunnel-mtu.js';
import {
  formatWireguardAnnotation,
  tunnelAddress,
  WIREGUARD_ANNOTATION,
  wireguardPeers,
} from '../src/model/wireguard.js';
import { STRICT_CHAINS, STRICT_IFACES_SET } from '../src/policy/names.js';
import { NodeCompiler } from '../src/policy/node-compiler.js';
import { buildRrTool } from './per-packet-rr.js';
import { startServer, wirePod } from './pods.js';
import { Sandbox } from './sandbox.js';
import { formatTable, summarize } from './stats.js';

const runner = createRunner();
const IPERF_PORT = 5201;
const RR_PORT = 7000;

type Variant = 'none' | 'wireguard' | 'wireguard-by-hand' | 'ipsec' | 'ipsec-by-hand';
const VARIANTS: readonly Variant[] = ['none', 'wireguard', 'wireguard-by-hand', 'ipsec', 'ipsec-by-hand'];

const NODES = {
  a: { name: 'node-a', underlay: '198.18.240.1', cidr: '10.240.1.0/24', pod: '10.240.1.5' },
  b: { name: 'node-b', underlay: '198.18.240.2', cidr: '10.240.2.0/24', pod: '10.240.2.5' },
} as const;
type Side = keyof typeof NODES;

interface Figures {
  readonly gbps: number;
  readonly rr: number;
  readonly crr: number;
}

interface Net {
  readonly node: Record<Side, string>;
  readonly pod: Record<Side, string>;
}

const ip = (netns: string, script: string) => runner.run(['ip', '-batch', '-'], { netns, input: script });

async function topology(sb: Sandbox): Promise<Net> {
  const net: Net = {
    node: { a: await sb.netns('na'), b: await sb.netns('nb') },
    pod: { a: await sb.netns('pa'), b: await sb.netns('pb') },
  };
  const base = (p: string) => p.split('/').pop()!;
  await runner.run([
    'ip',
    'link',
    'add',
    `${sb.prefix}ua`,
    'netns',
    base(net.node.a),
    'type',
    'veth',
    'peer',
    'name',
    `${sb.prefix}ub`,
    'netns',
    base(net.node.b),
  ]);
  for (const s of ['a', 'b'] as const) {
    const n = NODES[s];
    await ip(
      net.node[s],
      [`addr add ${n.underlay}/24 dev ${sb.prefix}u${s}`, `link set ${sb.prefix}u${s} up`, ''].join('\n'),
    );
    await wirePod(runner, net.node[s], net.pod[s], `pod${s}`, n.pod);
    await runner.run(['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1'], { netns: net.node[s] });
  }
  await runner.run(['sysctl', '-q', '-w', 'net.ipv4.tcp_tw_reuse=1'], { netns: net.pod.a });
  await runner.run(['sysctl', '-q', '-w', 'net.ipv4.ip_local_port_range=10000 65000'], { netns: net.pod.a });
  return net;
}

const other = (s: Side): Side => (s === 'a' ? 'b' : 'a');

/** The pods' MTU (both ends of both veths), as the CNI sets it for the backend. */
async function setPodMtu(net: Net, mtu: number): Promise<void> {
  for (const s of ['a', 'b'] as const) {
    await runner.run(['ip', 'link', 'set', 'dev', `pod${s}`, 'mtu', String(mtu)], { netns: net.node[s] });
    await runner.run(['ip', 'link', 'set', 'dev', 'eth0', 'mtu', String(mtu)], { netns: net.pod[s] });
  }
}

/** The strict table the agent would program on node `s` (only that part: no policy). */
function strictTable(s: Side, ifaces: readonly string[]): string {
  const state: ClusterState = {
    namespaces: [],
    pods: [],
    policies: [],
    nodes: (['a', 'b'] as const).map((x) => ({
      name: NODES[x].name,
      ips: [NODES[x].underlay],
      labels: {},
      podCIDRs: [NODES[x].cidr],
    })),
  };
  // Only what encryption adds (the strict chains and their sets): the policy chains (and the conntrack they
  // turn on) are there with encryption or without, and are measured by bench/per-packet.ts.
  const table = new NodeCompiler(NODES[s].name, { strictEncryption: { ifaces } }).compile(state).table;
  const chains = table.chains.filter((c) => Object.values(STRICT_CHAINS).includes(c.name as never));
  const sets = table.sets.filter((x) => x.name === STRICT_IFACES_SET || x.name.startsWith('enc'));
  return renderReplace({ ...table, chains, sets, maps: [] });
}

interface Setup {
  teardown(): Promise<void>;
}

async function plainRoutes(net: Net, add: boolean): Promise<void> {
  for (const s of ['a', 'b'] as const) {
    const o = NODES[other(s)];
    await runner.run(['ip', 'route', add ? 'replace' : 'del', o.cidr, 'via', o.underlay], {
      netns: net.node[s],
    });
  }
}

async function setUp(variant: Variant, net: Net, sb: Sandbox): Promise<Setup> {
  const keyFile = (s: Side) => join(sb.tmp, `${s}.key`);
  if (variant === 'none') {
    await setPodMtu(net, 1500);
    await plainRoutes(net, true);
    return { teardown: () => plainRoutes(net, false) };
  }
  if (variant === 'wireguard') {
    await setPodMtu(net, podMtu('wireguard', 1500, [4]));
    const devices: WireguardDevice[] = [];
    const nodes = (['a', 'b'] as const).map((s) => ({
      name: NODES[s].name,
      ips: [NODES[s].underlay],
      podCIDRs: [NODES[s].cidr],
      annotations: {
        [WIREGUARD_ANNOTATION]: formatWireguardAnnotation({
          publicKey: loadOrCreateKey(keyFile(s)).publicKey,
          port: 51820,
        }),
      },
    }));
    for (const s of ['a', 'b'] as const) {
      const iface = `${sb.prefix}w${s}`;
      const dev = await startWireguardDevice({
        runner,
        iface,
        keyFile: keyFile(s),
        listenPort: 51820,
        netns: net.node[s],
        logFile: join(sb.tmp, `wg-${s}.log`),
        mtu: 1500 - 60,
        address: tunnelAddress([NODES[s].cidr])!,
      });
      devices.push(dev);
      await dev.apply(wireguardPeers(NODES[s].name, nodes).peers);
      await runner.run(['nft', '-f', '-'], { netns: net.node[s], input: strictTable(s, [iface]) });
    }
    return {
      async teardown() {
        for (const d of devices) await d.stop();
        for (const s of ['a', 'b'] as const)
          await runner.run(['nft', 'flush', 'ruleset'], { netns: net.node[s] });
      },
    };
  }
  if (variant === 'wireguard-by-hand') {
    // machine.md's recipe: wireguard-go, one wg set per side, a route; nothing else.
    await setPodMtu(net, podMtu('wireguard', 1500, [4]));
    const children: Child[] = [];
    for (const s of ['a', 'b'] as const) {
      const iface = `${sb.prefix}h${s}`;
      const child = startChild(['wireguard-go', '-f', iface], {
        logFile: join(sb.tmp, `hw-${s}.log`),
        netns: net.node[s],
      });
      children.push(child);
      for (let i = 0; i < 100; i++) {
        const ok = await runner.run(['ip', 'link', 'show', iface], { netns: net.node[s] }).then(
          () => true,
          () => false,
        );
        if (ok) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const o = other(s);
      const peerKey = loadOrCreateKey(keyFile(o)).publicKey;
      await runner.run(
        [
          'wg',
          'set',
          iface,
          'private-key',
          keyFile(s),
          'listen-port',
          '51830',
          'peer',
          peerKey,
          'endpoint',
          `${NODES[o].underlay}:51830`,
          'allowed-ips',
          NODES[o].cidr,
        ],
        { netns: net.node[s] },
      );
      await ip(
        net.node[s],
        [`link set ${iface} mtu 1440 up`, `route add ${NODES[o].cidr} dev ${iface}`, ''].join('\n'),
      );
    }
    return {
      async teardown() {
        for (const c of children) await c.stop();
      },
    };
  }
  if (variant === 'ipsec') {
    await setPodMtu(net, LIBIPSEC_MTU);
    await plainRoutes(net, true); // what a node has without the tunnel: the strict table keeps pods off it
    const daemons: IpsecDaemon[] = [];
    for (const s of ['a', 'b'] as const) {
      await runner.run(['ip', 'addr', 'add', `${tunnelAddress([NODES[s].cidr])}/32`, 'dev', 'lo'], {
        netns: net.node[s],
      });
      const d = await startIpsecDaemon({
        runner,
        netns: net.node[s],
        dir: join(sb.tmp, `ipsec-${s}`),
        logFile: join(sb.tmp, `charon-${s}.log`),
      });
      daemons.push(d);
      await runner.run(['nft', '-f', '-'], { netns: net.node[s], input: strictTable(s, ['ipsec0']) });
    }
    for (const s of ['a', 'b'] as const) {
      const o = other(s);
      await daemons[s === 'a' ? 0 : 1]!.apply({
        node: NODES[s].name,
        address: NODES[s].underlay,
        podCIDRs: [NODES[s].cidr],
        peers: [{ node: NODES[o].name, address: NODES[o].underlay, podCIDRs: [NODES[o].cidr] }],
        psk: 'benchmark pre-shared key 0123456789',
      });
    }
    await waitForPath(net);
    return {
      async teardown() {
        for (const d of daemons)
          await d.apply({ ...emptyConfig(d === daemons[0] ? 'a' : 'b') }).catch(() => undefined);
        for (const d of daemons) await d.stop();
        for (const s of ['a', 'b'] as const) {
          await runner.run(['nft', 'flush', 'ruleset'], { netns: net.node[s] });
          await runner.run(['ip', 'addr', 'del', `${tunnelAddress([NODES[s].cidr])}/32`, 'dev', 'lo'], {
            netns: net.node[s],
          });
        }
        await plainRoutes(net, false);
      },
    };
  }
  // ipsec-by-hand: machine.md's recipe, a hand-written swanctl.conf per side, charon with a private /run.
  await setPodMtu(net, LIBIPSEC_MTU);
  const children: Child[] = [];
  for (const s of ['a', 'b'] as const) {
    const o = other(s);
    const dir = join(sb.tmp, `hand-${s}`);
    mkdirSync(join(dir, 'swanctl'), { recursive: true });
    const vici = join(dir, 'charon.vici');
    writeFileSync(
      join(dir, 'strongswan.conf'),
      `charon {\n  load_modular = no\n  load = random nonce openssl aes sha1 sha2 hmac gmp kdf pem pkcs1 x509 pubkey kernel-libipsec kernel-netlink socket-default vici updown\n  install_routes = yes\n  plugins {\n    vici {\n      socket = unix://${vici}\n    }\n  }\n}\nswanctl {\n  socket = unix://${vici}\n}\n`,
    );
    writeFileSync(
      join(dir, 'swanctl', 'swanctl.conf'),
      `connections {\n  hand {\n    version = 2\n    local_addrs = ${NODES[s].underlay}\n    remote_addrs = ${NODES[o].underlay}\n    encap = yes\n    proposals = aes128gcm16-prfsha256-x25519\n    local {\n      auth = psk\n      id = ${NODES[s].underlay}\n    }\n    remote {\n      auth = psk\n      id = ${NODES[o].underlay}\n    }\n    children {\n      handc {\n        local_ts = ${NODES[s].cidr}\n        remote_ts = ${NODES[o].cidr}\n        esp_proposals = aes128gcm16\n        start_action = start\n      }\n    }\n  }\n}\nsecrets {\n  ike-hand {\n    secret = "benchmark pre-shared key 0123456789"\n    id-a = ${NODES[s].underlay}\n    id-b = ${NODES[o].underlay}\n  }\n}\n`,
    );
    await runner.run(['ip', 'addr', 'add', `${tunnelAddress([NODES[s].cidr])}/32`, 'dev', 'lo'], {
      netns: net.node[s],
    });
    const env = { ...process.env, STRONGSWAN_CONF: join(dir, 'strongswan.conf') };
    children.push(
      startChild(
        [
          'unshare',
          '--mount',
          '--propagation',
          'private',
          'sh',
          '-c',
          'mount -t tmpfs hand /run && exec /usr/lib/ipsec/charon',
        ],
        {
          logFile: join(dir, 'charon.log'),
          netns: net.node[s],
          env,
        },
      ),
    );
    for (let i = 0; i < 200; i++) {
      const ok = await runner.run(['swanctl', '--stats', '--uri', `unix://${vici}`], { env }).then(
        () => true,
        () => false,
      );
      if (ok) break;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  for (const s of ['a', 'b'] as const) {
    const dir = join(sb.tmp, `hand-${s}`);
    const env = { ...process.env, STRONGSWAN_CONF: join(dir, 'strongswan.conf') };
    await runner.run(
      [
        'swanctl',
        '--load-all',
        '--noprompt',
        '--file',
        join(dir, 'swanctl', 'swanctl.conf'),
        '--uri',
        `unix://${join(dir, 'charon.vici')}`,
      ],
      { env },
    );
  }
  await waitForPath(net);
  return {
    async teardown() {
      for (const c of children) await c.stop();
      for (const s of ['a', 'b'] as const)
        await runner.run(['ip', 'addr', 'del', `${tunnelAddress([NODES[s].cidr])}/32`, 'dev', 'lo'], {
          netns: net.node[s],
        });
    },
  };
}

function emptyConfig(s: Side) {
  return {
    node: NODES[s].name,
    address: NODES[s].underlay,
    podCIDRs: [NODES[s].cidr],
    peers: [],
    psk: 'benchmark pre-shared key 0123456789',
  };
}

/** Until a ping from pod a reaches pod b (the tunnel is up). */
async function waitForPath(net: Net): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await runner.run(['ping', '-c', '1', '-W', '1', NODES.b.pod], { netns: net.pod.a }).then(
      () => true,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('no path from pod a to pod b');
}

async function measure(net: Net, tool: string, secs: number): Promise<Figures> {
  const s = String(secs);
  const ip3 = await runner.run(['iperf3', '-c', NODES.b.pod, '-p', String(IPERF_PORT), '-t', s, '-J'], {
    netns: net.pod.a,
    timeoutMs: (secs + 15) * 1000,
  });
  const doc = JSON.parse(ip3.stdout) as { end: { sum_received: { bits_per_second: number } } };
  const rr = await runner.run([tool, 'rr', NODES.b.pod, String(RR_PORT), s], { netns: net.pod.a });
  const crr = await runner.run([tool, 'crr', NODES.b.pod, String(RR_PORT), s], { netns: net.pod.a });
  return {
    gbps: doc.end.sum_received.bits_per_second / 1e9,
    rr: Number(rr.stdout.trim()),
    crr: Number(crr.stdout.trim().split(' ')[0]),
  };
}

/** --rotations key rotations of node-2 in a 3-node dir lab: ms until every peer used the new key. */
async function rotations(n: number, sb: Sandbox): Promise<number[]> {
  const dir = join(sb.tmp, 'lab');
  const cli = join(process.cwd(), 'bin', 'palisade');
  const env = { ...process.env, PALISADE_LAB_DIR: dir };
  const palisade = (...args: string[]) => execFileSync(cli, args, { env, encoding: 'utf8' });
  palisade('lab', 'up', '--nodes', '3', '--encryption', 'wireguard');
  try {
    const agent = `unix:${join(dir, 'nodes', 'node-2', 'run', 'agent.sock')}`;
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const r = JSON.parse(palisade('encryption', 'rotate', '--agent', agent, '--json')) as {
        switched: Record<string, number>;
        timedOut: boolean;
      };
      if (r.timedOut) throw new Error(`rotation ${i + 1} timed out: ${JSON.stringify(r)}`);
      out.push(Math.max(...Object.values(r.switched)));
    }
    return out;
  } finally {
    palisade('lab', 'down');
  }
}

function flag(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : dflt;
}

async function main(): Promise<void> {
  const secs = Number(flag('seconds', '3'));
  const passes = Number(flag('passes', '2'));
  const nRot = Number(flag('rotations', '20'));
  const json = process.argv.includes('--json');
  const sb = new Sandbox(runner, 'pbe');
  const children: ChildProcess[] = [];
  const cleanup = async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    await sb.cleanup();
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  try {
    const load0 = loadavg()[0]!;
    const tool = buildRrTool(sb.tmp);
    const net = await topology(sb);
    await startServer(net.pod.b, ['iperf3', '-s', '-p', String(IPERF_PORT)], children);
    await startServer(net.pod.b, [tool, 'server', String(RR_PORT)], children);
    const results = new Map<Variant, Figures[]>();
    for (let pass = 0; pass < passes; pass++) {
      // Alternate the order from one pass to the next, so drift hits every variant alike.
      const order = pass % 2 === 0 ? VARIANTS : [...VARIANTS].reverse();
      for (const v of order) {
        const setup = await setUp(v, net, sb);
        try {
          await waitForPath(net);
          const f = await measure(net, tool, secs);
          results.set(v, [...(results.get(v) ?? []), f]);
          if (!json) process.stderr.write(`${v} pass ${pass + 1}: ${JSON.stringify(f)}\n`);
        } finally {
          await setup.teardown();
        }
      }
    }
    const mean = (fs: readonly Figures[], k: keyof Figures) => fs.reduce((a, f) => a + f[k], 0) / fs.length;
    const rows = VARIANTS.map((v) => {
      const fs = results.get(v)!;
      return { variant: v, gbps: mean(fs, 'gbps'), rr: mean(fs, 'rr'), crr: mean(fs, 'crr') };
    });
    const rot = nRot > 0 ? summarize(await rotations(nRot, sb)) : undefined;
    const by = (v: Variant) => rows.find((r) => r.variant === v)!;
    const vsHand = (p: Variant, h: Variant) => ({
      gbps: by(p).gbps / by(h).gbps,
      rr: by(p).rr / by(h).rr,
      crr: by(p).crr / by(h).crr,
    });
    const report = {
      machine: { cpus: cpus().length, kernel: release(), load1: load0, load1End: loadavg()[0] },
      seconds: secs,
      passes,
      rows,
      ratios: {
        wireguard: vsHand('wireguard', 'wireguard-by-hand'),
        ipsec: vsHand('ipsec', 'ipsec-by-hand'),
      },
      rotation: rot,
    };
    if (json) {
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      return;
    }
    process.stdout.write(
      `machine: ${report.machine.cpus} cpus, kernel ${report.machine.kernel}, load ${load0.toFixed(2)} -> ${report.machine.load1End!.toFixed(2)}; ${secs} s x ${passes} passes\n\n`,
    );
    process.stdout.write(
      formatTable(
        ['variant', 'Gbit/s', 'RR/s', 'CRR/s'],
        rows.map((r) => [r.variant, r.gbps.toFixed(3), r.rr.toFixed(0), r.crr.toFixed(0)]),
      ),
    );
    const f = (x: number) => x.toFixed(2);
    process.stdout.write(
      `\nPalisade / by hand: WireGuard ${f(report.ratios.wireguard.gbps)} / ${f(report.ratios.wireguard.rr)} / ${f(report.ratios.wireguard.crr)}, IPsec ${f(report.ratios.ipsec.gbps)} / ${f(report.ratios.ipsec.rr)} / ${f(report.ratios.ipsec.crr)} (throughput / RR / CRR; target >= 0.9)\n`,
    );
    if (rot)
      process.stdout.write(
        `key rotation, until every peer uses the new key (${rot.n} rotations, 3 nodes): p50 ${rot.p50} ms, p99 ${rot.p99} ms, max ${rot.max} ms\n`,
      );
  } finally {
    await cleanup();
  }
}

await main();
