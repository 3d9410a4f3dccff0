// The netlink writer (src/dataplane/netlink/nft-netlink-writer.ts) against the kernel: a change written by it in one
// namespace must list, through nft's own decoding of the kernel's table, exactly as the same table written whole
// by an `nft` process in another. Needs root; namespaces carry a unique prefix and are removed even on failure.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadNative, type NativeAddon, nativeUnavailableReason } from '../src/dataplane/native.js';
import { netlinkTableWriter, netlinkWritable } from '../src/dataplane/netlink/nft-netlink-writer.js';
import { createNftApplier, type NftApplier } from '../src/dataplane/nft-apply.js';
import { planDiff } from '../src/dataplane/nft-diff.js';
import {
  accept,
  createChain,
  createRule,
  createSet,
  drop,
  goto,
  jump,
  type Rule,
  type Table,
} from '../src/ir/ir.js';
import type { ClusterState, PodInfo } from '../src/model/cluster.js';
import { NodeCompiler } from '../src/policy/node-compiler.js';
import { Gen, prng, randomCluster } from '../src/policy/testdata/random.js';
import { createNullLogger } from '../src/util/log.js';
import { createFixture, runner } from './helpers/netns.js';
import { kernelTable, nftIn } from './helpers/nft-listing.js';

const fx = createFixture('pnw');
const log = createNullLogger();
let nsNl = '';
let nsRef = '';
let native: NativeAddon;
/** Writes whole tables with `nft` processes: the reference, and the starting point of each netlink write. */
let byProcess: NftApplier;
let refApplier: NftApplier;

before(async () => {
  const addon = loadNative();
  assert.ok(addon, `palisade-native.node: ${nativeUnavailableReason()}`);
  native = addon;
  nsNl = await fx.netns('nl');
  nsRef = await fx.netns('ref');
  byProcess = createNftApplier({ runner, netns: nsNl, log });
  refApplier = createNftApplier({ runner, netns: nsRef, log });
});
after(() => fx.cleanup());

const listing = (netns: string) => kernelTable(fx.prefix, netns);
const text = async (netns: string) =>
  (await nftIn(fx.prefix, netns, 'list', 'table', 'inet', 'palisade')).stdout;

/** Both namespaces list the same table, as JSON (sorted elements) and as nft's text (counters, comments). */
async function assertSameKernelTables(): Promise<void> {
  assert.deepEqual(await listing(nsNl), await listing(nsRef));
  const sortedLines = (t: string) => t.split('\n').sort().join('\n'); // element order within a line may differ
  assert.equal(sortedLines(await text(nsNl)), sortedLines(await text(nsRef)));
}

const base = (d: 'egress' | 'ingress') =>
  createChain(
    d,
    [
      createRule({
        matches: [{ kind: 'ct-state', states: ['established', 'related'] }],
        verdict: accept,
        comment: 'ret',
      }),
      createRule({
        vmap: {
          key: d === 'egress' ? 'iifname' : 'oifname',
          map: `endpoints_${d === 'egress' ? 'eg' : 'in'}`,
        },
        counter: false,
        comment: `${d} policy`,
      }),
    ],
    { base: { hook: 'forward', priority: d === 'egress' ? 0 : 10, policy: 'accept' } },
  );

function table(opts: {
  a: string[];
  b: string[];
  c: string[];
  d: string[];
  e: string[];
  /** The host chains' set of pod interfaces (type ifname). */
  f: string[];
  eg: [string, string][];
  chains: [string, Rule[]][];
}): Table {
  return {
    kind: 'table',
    family: 'inet',
    name: 'palisade',
    sets: [
      createSet({ name: 'a', type: 'ipv4_addr', interval: false, elements: opts.a }),
      createSet({ name: 'b', type: 'ipv6_addr', interval: false, elements: opts.b }),
      createSet({
        name: 'c',
        type: 'ipv4_addr . inet_proto . inet_service',
        interval: false,
        elements: opts.c,
      }),
      createSet({
        name: 'd',
        type: 'ipv6_addr . inet_proto . inet_service',
        interval: false,
        elements: opts.d,
      }),
      createSet({ name: 'e', type: 'inet_service', interval: false, elements: opts.e }),
      createSet({ name: 'f', type: 'ifname', interval: false, elements: opts.f }),
      createSet({ name: 'iv', type: 'ipv4_addr', interval: true, elements: ['10.0.0.0/8'] }),
    ],
    maps: [
      {
        kind: 'map',
        name: 'endpoints_eg',
        key: 'ifname',
        elements: opts.eg.map(([key, chain]) => ({ key, verdict: goto(chain) })),
      },
      { kind: 'map', name: 'endpoints_in', key: 'ifname', elements: [] },
    ],
    chains: [base('egress'), base('ingress'), ...opts.chains.map(([n, rules]) => createChain(n, rules))],
  };
}

const r = (verdict: Rule['verdict'], comment: string, counter = true) =>
  createRule({ verdict, comment, counter });
const npX: [string, Rule[]] = ['np_x', [r(accept, 'np:x allow')]];
const npY: [string, Rule[]] = ['np_y', [r({ kind: 'return' }, 'np:y return', false)]];

const PREV = table({
  a: ['10.0.0.1', '10.0.0.2'],
  b: ['fd00::1'],
  c: ['10.0.0.1 . tcp . 80'],
  d: [],
  e: ['80'],
  f: ['"pal1"', '"palgone"'],
  eg: [['pal1', 'ep_one']],
  chains: [
    npX,
    npY,
    ['ep_one', [r(jump('np_x'), 'np:x', false), r(drop, 'isolated egress: a/one')]],
    ['ep_gone', [r(drop, 'isolated egress: a/gone')]],
  ],
});

const NEXT = table({
  a: ['10.0.0.2', '10.0.0.3', '10.0.0.4'],
  b: ['fd00::2'],
  c: ['10.0.0.3 . sctp . 9', '10.0.0.4 . udp . 53'],
  d: ['fd00::2 . tcp . 8080'],
  e: ['443', '80'],
  f: ['"pal1"', '"pal2"', '"pal0123456789ab"'],
  eg: [
    ['pal1', 'ep_two'],
    ['pal2', 'ep_one'],
  ],
  chains: [
    npX,
    npY,
    ['ep_one', [r(jump('np_y'), 'np:y', false), r(drop, 'isolated egress: a/one')]],
    [
      'ep_two',
      [
        r(jump('np_x'), 'np:x', false),
        r(goto('np_y'), 'np:y goto'),
        r(accept, 'a "quoted" \\ comment'),
        r({ kind: 'return' }, 'return'),
        r(drop, 'isolated egress: a/two'),
      ],
    ],
  ],
});

describe('netlink writer: one transaction, listed by nft as the same table written whole', () => {
  it('elements of every exact set type, map entries re-pointed and added, chains added, rewritten and removed', async () => {
    const plan = planDiff(PREV, NEXT);
    assert.ok(netlinkWritable(plan, NEXT));
    assert.ok(
      plan.chainsAdded.length > 0 && plan.chainsRewritten.length > 0 && plan.chainsRemoved.length > 0,
    );
    assert.ok(plan.maps.some((m) => m.add.length > 0 && m.del.length > 0));
    await byProcess.replace(PREV);
    const writer = netlinkTableWriter(native, { netns: nsNl });
    try {
      await writer.write(plan, NEXT);
    } finally {
      await writer.close();
    }
    await refApplier.replace(NEXT);
    await assertSameKernelTables();
  });

  it('the comparison is not vacuous: the previous table lists differently', async () => {
    await byProcess.replace(PREV);
    await refApplier.replace(NEXT);
    assert.notDeepEqual(await listing(nsNl), await listing(nsRef));
  });

  it('a refused part leaves nothing of the transaction, and the error names the request', async () => {
    await byProcess.replace(PREV);
    const before = await listing(nsNl);
    const plan = planDiff(PREV, NEXT);
    // The kernel has no 10.9.9.9 in `a`: the delete fails after the other requests were taken in.
    const broken = {
      ...plan,
      sets: plan.sets.map((d) => (d.name === 'a' ? { ...d, del: ['10.9.9.9'] } : d)),
    };
    const writer = netlinkTableWriter(native, { netns: nsNl });
    try {
      await assert.rejects(
        writer.write(broken, NEXT),
        /delete element inet palisade a \{ 10\.9\.9\.9 \}: ENOENT/,
      );
      assert.deepEqual(await listing(nsNl), before);
      // The socket stays usable after a refusal.
      await writer.write(plan, NEXT);
    } finally {
      await writer.close();
    }
    await refApplier.replace(NEXT);
    await assertSameKernelTables();
  });
});

/** A pod change as the API shows it: a pod added, removed or relabelled, on this node or another. */
function podChange(state: ClusterState, g: Gen, n: number): ClusterState {
  const pods = [...state.pods];
  const op = g.int(0, 2);
  const k = g.int(0, pods.length - 1);
  if (op === 0) {
    const node = g.pick(['node-1', 'node-2']);
    const template = pods[k]!;
    const pod: PodInfo = {
      ...template,
      name: `added${n}`,
      node,
      ips: [`10.244.${node === 'node-1' ? 1 : 2}.${150 + n}`],
      interface: `paladded${n}`,
    };
    pods.push(pod);
  } else if (op === 1 && pods.length > 10) pods.splice(k, 1);
  else pods[k] = { ...pods[k]!, labels: { ...pods[k]!.labels, ...pods[g.int(0, pods.length - 1)]!.labels } };
  return { ...state, pods };
}

/** A random cluster; with `host`, GlobalNetworkPolicies and a "*" HostEndpoint on node-1 (its pod_ifaces set). */
function startState(host: boolean): ClusterState {
  if (!host) return randomCluster(5, { pods: 60, policies: 10 });
  const state = randomCluster(5, { pods: 60, policies: 10, globalPolicies: 6 });
  const hep = {
    kind: 'HostEndpoint' as const,
    group: 'palisade.dev' as const,
    name: 'node-1',
    labels: { app: 'x' },
    node: 'node-1',
    interfaceName: '*',
    expectedIPs: ['198.18.0.11'],
    profiles: ['projectcalico-default-allow'],
    ports: [],
    problems: [],
  };
  return { ...state, hostEndpoints: [hep] };
}

describe('the applier in-process: pod changes through netlink, the rest through libnftables', () => {
  for (const host of [false, true])
    it(`40 pod changes of a random cluster${host ? ' with host endpoint chains' : ''}: each step lists as the whole table written by nft`, async () => {
      const g = new Gen(prng(11));
      let state = startState(host);
      const compiler = new NodeCompiler('node-1');
      let prev = compiler.compile(state).table;
      await byProcess.replace(prev);
      const applier = createNftApplier({ runner, netns: nsNl, log, native, verify: false });
      const seen = { netlink: 0, withChains: 0, libnftables: 0 };
      for (let i = 0; i < 40; i++) {
        state = podChange(state, g, i);
        const next = compiler.compile(state).table;
        const plan = planDiff(prev, next);
        if (netlinkWritable(plan, next)) {
          seen.netlink += 1;
          if (plan.chainsAdded.length + plan.chainsRewritten.length + plan.chainsRemoved.length > 0)
            seen.withChains += 1;
        } else seen.libnftables += 1;
        const out = await applier.update(prev, next);
        assert.equal(out.error, undefined);
        await refApplier.replace(next);
        await assertSameKernelTables();
        prev = next;
      }
      // Both paths ran, and netlink wrote endpoint chains, not only elements.
      assert.ok(seen.netlink >= 15, JSON.stringify(seen));
      assert.ok(seen.withChains >= 3, JSON.stringify(seen));
      assert.ok(seen.libnftables >= 1, JSON.stringify(seen));
      if (host)
        assert.ok(
          prev.sets.some((x) => x.name === 'pod_ifaces'),
          'the host chains are there',
        );
    });
});
