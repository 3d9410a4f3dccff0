// Per-packet cost of policy: throughput, TCP_RR and TCP_CRR between two pods on one node with 0, 100, 1k and
// 10k NetworkPolicies present, Palisade's compiled nftables table against the same policies as one linear
// iptables chain (what an iptables engine without ipsets does), in one run, side by side.
//
//   env -u NODE_EXTRA_CA_CERTS node --import tsx bench/per-packet.ts [--seconds 3] [--passes 2]
//       [--counts 0,100,1000,10000] [--server-share 0.5] [--cnps M] [--json]
//
// --cnps M adds two Palisade variants at each N: with M ClusterNetworkPolicies beside the N NetworkPolicies
// (half Admin, half Baseline, half of them selecting the server; the client's packets walk every Admin one that
// selects the server: "palisade+cnp"), and the same with the first Admin policy passing the client
// ("palisade+pass"); bench/per-packet-cluster.ts clusterPolicies().
//
// Topology (Palisade's routed shape, src/dataplane/pod-link-script.ts): a "node" netns with ip_forward on and
// two pod netns joined to it by veths; host ends named as palisade-cni names them, pod addresses /32 routed to
// them, pods route via 169.254.1.1 pinned to ee:ee:ee:ee:ee:ee. Policies: bench/per-packet-cluster.ts.
// Measured from the client pod to the server pod: iperf3 -t S (one stream), and bench/per-packet-rr.ts (C) for
// RR (1-byte ping-pong on one connection) and CRR (connect, 1 byte each way, close). Needs root, gcc, iperf3,
// nft, iptables-nft-restore; touches only the namespaces and temp dir it makes, and removes them (and stops the
// servers it started, by PID) on exit, failure or Ctrl-C.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { cpus, loadavg, release } from 'node:os';
import { performance } from 'node:perf_hooks';
import { renderReplace } from '../src/dataplane/nft-render.js';
import { GATEWAY_V4, HOST_VETH_MAC } from '../src/dataplane/pod-link-script.js';
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
import { buildRrTool } from './per-packet-rr.js';
import { Sandbox } from './sandbox.js';
import { formatTable } from './stats.js';

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
  readonly json: boolean;
}

function parseArgs(argv: readonly string[]): Options {
  const o = { seconds: 3, passes: 2, counts: [0, 100, 1000, 10000], serverShare: 0.5, cnps: 0, json: false };
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
    else if (a === '--counts') o.counts = (argv[++i] ?? '').split(',').map(Number);
    else
      throw new Error(
        `unknown argument "${a}" (use --seconds S, --passes P, --counts a,b, --server-share F, --cnps M, --json)`,
      );
  }
  if (o.counts.some((n) => !Number.isInteger(n) || n < 0)) throw new Error('--counts: non-negative integers');
  return o;
}

interface Net {
  readonly node: string;
  readonly cli: string;
  readonly srv: string;
}

async function ip(netns: string, script: string): Promise<void> {
  await runner.run(['ip', '-batch', '-'], { netns, input: script });
}

async function sysctl(netns: string, kv: string): Promise<void> {
  await runner.run(['sysctl', '-q', '-w', kv], { netns });
}

async function topology(sb: Sandbox): Promise<Net> {
  const net = { node: await sb.netns('node'), cli: await sb.netns('cli'), srv: await sb.netns('srv') };
  const all = pods();
  for (const [name, podNs, addr] of [
    ['client', net.cli, CLIENT_IP],
    ['server', net.srv, SERVER_IP],
  ] as const) {
    const host = all.find((p) => p.name === name)!.interface!;
    await ip(
      net.node,
      [
        `link add ${host} address ${HOST_VETH_MAC} type veth peer name eth0 netns ${podNs.split('/').pop()}`,
        `link set ${host} up`,
        `route add ${addr}/32 dev ${host} scope link`,
        '',
      ].join('\n'),
    );
    await ip(
      podNs,
      [
        `addr add ${addr}/32 dev eth0`,
        'link set eth0 up',
        `route add ${GATEWAY_V4}/32 dev eth0 scope link`,
        `route add default via ${GATEWAY_V4} dev eth0`,
        `neigh replace ${GATEWAY_V4} lladdr ${HOST_VETH_MAC} dev eth0 nud permanent`,
        '',
      ].join('\n'),
    );
  }
  await sysctl(net.node, 'net.ipv4.ip_forward=1');
  await sysctl(net.cli, 'net.ipv4.tcp_tw_reuse=1');
  await sysctl(net.cli, 'net.ipv4.ip_local_port_range=10000 65000');
  return net;
}

/** A server in a netns, started through nsenter (which execs it: the PID is the server's). */
function startServer(netns: string, argv: readonly string[], children: ChildProcess[]): Promise<void> {
  const child = spawn('nsenter', [`--net=${netns}`, '--', ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, 300); // iperf3 -s prints its banner late; give both a moment
    child.stdout!.once('data', () => {
      clearTimeout(timer);
      resolve();
    });
    child.stdout!.resume();
    child.stderr!.resume();
    child.once('exit', (code) => reject(new Error(`${argv.join(' ')} exited ${code}`)));
  });
}

type Variant = 'none' | 'palisade' | 'iptables' | 'palisade+cnp' | 'palisade+pass';

interface Loaded {
  readonly loadMs: number;
  readonly rules: number;
  readonly chars: number;
}

async function load(net: Net, variant: Variant, n: number, share: number, cnps: number): Promise<Loaded> {
  await runner.run(['nft', 'flush', 'ruleset'], { netns: net.node }); // only our own node netns
  if (variant === 'none') return { loadMs: 0, rules: 0, chars: 0 };
  const cnp = variant.startsWith('palisade+')
    ? { count: cnps, pass: variant === 'palisade+pass' }
    : undefined;
  const state = clusterState(n, share, cnp);
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

async function probe(net: Net, tool: string, port: number): Promise<string> {
  const { stdout } = await runner.run([tool, 'probe', SERVER_IP, String(port)], { netns: net.cli });
  return stdout.trim();
}

interface Figures {
  readonly gbps: number;
  readonly rr: number;
  readonly crr: number;
}

async function measureOnce(net: Net, tool: string, secs: number): Promise<Figures> {
  const s = String(secs);
  const ip3 = await runner.run(
    ['taskset', '-c', '0', 'iperf3', '-c', SERVER_IP, '-p', String(IPERF_PORT), '-t', s, '-J'],
    {
      netns: net.cli,
      timeoutMs: (secs + 15) * 1000,
    },
  );
  const doc = JSON.parse(ip3.stdout) as { end: { sum_received: { bits_per_second: number } } };
  const rr = await runner.run(['taskset', '-c', '0', tool, 'rr', SERVER_IP, String(RR_PORT), s], {
    netns: net.cli,
  });
  const crr = await runner.run(['taskset', '-c', '0', tool, 'crr', SERVER_IP, String(RR_PORT), s], {
    netns: net.cli,
  });
  return {
    gbps: doc.end.sum_received.bits_per_second / 1e9,
    rr: Number(rr.stdout.trim()),
    crr: Number(crr.stdout.trim().split(' ')[0]),
  };
}

interface Row {
  readonly n: number;
  readonly variant: Variant;
  readonly rules: number;
  readonly rulesetChars: number;
  readonly loadMs: number[];
  readonly passes: Figures[];
  readonly mean: Figures;
}

function mean(fs: readonly Figures[]): Figures {
  const m = (k: keyof Figures) => fs.reduce((a, f) => a + f[k], 0) / fs.length;
  return { gbps: m('gbps'), rr: m('rr'), crr: m('crr') };
}

interface Report {
  readonly machine: {
    cpus: number;
    kernel: string;
    node: string;
    iptables: string;
    loadavg1mStartEnd: [number, number];
  };
  readonly seconds: number;
  readonly serverShare: number;
  readonly rows: Row[];
}

async function run(opts: Options, sb: Sandbox, children: ChildProcess[]): Promise<Report> {
  const load0 = loadavg()[0]!;
  const tool = buildRrTool(sb.tmp);
  const net = await topology(sb);
  await startServer(net.srv, ['taskset', '-c', '1', 'iperf3', '-s', '-p', String(IPERF_PORT)], children);
  await startServer(net.srv, ['taskset', '-c', '1', tool, 'server', String(RR_PORT)], children);
  const configs: { n: number; variant: Variant }[] = [{ n: 0, variant: 'none' }];
  for (const n of opts.counts) {
    configs.push({ n, variant: 'palisade' }, { n, variant: 'iptables' });
    if (opts.cnps > 0) configs.push({ n, variant: 'palisade+cnp' }, { n, variant: 'palisade+pass' });
  }
  const rows = new Map<
    string,
    { n: number; variant: Variant; rules: number; chars: number; loadMs: number[]; passes: Figures[] }
  >();
  // Each ruleset is loaded once (Palisade's 10k table takes tens of seconds to load) and measured `passes` times
  // in a row; which variant goes first alternates from one N to the next, so drift hits both alike.
  const list: { n: number; variant: Variant }[] = [{ n: 0, variant: 'none' }];
  opts.counts.forEach((n, i) => {
    const pair: Variant[] = i % 2 === 0 ? ['palisade', 'iptables'] : ['iptables', 'palisade'];
    if (opts.cnps > 0) pair.push('palisade+cnp', 'palisade+pass');
    for (const variant of pair) list.push({ n, variant });
  });
  for (const c of list) {
    const key = `${c.variant}/${c.n}`;
    const l = await load(net, c.variant, c.n, opts.serverShare, opts.cnps);
    // Semantics check (and warm-up): the allowed port connects; another port is dropped when the server is
    // isolated, refused (RST from the server) when it is not.
    const okProbe = await probe(net, tool, RR_PORT);
    const denied = await probe(net, tool, DENIED_PORT);
    const want = c.variant !== 'none' && c.n > 0 ? 'timeout' : 'refused';
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
      const f = await measureOnce(net, tool, opts.seconds);
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

function pct(v: number, base: number): string {
  return `${((100 * v) / base).toFixed(0)}%`;
}

function printText(rep: Report, opts: Options): void {
  const [l0, l1] = rep.machine.loadavg1mStartEnd;
  console.log(
    `Per-packet cost, client pod -> server pod via the node netns; ${opts.passes} pass(es) of ${rep.seconds} s per figure, mean shown`,
  );
  console.log(
    `machine: ${rep.machine.cpus} CPUs, kernel ${rep.machine.kernel}, node ${rep.machine.node}, ${rep.machine.iptables}, load average (1 min) ${l0.toFixed(2)} at start, ${l1.toFixed(2)} at end`,
  );
  console.log(`policies: N-1 background + zz-allow-client; share selecting the server: ${rep.serverShare}\n`);
  const none = rep.rows.find((r) => r.variant === 'none')!;
  console.log(
    `no ruleset at all: ${none.mean.gbps.toFixed(2)} Gbit/s, rr ${none.mean.rr.toFixed(0)}/s, crr ${none.mean.crr.toFixed(0)}/s\n`,
  );
  const by = (v: Variant, n: number) => rep.rows.find((r) => r.variant === v && r.n === n)!;
  const head = [
    'N',
    'pal rules',
    'Gbit/s',
    'RR/s',
    'CRR/s',
    '% of N=0 (G/RR/CRR)',
    'ipt rules',
    'Gbit/s',
    'RR/s',
    'CRR/s',
    '% of N=0 (G/RR/CRR)',
  ];
  const cells = (r: Row, b: Row) => [
    String(r.rules),
    r.mean.gbps.toFixed(2),
    r.mean.rr.toFixed(0),
    r.mean.crr.toFixed(0),
    `${pct(r.mean.gbps, b.mean.gbps)} / ${pct(r.mean.rr, b.mean.rr)} / ${pct(r.mean.crr, b.mean.crr)}`,
  ];
  const n0 = rep.rows.some((r) => r.n === 0 && r.variant === 'palisade') ? 0 : undefined;
  const rows = opts.counts.map((n) => {
    const bp = n0 === undefined ? none : by('palisade', 0);
    const bi = n0 === undefined ? none : by('iptables', 0);
    return [String(n), ...cells(by('palisade', n), bp), ...cells(by('iptables', n), bi)];
  });
  console.log(formatTable(head, rows));
  const top = Math.max(...opts.counts);
  if (top > 0 && n0 !== undefined) {
    const p = by('palisade', top).mean;
    const b = by('palisade', 0).mean;
    const worst = Math.min(p.gbps / b.gbps, p.rr / b.rr, p.crr / b.crr);
    console.log(
      `\ntarget (palisade with ${top} policies within 10% of its 0-policy figure, all three): ${worst >= 0.9 ? 'met' : 'MISSED'} (worst ${pct(worst, 1)})`,
    );
  }
  if (opts.cnps > 0) {
    console.log(
      `\nwith ${opts.cnps} ClusterNetworkPolicies beside the N NetworkPolicies (% of the no-ruleset figure; walk: every Admin policy selecting the server is tried; pass: the first passes the client):`,
    );
    const cnpRows = opts.counts.flatMap((n) =>
      (['palisade', 'palisade+cnp', 'palisade+pass'] as const).map((v) => {
        const r = by(v, n);
        return [
          String(n),
          v,
          String(r.rules),
          r.mean.gbps.toFixed(2),
          r.mean.rr.toFixed(0),
          r.mean.crr.toFixed(0),
          `${pct(r.mean.gbps, none.mean.gbps)} / ${pct(r.mean.rr, none.mean.rr)} / ${pct(r.mean.crr, none.mean.crr)}`,
        ];
      }),
    );
    console.log(
      formatTable(
        ['N', 'variant', 'rules', 'Gbit/s', 'RR/s', 'CRR/s', '% of no ruleset (G/RR/CRR)'],
        cnpRows,
      ),
    );
    // As issue 3's target: against Palisade with no policy (the table, conntrack and all, nothing selecting).
    const base = n0 === undefined ? none : by('palisade', 0);
    for (const v of ['palisade+cnp', 'palisade+pass'] as const) {
      const ratio = by(v, top).mean.crr / base.mean.crr;
      console.log(
        `target (${v}: connection rate with ${opts.cnps} CNPs beside ${top} NetworkPolicies >= 0.9 of Palisade's no-policy figure): ${ratio >= 0.9 ? 'met' : 'MISSED'} (${pct(ratio, 1)}; ${pct(by(v, top).mean.crr / none.mean.crr, 1)} of no ruleset at all)`,
      );
    }
  }
  console.log('\nruleset load time (ms, nft -f / iptables-nft-restore of the whole ruleset):');
  for (const r of rep.rows.filter((x) => x.variant !== 'none'))
    console.log(
      `  ${r.variant.padEnd(13)} N=${String(r.n).padEnd(6)} ${r.loadMs.map((x) => x.toFixed(0)).join(' / ')}  (${r.rules} rules, ${r.rulesetChars} chars)`,
    );
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
