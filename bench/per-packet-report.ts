// The text report of bench/per-packet.ts: the NetworkPolicy table (Palisade against iptables), the --cnps and
// --gnps variants against the no-ruleset figures, the targets beside them, and the ruleset load times.
import { formatTable } from './stats.js';

export type Variant =
  | 'none'
  | 'none-outside'
  | 'palisade'
  | 'iptables'
  | 'palisade+cnp'
  | 'palisade+pass'
  | 'palisade+gnp'
  | 'palisade+gnp+hep';

export interface Figures {
  readonly gbps: number;
  readonly rr: number;
  readonly crr: number;
}

export interface Row {
  readonly n: number;
  readonly variant: Variant;
  readonly rules: number;
  readonly rulesetChars: number;
  readonly loadMs: number[];
  readonly passes: Figures[];
  readonly mean: Figures;
}

export interface Report {
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

export interface ReportOptions {
  readonly passes: number;
  readonly counts: readonly number[];
  readonly cnps: number;
  readonly gnps: number;
}

function pct(v: number, base: number): string {
  return `${((100 * v) / base).toFixed(0)}%`;
}

export function printText(rep: Report, opts: ReportOptions): void {
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
  if (opts.gnps > 0) printGlobal(rep, opts);
  console.log('\nruleset load time (ms, nft -f / iptables-nft-restore of the whole ruleset):');
  for (const r of rep.rows.filter((x) => !x.variant.startsWith('none')))
    console.log(
      `  ${r.variant.padEnd(16)} N=${String(r.n).padEnd(6)} ${r.loadMs.map((x) => x.toFixed(0)).join(' / ')}  (${r.rules} rules, ${r.rulesetChars} chars)`,
    );
}

const triple = (r: Row, b: Row) =>
  `${pct(r.mean.gbps, b.mean.gbps)} / ${pct(r.mean.rr, b.mean.rr)} / ${pct(r.mean.crr, b.mean.crr)}`;

/** The --gnps variants: each against no ruleset from the same client, and against Palisade with no policy. */
function printGlobal(rep: Report, opts: ReportOptions): void {
  const by = (v: Variant, n: number) => rep.rows.find((r) => r.variant === v && r.n === n)!;
  const none = by('none', 0);
  const outside = by('none-outside', 0);
  const palisade0 = rep.rows.find((r) => r.variant === 'palisade' && r.n === 0);
  console.log(
    `\nwith ${opts.gnps} GlobalNetworkPolicies and 100 host policies beside the N NetworkPolicies, a HostEndpoint on eth1` +
      `\n(gnp: the pod client's first packet walks every GNP selecting the server up to the one that allows it;` +
      `\n gnp+hep: the same ruleset from the outside client behind eth1, through the host endpoint's doNotTrack` +
      `\n (every packet), preDNAT and applyOnForward policies). No ruleset at all from the outside client:` +
      ` ${outside.mean.gbps.toFixed(2)} Gbit/s, rr ${outside.mean.rr.toFixed(0)}/s, crr ${outside.mean.crr.toFixed(0)}/s`,
  );
  const rows = opts.counts.flatMap((n) =>
    (['palisade', 'palisade+gnp', 'palisade+gnp+hep'] as const).map((v) => {
      const r = by(v, n);
      const base = v === 'palisade+gnp+hep' ? outside : none;
      return [
        String(n),
        v,
        v === 'palisade+gnp+hep' ? 'outside' : 'pod',
        String(r.rules),
        r.mean.gbps.toFixed(2),
        r.mean.rr.toFixed(0),
        r.mean.crr.toFixed(0),
        triple(r, base),
        palisade0 ? triple(r, palisade0) : '-',
      ];
    }),
  );
  const head = ['N', 'variant', 'client', 'rules', 'Gbit/s', 'RR/s', 'CRR/s'];
  const pcts = ['% of no ruleset, same client (G/RR/CRR)', "% of Palisade's N=0 (G/RR/CRR)"];
  console.log(formatTable([...head, ...pcts], rows));
  const top = Math.max(...opts.counts);
  const base = palisade0 ?? none;
  for (const v of ['palisade+gnp', 'palisade+gnp+hep'] as const) {
    const r = by(v, top).mean;
    const ratio = r.crr / base.mean.crr;
    const own = v === 'palisade+gnp+hep' ? outside : none;
    console.log(
      `target (${v}: connection rate with ${opts.gnps} GNPs and 100 host policies beside ${top} NetworkPolicies >= 0.9 of Palisade's no-policy figure, as issue 10's): ${ratio >= 0.9 ? 'met' : 'MISSED'} (${pct(ratio, 1)}; ${pct(r.crr / own.mean.crr, 1)} of no ruleset from the same client)`,
    );
  }
}
