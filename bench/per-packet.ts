// Per-packet cost of policy: throughput, TCP_RR and TCP_CRR between two pods on one node with 0, 100, 1k and
// 10k NetworkPolicies present, Palisade's compiled nftables table against the same policies as one linear
// iptables chain (what an iptables engine without ipsets does), in one run, side by side.
//
//   env -u NODE_EXTRA_CA_CERTS node --import tsx bench/per-packet.ts [--seconds 3] [--passes 2]
//       [--counts 0,100,1000,10000] [--server-share 0.5] [--cnps M] [--gnps M] [--json]
//
// --cnps M adds two Palisade variants at each N: with M ClusterNetworkPolicies beside the N NetworkPolicies
// (half Admin, half Baseline, half of them selecting the server; the client's packets walk every Admin one that
// selects the server: "palisade+cnp"), and the same with the first Admin policy passing the client
// ("palisade+pass"); bench/per-packet-cluster.ts clusterPolicies().
// --gnps M adds two at each N: M GlobalNetworkPolicies and 100 host policies beside the N NetworkPolicies, with a
// HostEndpoint on the node's eth1 (bench/per-packet-global.ts): "palisade+gnp", the pod client's first packet
// walking every GNP that selects the server up to the one that allows it; "palisade+gnp+hep", the same ruleset
// measured from an outside client behind eth1, so its packets also cross the host endpoint's doNotTrack (every
// packet), preDNAT and applyOnForward chains. "none-outside" is that client with no ruleset at all.
//
// Topology (Palisade's routed shape, src/dataplane/pod-link-script.ts): a "node" netns with ip_forward on and
// two pod netns joined to it by veths; host ends named as palisade-cni names them, pod addresses /32 routed to
// them, pods route via 169.254.1.1 pinned to ee:ee:ee:ee:ee:ee; with --gnps, a third netns "ext" (the outside
// client, 198.18.0.100) wired the same way to the node's eth1. Policies: bench/per-packet-cluster.ts.
// Measured from the client pod to the server pod: iperf3 -t S (one stream), and bench/per-packet-rr.ts (C) for
// RR (1-byte ping-pong on one connection) and CRR (connect, 1 byte each way, close). Needs root, gcc, iperf3,
// nft, iptables-nft-restore; touches only the namespaces and temp dir it makes, and removes them (and stops the
// servers it started, by PID) on exit, failure or Ctrl-C.
import { type ChildProcess, execFileSync } from 'node:child_process';
import { cpus, loadavg, release } from 'node:os';
import { performance } from 'node:perf_hooks';
import { renderReplace } from '../src/dataplane/nft-render.js';
import { createRunner } from '../src/dataplane/runner.js';
import { compileNode } from '../src/policy/compile.js';
import {
  CLIENT_IP,
  clusterState,
  LOCAL_NODE,
  pods,
  renderIptables,
  SERVER_IP,
} from './per-packet-cluster.js';
import { globalState, HEP_INTERFACE, OUTSIDE_IP } from './per-packet-global.js';
import { type Figures, printText, type Report, type Variant } from './per-packet-report.js';
import { buildRrTool } from './per-packet-rr.js';
import { startServer, wirePod } from './pods.js';
import { Sandbox } from './sandbox.js';

const runner = createRunner();
const IPERF_PORT = 5201;
const RR_PORT = 7000;
const DENIED_PORT = 7001;

interface Options {
  readonly seconds: number;
  readonly passes: number;
  readonly counts: readonly number[];
  readonly serverShare: number;
  readonly cnps: number;
  readonly gnps: number;
  readonly json: boolean;
}

function parseArgs(argv: readonly string[]): Options {
  const o = {
    seconds: 3,
    passes: 2,
    counts: [0, 100, 1000, 10000],
    serverShare: 0.5,
    cnps: 0,
    gnps: 0,
    json: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = () => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v < 0) throw new Error(`${a}: "${argv[i]}" is not a number`);
      return v;
    };
    if (a === '--json') o.json = true;
    else if (a === '--seconds') o.seconds = num();
    else if (a === '--passes') o.passes = Math.max(1, Math.round(num()));
    else if (a === '--server-share') o.serverShare = Math.min(1, num());
    else if (a === '--cnps') o.cnps = Math.round(num());
    else if (a === '--gnps') o.gnps = Math.round(num());
    else if (a === '--counts') o.counts = (argv[++i] ?? '').split(',').map(Number);
    else
      throw new Error(
        `unknown argument "${a}" (use --seconds S, --passes P, --counts a,b, --server-share F, --cnps M, --gnps M, --json)`,
      );
  }
  if (o.counts.some((n) => !Number.isInteger(n) || n < 0)) throw new Error('--counts: non-negative integers');
  return o;
}

interface Net {
  readonly node: string;
  readonly cli: string;
  readonly srv: string;
  /** The outside client's netns (--gnps): behind the node's eth1, a host endpoint. */
  readonly ext?: string;
}

async function _ip(netns: string, script: string): Promise<void> {
  await runner.run(['ip', '-batch', '-'], { netns, input: script });
}

async function sysctl(netns: string, kv: string): Promise<void> {
  await runner.run(['sysctl', '-q', '-w', kv], { netns });
}

async function topology(sb: Sandbox, outside: boolean): Promise<Net> {
  const net = {
    node: await sb.netns('node'),
    cli: await sb.netns('cli'),
    srv: await sb.netns('srv'),
    ...(outside ? { ext: await sb.netns('ext') } : {}),
  };
  const all = pods();
  const hostOf = (name: string) => all.find((p) => p.name === name)!.interface!;
  const links: [string, string, string][] = [
    [hostOf('client'), net.cli, CLIENT_IP],
    [hostOf('server'), net.srv, SERVER_IP],
  ];
  if (net.ext) links.push([HEP_INTERFACE, net.ext, OUTSIDE_IP]);
  for (const [host, podNs, addr] of links) await wirePod(runner, net.node, podNs, host, addr);
  await sysctl(net.node, 'net.ipv4.ip_forward=1');
  for (const client of net.ext ? [net.cli, net.ext] : [net.cli]) {
    await sysctl(client, 'net.ipv4.tcp_tw_reuse=1');
    await sysctl(client, 'net.ipv4.ip_local_port_range=10000 65000');
  }
  return net;
}

interface Loaded {
  readonly loadMs: number;
  readonly rules: number;
  readonly chars: number;
}

async function load(net: Net, variant: Variant, n: number, opts: Options): Promise<Loaded> {
  await runner.run(['nft', 'flush', 'ruleset'], { netns: net.node }); // only our own node netns
  if (variant === 'none' || variant === 'none-outside') return { loadMs: 0, rules: 0, chars: 0 };
  const cnp =
    variant === 'palisade+cnp' || variant === 'palisade+pass'
      ? { count: opts.cnps, pass: variant === 'palisade+pass' }
      : undefined;
  const state = variant.startsWith('palisade+gnp')
    ? globalState(n, opts.serverShare, opts.gnps)
    : clusterState(n, opts.serverShare, cnp);
  if (variant !== 'iptables') {
    const text = renderReplace(compileNode(state, LOCAL_NODE).table);
    const t0 = performance.now();
    await runner.run(['nft', '-f', '-'], { netns: net.node, input: text });
    const rules = text
      .split('\n')
      .filter((l) => l.startsWith('\t\t') && !/^\t\t(type|elements|comment|flags) /.test(l)).length;
    return { loadMs: performance.now() - t0, rules, chars: text.length };
  }
  const { text, rules } = renderIptables(state);
  const t0 = performance.now();
  await runner.run(['iptables-nft-restore'], { netns: net.node, input: text });
  return { loadMs: performance.now() - t0, rules: rules + 1, chars: text.length };
}

const GNP_VARIANTS: readonly Variant[] = ['palisade+gnp', 'palisade+gnp+hep'];

/** The client's netns: the outside one for the variants measured from beyond the host endpoint. */
function clientOf(net: Net, variant: Variant): string {
  return variant === 'palisade+gnp+hep' || variant === 'none-outside' ? net.ext! : net.cli;
}

async function probe(client: string, tool: string, port: number): Promise<string> {
  const { stdout } = await runner.run([tool, 'probe', SERVER_IP, String(port)], { netns: client });
  return stdout.trim();
}

async function measureOnce(client: string, tool: string, secs: number): Promise<Figures> {
  const s = String(secs);
  const ip3 = await runner.run(
    ['taskset', '-c', '0', 'iperf3', '-c', SERVER_IP, '-p', String(IPERF_PORT), '-t', s, '-J'],
    {
      netns: client,
      timeoutMs: (secs + 15) * 1000,
    },
  );
  const doc = JSON.parse(ip3.stdout) as { end: { sum_received: { bits_per_second: number } } };
  const rr = await runner.run(['taskset', '-c', '0', tool, 'rr', SERVER_IP, String(RR_PORT), s], {
    netns: client,
  });
  const crr = await runner.run(['taskset', '-c', '0', tool, 'crr', SERVER_IP, String(RR_PORT), s], {
    netns: client,
  });
  return {
    gbps: doc.end.sum_received.bits_per_second / 1e9,
    rr: Number(rr.stdout.trim()),
    crr: Number(crr.stdout.trim().split(' ')[0]),
  };
}

function mean(fs: readonly Figures[]): Figures {
  const m = (k: keyof Figures) => fs.reduce((a, f) => a + f[k], 0) / fs.length;
  return { gbps: m('gbps'), rr: m('rr'), crr: m('crr') };
}

async function run(opts: Options, sb: Sandbox, children: ChildProcess[]): Promise<Report> {
  const load0 = loadavg()[0]!;
  const tool = buildRrTool(sb.tmp);
  const net = await topology(sb, opts.gnps > 0);
  await startServer(net.srv, ['taskset', '-c', '1', 'iperf3', '-s', '-p', String(IPERF_PORT)], children);
  await startServer(net.srv, ['taskset', '-c', '1', tool, 'server', String(RR_PORT)], children);
  const configs: { n: number; variant: Variant }[] = [{ n: 0, variant: 'none' }];
  if (opts.gnps > 0) configs.push({ n: 0, variant: 'none-outside' });
  for (const n of opts.counts) {
    configs.push({ n, variant: 'palisade' }, { n, variant: 'iptables' });
    if (opts.cnps > 0) configs.push({ n, variant: 'palisade+cnp' }, { n, variant: 'palisade+pass' });
    if (opts.gnps > 0) configs.push({ n, variant: 'palisade+gnp' }, { n, variant: 'palisade+gnp+hep' });
  }
  const rows = new Map<
    string,
    { n: number; variant: Variant; rules: number; chars: number; loadMs: number[]; passes: Figures[] }
  >();
  // Each ruleset is loaded once (Palisade's 10k table takes tens of seconds to load) and measured `passes` times
  // in a row; which variant goes first alternates from one N to the next, so drift hits both alike.
  const list: { n: number; variant: Variant }[] = [{ n: 0, variant: 'none' }];
  if (opts.gnps > 0) list.push({ n: 0, variant: 'none-outside' });
  opts.counts.forEach((n, i) => {
    const pair: Variant[] = i % 2 === 0 ? ['palisade', 'iptables'] : ['iptables', 'palisade'];
    if (opts.cnps > 0) pair.push('palisade+cnp', 'palisade+pass');
    if (opts.gnps > 0) pair.push(...(i % 2 === 0 ? GNP_VARIANTS : [...GNP_VARIANTS].reverse()));
    for (const variant of pair) list.push({ n, variant });
  });
  for (const c of list) {
    const key = `${c.variant}/${c.n}`;
    const l = await load(net, c.variant, c.n, opts);
    const client = clientOf(net, c.variant);
    // Semantics check (and warm-up): the allowed port connects; another port is dropped when the server is
    // isolated, refused (RST from the server) when it is not.
    const okProbe = await probe(client, tool, RR_PORT);
    const denied = await probe(client, tool, DENIED_PORT);
    // The GNP variants isolate the server at N = 0 too.
    const isolated = c.variant.startsWith('palisade+gnp') || (!c.variant.startsWith('none') && c.n > 0);
    const want = isolated ? 'timeout' : 'refused';
    if (okProbe !== 'ok' || denied !== want)
      throw new Error(
        `${key}: expected port ${RR_PORT} ok and ${DENIED_PORT} ${want}, got ${okProbe} / ${denied}`,
      );
    // TIME_WAIT conntrack entries would otherwise pile up over the CRR runs (per-netns; exists once ct is in use).
    await sysctl(net.node, 'net.netfilter.nf_conntrack_tcp_timeout_time_wait=1').catch(() => {});
    const r = {
      n: c.n,
      variant: c.variant,
      rules: l.rules,
      chars: l.chars,
      loadMs: [l.loadMs],
      passes: [] as Figures[],
    };
    rows.set(key, r);
    for (let pass = 0; pass < opts.passes; pass++) {
      const f = await measureOnce(client, tool, opts.seconds);
      r.passes.push(f);
      if (!opts.json)
        console.error(
          `  ${key.padEnd(15)} pass ${pass + 1}: ${f.gbps.toFixed(2)} Gbit/s  rr ${f.rr.toFixed(0)}/s  crr ${f.crr.toFixed(0)}/s  (${l.rules} rules, load ${l.loadMs.toFixed(0)} ms)`,
        );
    }
  }
  const iptables = execFileSync('iptables-nft-restore', ['--version'], { encoding: 'utf8' }).trim();
  return {
    machine: {
      cpus: cpus().length,
      kernel: release(),
      node: process.version,
      iptables,
      loadavg1mStartEnd: [load0, loadavg()[0]!],
    },
    seconds: opts.seconds,
    serverShare: opts.serverShare,
    rows: configs.map((c) => {
      const r = rows.get(`${c.variant}/${c.n}`)!;
      return {
        n: r.n,
        variant: r.variant,
        rules: r.rules,
        rulesetChars: r.chars,
        loadMs: r.loadMs,
        passes: r.passes,
        mean: mean(r.passes),
      };
    }),
  };
}

function preflight(): void {
  if (process.getuid?.() !== 0) throw new Error('needs root (it creates network namespaces)');
  for (const bin of ['iperf3', 'gcc', 'nft', 'iptables-nft-restore', 'nsenter']) {
    try {
      execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
    } catch {
      throw new Error(`${bin} not found${bin === 'iperf3' ? ' (apt-get install iperf3)' : ''}`);
    }
  }
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  preflight();
  const sb = new Sandbox(runner, 'ppk');
  const children: ChildProcess[] = [];
  const stopChildren = () => {
    for (const c of children) if (c.exitCode === null && c.pid !== undefined) c.kill('SIGTERM');
  };
  const stop = (signal: NodeJS.Signals) => {
    stopChildren();
    void sb.cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const rep = await run(opts, sb, children);
    if (opts.json)
      console.log(
        JSON.stringify(rep, (_k, v: unknown) => (typeof v === 'number' ? Math.round(v * 1000) / 1000 : v), 2),
      );
    else printText(rep, opts);
  } finally {
    stopChildren();
    await sb.cleanup();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
