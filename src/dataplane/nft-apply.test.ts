// The applier against a fake Runner: which nft commands it runs, in which namespace, and how it falls back.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Table } from '../ir/ir.js';
import { compileNode } from '../policy/compile.js';
import { demoCluster } from '../policy/testdata/builders.js';
import { SCENARIOS } from '../policy/testdata/scenarios.js';
import { createNullLogger } from '../util/log.js';
import { createNftApplier, expectedShape, parseShape, sameShape } from './nft-apply.js';
import { diffTables } from './nft-diff.js';
import { renderReplace } from './nft-render.js';
import { CommandError, createFakeRunner, type RunResult } from './runner.js';

const NS = '/run/netns/test';
const prev = compileNode(demoCluster(SCENARIOS['default-deny-shop']), 'node-1').table;
const next = compileNode(demoCluster(SCENARIOS.mixed), 'node-1').table;
const LIST = 'nft -j -t list table inet palisade';
const APPLY = 'nft -f -';
const NOT_FOUND = 'Error: No such file or directory\nlist table inet palisade\n';

/** What `nft -j -t list table` prints for a table (names, rules, base hooks; no elements). */
function listing(t: Table, opts: { emptyChain?: string } = {}): string {
  const T = { family: 'inet', table: t.name };
  const objs: object[] = [{ metainfo: { version: '1.0.6', json_schema_version: 1 } }];
  objs.push({ table: { family: 'inet', name: t.name, handle: 1 } });
  for (const s of t.sets) objs.push({ set: { ...T, name: s.name, type: s.type, handle: 2 } });
  for (const m of t.maps)
    objs.push({ map: { ...T, name: m.name, type: 'ifname', map: 'verdict', handle: 3 } });
  for (const c of t.chains) {
    const base = c.base && {
      type: 'filter',
      hook: c.base.hook,
      prio: c.base.priority,
      policy: c.base.policy,
    };
    objs.push({ chain: { ...T, name: c.name, handle: 4, ...base } });
  }
  for (const c of t.chains.filter((x) => x.name !== opts.emptyChain)) {
    for (const r of c.rules)
      objs.push({ rule: { ...T, chain: c.name, handle: 5, comment: r.comment, expr: [] } });
  }
  return JSON.stringify({ nftables: objs });
}

function fake(answer: (argv: readonly string[], input?: string) => RunResult | Error) {
  const runner = createFakeRunner((argv, opts) => answer(argv, opts.input));
  const applier = createNftApplier({ runner, netns: NS, log: createNullLogger() });
  const calls = () => runner.calls.map((c) => [c.argv.join(' '), c.opts.netns, c.opts.input]);
  return { applier, runner, calls };
}

const ok = (stdout = ''): RunResult => ({ stdout, stderr: '' });
const failed = (argv: readonly string[], stderr: string) => new CommandError(argv, 1, stderr);

describe('createNftApplier', () => {
  it('replace writes the whole table in one nft -f - inside the netns', async () => {
    const { applier, calls } = fake(() => ok());
    await applier.replace(next);
    assert.deepEqual(calls(), [[APPLY, NS, renderReplace(next)]]);
  });

  it('update of equal tables runs nothing', async () => {
    const { applier, calls } = fake(() => ok());
    assert.deepEqual(await applier.update(next, next), { mode: 'noop' });
    assert.deepEqual(calls(), []);
  });

  it('update applies the diff, then checks names and rule counts with a terse listing', async () => {
    const { applier, runner, calls } = fake((argv) => ok(argv.includes('list') ? listing(next) : ''));
    assert.deepEqual(await applier.update(prev, next), { mode: 'incremental' });
    assert.deepEqual(calls(), [
      [APPLY, NS, diffTables(prev, next)],
      [LIST, NS, undefined],
    ]);
    assert.ok(runner.calls.every((c) => c.opts.netns === NS));
  });

  it('with verify off, update applies the diff only', async () => {
    const runner = createFakeRunner(() => ok());
    const applier = createNftApplier({ runner, netns: NS, log: createNullLogger(), verify: false });
    assert.deepEqual(await applier.update(prev, next), { mode: 'incremental' });
    assert.deepEqual(
      runner.calls.map((c) => c.argv.join(' ')),
      [APPLY],
    );
  });

  it('a failing diff falls back to the full replace and reports why', async () => {
    const { applier, calls } = fake((argv, input) =>
      input !== undefined && !input.startsWith('table ')
        ? failed(argv, 'Error: Could not process rule: No such file or directory')
        : ok(),
    );
    const out = await applier.update(prev, next);
    assert.equal(out.mode, 'replace');
    assert.match(out.error ?? '', /Could not process rule/);
    assert.deepEqual(
      calls().map((c) => c[2]),
      [diffTables(prev, next), renderReplace(next)],
    );
  });

  it('drift the diff did not touch (a chain emptied by hand) is caught and replaced', async () => {
    const chain = next.chains.find((c) => c.base)!.name;
    const { applier, calls } = fake((argv) =>
      ok(argv.includes('list') ? listing(next, { emptyChain: chain }) : ''),
    );
    const out = await applier.update(prev, next);
    assert.equal(out.mode, 'replace');
    assert.match(out.error ?? '', /drift/);
    assert.equal(calls().at(-1)?.[2], renderReplace(next));
  });

  it('a base chain whose priority changed is replaced without an error', async () => {
    const moved: Table = {
      ...next,
      chains: next.chains.map((c) =>
        c.base ? { ...c, base: { ...c.base, priority: c.base.priority + 5 } } : c,
      ),
    };
    const { applier, calls } = fake(() => ok());
    assert.deepEqual(await applier.update(next, moved), { mode: 'replace' });
    assert.deepEqual(calls(), [[APPLY, NS, renderReplace(moved)]]);
  });

  it('matches compares names, rule counts and base hooks; a missing table is false', async () => {
    const cases: [string, RunResult | 'missing', boolean][] = [
      ['same table', ok(listing(next)), true],
      ['other table', ok(listing(prev)), false],
      [
        'a chain emptied',
        ok(listing(next, { emptyChain: next.chains.find((c) => c.rules.length > 0)!.name })),
        false,
      ],
      ['no table', 'missing', false],
    ];
    for (const [name, answer, want] of cases) {
      const { applier } = fake((argv) => (answer === 'missing' ? failed(argv, NOT_FOUND) : answer));
      assert.equal(await applier.matches(next), want, name);
    }
  });

  it('matches passes on errors other than "not found"', async () => {
    const { applier } = fake((argv) => failed(argv, 'Error: Operation not permitted'));
    await assert.rejects(applier.matches(next), /Operation not permitted/);
  });

  it('remove deletes the table; a table already gone is success', async () => {
    for (const gone of [false, true]) {
      const { applier, calls } = fake((argv) => (gone ? failed(argv, NOT_FOUND) : ok()));
      await applier.remove();
      assert.deepEqual(calls(), [['nft delete table inet palisade', NS, undefined]]);
    }
  });
});

describe('table shapes', () => {
  it('parses what nft 1.0.6 prints', () => {
    const json = JSON.stringify({
      nftables: [
        { metainfo: { version: '1.0.6', release_name: 'Lester Gooch #5', json_schema_version: 1 } },
        { table: { family: 'inet', name: 'palisade', handle: 1 } },
        {
          set: {
            family: 'inet',
            name: 's4',
            table: 'palisade',
            type: 'ipv4_addr',
            handle: 5,
            flags: ['interval'],
          },
        },
        {
          map: {
            family: 'inet',
            name: 'endpoints_in',
            table: 'palisade',
            type: 'ifname',
            handle: 7,
            map: 'verdict',
          },
        },
        { chain: { family: 'inet', table: 'palisade', name: 'ep_a', handle: 2 } },
        {
          chain: {
            ...{ family: 'inet', table: 'palisade', name: 'ingress', handle: 4 },
            ...{ type: 'filter', hook: 'forward', prio: 10, policy: 'accept' },
          },
        },
        { rule: { family: 'inet', table: 'palisade', chain: 'ep_a', handle: 16, comment: 'j', expr: [] } },
        { rule: { family: 'inet', table: 'palisade', chain: 'ep_a', handle: 17, comment: 'd', expr: [] } },
      ],
    });
    assert.deepEqual(parseShape(json), {
      sets: ['s4'],
      maps: ['endpoints_in'],
      chains: { ep_a: 'rules=2', ingress: 'rules=0 forward 10 accept' },
    });
  });
  it('a table has the shape of its own listing', () => {
    assert.ok(sameShape(parseShape(listing(next)), expectedShape(next)));
    assert.ok(!sameShape(parseShape(listing(prev)), expectedShape(next)));
  });
});
