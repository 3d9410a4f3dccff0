// Incremental updates in the kernel: for scenario transitions and random cluster changes, prev loaded with
// replace() and patched with update() lists back exactly like next loaded fresh in a second namespace.
// Every nft command runs inside the fixture's namespaces; cleanup removes them even when a test fails.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadNative, type NativeAddon, nativeUnavailableReason } from '../src/dataplane/native.js';
import { createNftApplier, type NftApplier } from '../src/dataplane/nft-apply.js';
import { diffTables } from '../src/dataplane/nft-diff.js';
import type { Table } from '../src/ir/ir.js';
import type { PodInfo } from '../src/model/cluster.js';
import { compileNode } from '../src/policy/compile.js';
import { demoCluster, makePod, makePolicy, rule, udp } from '../src/policy/testdata/builders.js';
import { mutate } from '../src/policy/testdata/mutate.js';
import { randomCluster } from '../src/policy/testdata/random.js';
import { CLUSTER_SCENARIOS, SCENARIOS } from '../src/policy/testdata/scenarios.js';
import { createNullLogger } from '../src/util/log.js';
import { createFixture, runner } from './helpers/netns.js';
import { kernelTable as kernelListing, nftIn } from './helpers/nft-listing.js';

const fx = createFixture('pna');
const log = createNullLogger();
let nsInc = '';
let nsRef = '';
let inc: NftApplier;
let ref: NftApplier;
/** The writer under test: libnftables in-process (the agent's normal path) or `nft` processes (its fallback). */
let native: NativeAddon | undefined;
const timings: string[] = [];

before(async () => {
  nsInc = await fx.netns('inc');
  nsRef = await fx.netns('ref');
  // The reference always writes with `nft` processes, and the listings below are read with `nft` too.
  ref = createNftApplier({ runner, netns: nsRef, log });
});
after(async () => {
  await fx.cleanup();
  console.log(`nft-apply timings (ms):\n${timings.join('\n')}`);
});

const nft = (netns: string, ...args: string[]) => nftIn(fx.prefix, netns, ...args);
const kernelTable = (netns: string) => kernelListing(fx.prefix, netns);
const ms = (t0: number) => (performance.now() - t0).toFixed(1);

async function checkTransition(prev: Table, next: Table, label: string): Promise<void> {
  await inc.replace(prev);
  const script = diffTables(prev, next);
  const t0 = performance.now();
  const out = await inc.update(prev, next);
  const took = ms(t0);
  assert.deepEqual(out, { mode: script === '' ? 'noop' : 'incremental' });
  await ref.replace(next);
  assert.deepEqual(await kernelTable(nsInc), await kernelTable(nsRef));
  timings.push(`  update ${label}: ${took} (${script.split('\n').length - 1} lines)`);
}

const addon = loadNative();
for (const kind of ['libnftables', 'process'] as const) {
  describe(`through ${kind}`, () => {
    before(() => {
      assert.ok(kind === 'process' || addon, `palisade-native.node: ${nativeUnavailableReason()}`);
      native = kind === 'libnftables' ? addon : undefined;
      inc = createNftApplier({ runner, netns: nsInc, log, native });
      assert.equal(inc.kind, kind);
    });
    kernelSuites(kind);
  });
}

function kernelSuites(kind: string): void {
  describe('update() in the kernel equals a fresh replace()', () => {
    const names = Object.keys(SCENARIOS);
    for (const from of names) {
      for (const to of names.filter((n) => n !== from)) {
        for (const node of ['node-1', 'node-2']) {
          it(`${from} → ${to} on ${node}`, async () => {
            const prev = compileNode(demoCluster(SCENARIOS[from]), node).table;
            const next = compileNode(demoCluster(SCENARIOS[to]), node).table;
            await checkTransition(prev, next, `${from}→${to} ${node}`);
          });
        }
      }
    }
    for (const [name, { cluster, policies }] of Object.entries(CLUSTER_SCENARIOS)) {
      it(`mixed ⇄ ${name} (ClusterNetworkPolicies: tier chains, the pass mark), both ways`, async () => {
        const tiers = compileNode({ ...demoCluster(policies), clusterPolicies: cluster }, 'node-1').table;
        const mixed = compileNode(demoCluster(SCENARIOS.mixed), 'node-1').table;
        await checkTransition(mixed, tiers, `mixed→${name}`);
        await checkTransition(tiers, mixed, `${name}→mixed`);
      });
    }
    for (let seed = 1; seed <= 20; seed++) {
      it(`random cluster ${seed} and a change of it`, async () => {
        const node = seed % 2 === 0 ? 'node-1' : 'node-2';
        const state = randomCluster(seed, { pods: 20 + 8 * seed, policies: 4 + seed });
        const prev = compileNode(state, node).table;
        const next = compileNode(mutate(state, seed * 7919), node).table;
        await checkTransition(prev, next, `random ${seed} (${size(prev)})`);
      });
    }
    it('ipBlock excepts change: a new set by content; in place, interval elements split, merged and re-cut', async () => {
      const egress = (except: string[]) =>
        makePolicy('billing', 'egress', {
          policyTypes: ['Egress'],
          egress: [rule([{ ipBlock: { cidr: '10.0.0.0/8', except } }], [udp(53)])],
        });
      const whole = ['10.244.0.0/16'];
      const split = ['10.244.0.0/16', '10.1.0.0/16']; // 10.0.0.0/9 becomes pieces inside it
      const moved = ['10.0.0.0/9', '10.244.1.0/24'];
      for (const [from, to] of [
        [whole, split],
        [split, whole],
        [whole, moved],
      ] as const) {
        const prev = compileNode(demoCluster([egress([...from])]), 'node-1').table;
        const compiled = compileNode(demoCluster([egress([...to])]), 'node-1').table;
        // Compiled, the CIDR set is named by its content: the new one replaces the old, and the chain follows.
        assert.match(diffTables(prev, compiled), /delete set .*\nadd set .*\nadd element .*\nadd rule /);
        await checkTransition(prev, compiled, `ipBlock except ${from.join('+')} → ${to.join('+')}`);
        // Kept under its old name (as a hand-built table may), the same change is made element by element.
        const blocks = (t: Table) => t.sets.find((x) => x.name.startsWith('blocks4_'))!.name;
        const next = JSON.parse(JSON.stringify(compiled).replaceAll(blocks(compiled), blocks(prev))) as Table;
        assert.match(diffTables(prev, next), /^delete element [^\n]*\nadd element [^\n]*\n$/);
        await checkTransition(prev, next, `ipBlock except in place ${from.join('+')} → ${to.join('+')}`);
      }
    });
    it('the listing sees a difference between two different tables (the comparison is not vacuous)', async () => {
      await inc.replace(compileNode(demoCluster(SCENARIOS.mixed), 'node-1').table);
      await ref.replace(compileNode(demoCluster(SCENARIOS['default-deny-shop']), 'node-1').table);
      assert.notDeepEqual(await kernelTable(nsInc), await kernelTable(nsRef));
    });
  });

  describe('drift, fallback and the drift check', () => {
    const mixed = demoCluster(SCENARIOS.mixed);
    const prev = compileNode(mixed, 'node-1').table;

    it('a chain flushed by hand is found after the diff and the table replaced', async () => {
      const extra = makePod('billing', 'audit', { app: 'audit' }, { node: 'node-2', ip: '10.244.2.9' });
      const next = compileNode({ ...mixed, pods: [...mixed.pods, extra] }, 'node-1').table;
      await inc.replace(prev);
      await nft(nsInc, 'flush', 'chain', 'inet', 'palisade', 'egress');
      const out = await inc.update(prev, next);
      assert.equal(out.mode, 'replace');
      assert.match(out.error ?? '', /drift/);
      await ref.replace(next);
      assert.deepEqual(await kernelTable(nsInc), await kernelTable(nsRef));
    });

    it('a diff the kernel rejects (an element already deleted by hand) falls back to replace', async () => {
      const next = compileNode(
        { ...mixed, pods: mixed.pods.filter((p) => p.name !== 'cart') },
        'node-1',
      ).table;
      await inc.replace(prev);
      await nft(nsInc, 'delete', 'element', 'inet', 'palisade', 'pods4_588db012cc42', '{ 10.244.1.2 }');
      const out = await inc.update(prev, next);
      assert.equal(out.mode, 'replace');
      assert.match(out.error ?? '', /No such file or directory|ENOENT/); // nft's words, or the netlink errno
      await ref.replace(next);
      assert.deepEqual(await kernelTable(nsInc), await kernelTable(nsRef));
    });

    it('matches() is true after replace(), false once the table is deleted; remove() twice is fine', async () => {
      await inc.replace(prev);
      assert.equal(await inc.matches(prev), true);
      await nft(nsInc, 'delete', 'table', 'inet', 'palisade');
      assert.equal(await inc.matches(prev), false);
      await inc.replace(prev);
      assert.equal(await inc.matches(prev), true);
      await inc.remove();
      await inc.remove();
      assert.equal(await inc.matches(prev), false);
    });

    it('times replace, update (with and without the verify listing) and matches() on a 5k-rule table', async () => {
      const state = randomCluster(99, { pods: 250, policies: 150 });
      const prev = compileNode(state, 'node-1').table;
      const extra: PodInfo = {
        ...state.pods[2]!,
        name: 'extra',
        ips: ['10.244.1.252'],
        interface: 'palextra',
      };
      const next = compileNode({ ...state, pods: [...state.pods, extra] }, 'node-1').table;
      const lines = diffTables(prev, next).split('\n').length - 1;
      const unverified = createNftApplier({ runner, netns: nsInc, log, verify: false, native });
      const timed = async <T>(label: string, f: () => Promise<T>): Promise<T> => {
        const t0 = performance.now();
        const out = await f();
        timings.push(`  ${kind} ${label}: ${ms(t0)}`);
        return out;
      };
      await inc.remove();
      await timed(`replace into an empty netns (${size(prev)})`, () => inc.replace(prev));
      await timed('replace over itself', () => inc.replace(prev));
      const out = await timed(`update, one pod added (${lines} lines), verify on`, () =>
        inc.update(prev, next),
      );
      assert.deepEqual(out, { mode: 'incremental' });
      await inc.replace(prev);
      const fast = await timed('update, the same, verify off', () => unverified.update(prev, next));
      assert.deepEqual(fast, { mode: 'incremental' });
      assert.equal(await timed('matches() (nft -j -t list table)', () => inc.matches(next)), true);
      await ref.replace(next);
      assert.deepEqual(await kernelTable(nsInc), await kernelTable(nsRef));
    });
  });

  function size(t: Table): string {
    const rules = t.chains.reduce((n, c) => n + c.rules.length, 0);
    const elements = t.sets.reduce((n, s) => n + s.elements.length, 0);
    return `${t.chains.length} chains, ${rules} rules, ${t.sets.length} sets, ${elements} elements`;
  }
}
