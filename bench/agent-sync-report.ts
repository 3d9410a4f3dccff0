// Plain-text tables for bench/agent-sync.ts. Figures only: the targets are printed beside them, never judged.
import type { Report } from './agent-sync.js';
import type { ScaleResult } from './agent-sync-measure.js';
import { formatTable, ms, ratio } from './stats.js';

function cold(s: ScaleResult): string[] {
  const c = s.cold;
  const z = c.size;
  return [
    s.name,
    ms(c.compileMs),
    ms(c.renderMs),
    ms(c.nftMs),
    ms(c.totalMs),
    `${z.chains}/${z.rules}`,
    `${z.sets}/${z.elements}`,
    String(z.mapElements),
    `${(z.scriptBytes / 1024).toFixed(0)} KB`,
    `${c.memory.rssMB} (${c.memory.baselineRssMB})`,
    String(c.memory.heapUsedMB),
  ];
}

function propagation(s: ScaleResult): string {
  const rows = Object.entries(s.propagation).map(([kind, r]) => [
    kind,
    String(r.total.n),
    ms(r.total.p50),
    ms(r.total.p99),
    `${r.committed.n}`,
    ms(r.committed.p50),
    ms(r.committed.p99),
    ms(r.compile.p50),
    ms(r.compile.p99),
    ms(r.lockout.p50),
    ms(r.lockout.p99),
    ms(r.fullCompile.p50),
    ms(r.fullCompile.p99),
    ms(r.diff.p50),
    ms(r.diff.p99),
    ms(r.nft.p50),
    ms(r.nft.p99),
    `${(r.scriptBytes.p50 / 1024).toFixed(1)}/${(r.scriptBytes.max / 1024).toFixed(1)}`,
    Object.entries(r.modes)
      .map(([m, n]) => `${m}:${n}`)
      .join(' '),
  ]);
  const head = [
    'change',
    'n',
    'p50',
    'p99',
    'txns',
    'commit p50',
    'p99',
    'compile p50',
    'p99',
    'guard p50',
    'p99',
    'full p50',
    'p99',
    'diff p50',
    'p99',
    'nft p50',
    'p99',
    'KB p50/max',
    'mode',
  ];
  return formatTable(head, rows);
}

/** A result beside its baseline (--gnps): total p50/p99 of each change in both, and what the guard took. */
function sideBySide(s: ScaleResult, base: ScaleResult): string {
  const kinds = [...new Set([...Object.keys(s.propagation), ...Object.keys(base.propagation)])];
  const rows = kinds.map((k) => {
    const b = base.propagation[k];
    const r = s.propagation[k];
    return [
      k,
      b ? String(b.total.n) : '-',
      ms(b?.total.p50 ?? Number.NaN),
      ms(b?.total.p99 ?? Number.NaN),
      r ? String(r.total.n) : '-',
      ms(r?.total.p50 ?? Number.NaN),
      ms(r?.total.p99 ?? Number.NaN),
      b && r ? ratio(r.total.p50, b.total.p50) : '-',
      b && r ? ratio(r.total.p99, b.total.p99) : '-',
      ms(r?.compile.p50 ?? Number.NaN),
      ms(r?.lockout.p50 ?? Number.NaN),
      ms(r?.lockout.p99 ?? Number.NaN),
      ms(r?.nft.p50 ?? Number.NaN),
      ms(r?.nft.p99 ?? Number.NaN),
    ];
  });
  const head = [
    'change',
    'n',
    'plain p50',
    'p99',
    'n',
    'with p50',
    'p99',
    'x p50',
    'x p99',
    'compile p50',
    'guard p50',
    'p99',
    'nft p50',
    'p99',
  ];
  return formatTable(head, rows);
}

export function printText(rep: Report): void {
  const m = rep.machine;
  const [l0, l1] = rep.loadavg1mStartEnd;
  console.log(`Agent cold start, propagation and memory (ms unless noted)`);
  console.log(
    `machine: ${m.cpus} CPUs (${m.cpuModel}), ${m.memGB} GB, kernel ${m.kernel}, node ${m.node}, ${m.nft}; ` +
      `load average (1 min) ${l0.toFixed(2)} at start, ${l1.toFixed(2)} at end\n`,
  );
  console.log(
    'Cold start (first full sync into an empty netns) and memory of this process after it (forced GC):',
  );
  const head = [
    'cluster',
    'compile',
    'render',
    'nft -f',
    'total',
    'chains/rules',
    'sets/elements',
    'map el',
    'script',
    'RSS MB (before)',
    'heap MB',
  ];
  console.log(formatTable(head, rep.scales.map(cold)));
  console.log('(the figures are the median of 3 repetitions; totals of each, the first with a cold JIT:)');
  for (const s of rep.scales) console.log(`  ${s.name}: ${s.cold.totalsMs.map(ms).join(', ')}`);
  const agents = rep.scales.flatMap((s) => (s.agents ?? []).map((a) => [s.name, a] as const));
  if (agents.length > 0) {
    console.log('\nReal `palisade agent` (endpoints from IPAM records), on the cluster after the rounds:');
    const rows = agents.map(([name, a]) => [
      name,
      a.datastore,
      ms(a.readyMs),
      a.rssMB.toFixed(1),
      a.hwmMB.toFixed(1),
      a.heapUsedMB.toFixed(1),
      a.externalMB.toFixed(1),
      a.manifestsMB.toFixed(1),
    ]);
    console.log(
      formatTable(
        [
          'cluster',
          'datastore',
          'spawn to /readyz ms',
          'RSS MB',
          'peak RSS MB',
          'heap used',
          'external',
          'objects MB',
        ],
        rows,
      ),
    );
  }
  console.log('targets at 10k/1k: cold start <= 2000 ms; agent RSS <= 150 MB');
  for (const s of rep.scales) {
    console.log(
      `\nPropagation, ${s.name}: ${s.rounds} rounds of each change; total = compile + applier.update, which returns\n` +
        `once the kernel has acknowledged the committed transaction (nft exiting, or libnftables/netlink answering);\n` +
        `commit = from the change until a separate \`nft monitor\` process reported the commit (its own wake-up included),\n` +
        `over the txns that were not noops`,
    );
    console.log(
      `(compile = the agent's incremental compile, through lockout protection; guard = its lockout probes alone;\n` +
        ` full = baseline, the same state compiled from scratch, not applied;\n` +
        ` diff = planDiff + renderPlan alone; nft = update - diff). Kernel table matches after rounds: ${s.verifiedAfterRounds}`,
    );
    console.log(propagation(s));
  }
  for (const s of rep.scales.filter((x) => x.baseline)) {
    const base = rep.scales.find((x) => x.name === s.baseline);
    if (!base) continue;
    console.log(
      `\nSide by side (total = compile with lockout protection + the kernel's transaction, ms): "plain" = ${base.name};\n` +
        `"with" = ${s.name}\n(guard = HostGuard.admit less its compiles: the lockout probes, run only when a host\n` +
        ` object changed and the node has a host endpoint)`,
    );
    console.log(sideBySide(s, base));
  }
  console.log(
    '\ntarget at 10k/1k: total p99 <= 20 ms for pod add/remove and label changes (change to rules committed; issue 9);\n' +
      'with 1,000 ClusterNetworkPolicies beside them (--cnps 1000), p99 <= 50 ms (issue 10); issue 11 names none for\n' +
      "1,000 GlobalNetworkPolicies and 100 host policies (--gnps 1000 --heps): read against issue 10's",
  );
}
