// Incremental diffs: exact text for small named cases, then random cluster changes replayed on a strict fake of
// the kernel's object model (it rejects a reference to a missing object and the deletion of a referenced one).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { accept, createChain, createRule, createSet, drop, goto, jump, type Table } from '../ir/ir.js';
import type { ClusterState } from '../model/cluster.js';
import { compileNode } from '../policy/compile.js';
import { demoCluster, makePod, makePolicy, rule, sel, tcp } from '../policy/testdata/builders.js';
import { mutate } from '../policy/testdata/mutate.js';
import { randomCluster } from '../policy/testdata/random.js';
import { SCENARIOS } from '../policy/testdata/scenarios.js';
import { diffSummary, diffTables } from './nft-diff.js';
import { renderReplace, renderRule, renderVerdict } from './nft-render.js';

const table = (s: ClusterState, node = 'node-1') => compileNode(s, node).table;
const mixed = demoCluster(SCENARIOS.mixed);
const denyShop = SCENARIOS['default-deny-shop']!;
const allowWeb = makePolicy('shop', 'allow-web-from-billing', {
  podSelector: sel({ app: 'web' }),
  ingress: [rule([{ namespaceSelector: sel({ team: 'billing' }) }], [tcp(80)])],
});
const T = 'inet palisade';

/** A tiny hand-built table: one policy chain, one endpoint chain, one map key, one base chain. */
function tiny(opts: { target?: string; comment?: string; priority?: number } = {}): Table {
  const np = createChain('np_a_in', [createRule({ matches: [], verdict: accept, comment: 'np:a' })], {
    comment: opts.comment ?? 'np:a ingress',
  });
  const ep = (name: string) =>
    createChain(name, [createRule({ verdict: jump('np_a_in'), counter: false, comment: 'j' })]);
  const base = createChain(
    'ingress',
    [createRule({ vmap: { key: 'oifname', map: 'endpoints_in' }, counter: false, comment: 'v' })],
    { base: { hook: 'forward', priority: opts.priority ?? 10, policy: 'accept' } },
  );
  const target = opts.target ?? 'ep_x_in';
  return {
    kind: 'table',
    family: 'inet',
    name: 'palisade',
    sets: [createSet({ name: 's4', type: 'ipv4_addr', interval: false, elements: ['10.0.0.1'] })],
    maps: [
      {
        kind: 'map',
        name: 'endpoints_in',
        key: 'ifname',
        elements: [{ key: 'palx', verdict: goto(target) }],
      },
    ],
    chains: [np, ep('ep_x_in'), ep('ep_y_in'), base],
  };
}

const lines = (...xs: string[]) => xs.map((l) => `${l}\n`).join('');

const CASES: { name: string; prev: Table; next: Table; want: string }[] = [
  { name: 'equal tables', prev: table(mixed), next: table(mixed), want: '' },
  {
    name: 'an element added to a pod set',
    prev: table(mixed),
    next: table({
      ...mixed,
      pods: [
        ...mixed.pods,
        makePod('billing', 'audit', { app: 'audit' }, { node: 'node-2', ip: '10.244.2.9' }),
      ],
    }),
    want: lines(`add element ${T} pods4_ff110da6f090 { 10.244.2.9 }`),
  },
  {
    name: 'a pod removed',
    prev: table(mixed),
    next: table({ ...mixed, pods: mixed.pods.filter((p) => p.name !== 'cart') }),
    want: lines(
      `flush chain ${T} np_5e01ff55b7b7_in`,
      `flush chain ${T} ep_fc103f47fef0_in`,
      `delete element ${T} endpoints_in { "palcart" }`,
      `delete chain ${T} np_5e01ff55b7b7_in`,
      `delete chain ${T} ep_fc103f47fef0_in`,
      `delete element ${T} named4_378e526ae372 { 10.244.1.2 . tcp . 8080 }`,
      `delete element ${T} pods4_588db012cc42 { 10.244.1.2 }`,
    ),
  },
  {
    name: 'a policy added: its chain and set, a jump in the endpoint chain',
    prev: table(demoCluster(denyShop)),
    next: table(demoCluster([...denyShop, allowWeb])),
    want: lines(
      `flush chain ${T} ep_1b2ce43c8d2a_in`,
      `add set ${T} pods4_ff110da6f090 { type ipv4_addr; }`,
      `add element ${T} pods4_ff110da6f090 { 10.244.1.3, 10.244.2.2 }`,
      `add chain ${T} np_252f16e670d6_in { comment "np:shop/allow-web-from-billing ingress"; }`,
      `add rule ${T} np_252f16e670d6_in ip saddr @pods4_ff110da6f090 meta l4proto tcp th dport 80 counter accept comment "np:shop/allow-web-from-billing:ingress[0]"`,
      `add rule ${T} ep_1b2ce43c8d2a_in jump np_252f16e670d6_in comment "np:shop/allow-web-from-billing"`,
      `add rule ${T} ep_1b2ce43c8d2a_in jump np_7d0d1a13ec1b_in comment "np:shop/default-deny"`,
      `add rule ${T} ep_1b2ce43c8d2a_in counter drop comment "isolated ingress: shop/web, no policy allows"`,
    ),
  },
  {
    name: 'a policy removed: jumps go before the chain, the chain before its set',
    prev: table(demoCluster([...denyShop, allowWeb])),
    next: table(demoCluster(denyShop)),
    want: lines(
      `flush chain ${T} np_252f16e670d6_in`,
      `flush chain ${T} ep_1b2ce43c8d2a_in`,
      `delete chain ${T} np_252f16e670d6_in`,
      `delete set ${T} pods4_ff110da6f090`,
      `add rule ${T} ep_1b2ce43c8d2a_in jump np_7d0d1a13ec1b_in comment "np:shop/default-deny"`,
      `add rule ${T} ep_1b2ce43c8d2a_in counter drop comment "isolated ingress: shop/web, no policy allows"`,
    ),
  },
  {
    name: 'a map element changed verdict: delete then add',
    prev: tiny(),
    next: tiny({ target: 'ep_y_in' }),
    want: lines(
      `delete element ${T} endpoints_in { "palx" }`,
      `add element ${T} endpoints_in { "palx" : goto ep_y_in }`,
    ),
  },
  {
    name: 'a chain comment changed: the chain is re-created, its users rewritten',
    prev: tiny(),
    next: tiny({ comment: 'np:a renamed' }),
    want: lines(
      `flush chain ${T} np_a_in`,
      `flush chain ${T} ep_x_in`,
      `flush chain ${T} ep_y_in`,
      `delete chain ${T} np_a_in`,
      `add chain ${T} np_a_in { comment "np:a renamed"; }`,
      `add rule ${T} np_a_in counter accept comment "np:a"`,
      `add rule ${T} ep_x_in jump np_a_in comment "j"`,
      `add rule ${T} ep_y_in jump np_a_in comment "j"`,
    ),
  },
  {
    name: 'a base chain priority changed: the full replace',
    prev: tiny(),
    next: tiny({ priority: 20 }),
    want: renderReplace(tiny({ priority: 20 })),
  },
];

describe('diffTables', () => {
  for (const c of CASES) {
    it(c.name, () => {
      assert.equal(diffTables(c.prev, c.next), c.want);
      if (!c.want.startsWith('table ')) {
        assert.deepEqual(new FakeKernel(c.prev).apply(c.want).model(), new FakeKernel(c.next).model());
      }
    });
  }
  it('a set whose flags changed is deleted and added again, after the rule using it is flushed', () => {
    const prev = tiny();
    const use = createRule({
      matches: [{ kind: 'addr-in-set', field: 'saddr', family: 4, set: 's4' }],
      comment: 'u',
    });
    const withUse = (t: Table, interval: boolean): Table => ({
      ...t,
      sets: [createSet({ name: 's4', type: 'ipv4_addr', interval, elements: ['10.0.0.1'] })],
      chains: t.chains.map((c) =>
        c.name === 'ep_y_in' ? createChain(c.name, [use, createRule({ verdict: drop, comment: 'd' })]) : c,
      ),
    });
    const script = diffTables(withUse(prev, false), withUse(prev, true));
    assert.equal(
      script,
      lines(
        `flush chain ${T} ep_y_in`,
        `delete set ${T} s4`,
        `add set ${T} s4 { type ipv4_addr; flags interval; }`,
        `add element ${T} s4 { 10.0.0.1 }`,
        `add rule ${T} ep_y_in ${renderRule(use)}`,
        `add rule ${T} ep_y_in counter drop comment "d"`,
      ),
    );
  });
});

describe('diffTables on random cluster changes', () => {
  const totals = new Map<string, number>();
  for (let seed = 1; seed <= 30; seed++) {
    it(`seed ${seed}`, () => {
      const before = randomCluster(seed, { pods: 12 + seed, policies: 3 + (seed % 7) });
      const after = mutate(before, seed * 7919);
      for (const node of ['node-1', 'node-2']) {
        const [prev, next] = [table(before, node), table(after, node)];
        const script = diffTables(prev, next);
        assert.deepEqual(new FakeKernel(prev).apply(script).model(), new FakeKernel(next).model());
        assert.equal(diffTables(next, next), '');
        checkSummary(prev, next, script);
        for (const [k, v] of Object.entries(diffSummary(prev, next)))
          totals.set(k, (totals.get(k) ?? 0) + Number(v));
        const deleted = new Set([...script.matchAll(/^delete chain \S+ \S+ (\S+)/gm)].map((x) => x[1]));
        const redefined = [...script.matchAll(/^add chain \S+ \S+ (\S+)/gm)].filter((x) => deleted.has(x[1]));
        totals.set('chainsRedefined', (totals.get('chainsRedefined') ?? 0) + redefined.length);
      }
    });
  }
  it('the random changes exercise every kind of step', () => {
    assert.deepEqual(
      [...totals].filter(([k, v]) => k !== 'fullReplace' && v === 0),
      [],
    );
  });
});

function checkSummary(prev: Table, next: Table, script: string): void {
  const s = diffSummary(prev, next);
  const elements = (t: Table) => t.sets.reduce((n, x) => n + x.elements.length, 0);
  assert.equal(s.fullReplace, false);
  assert.equal(s.setsAdded - s.setsRemoved, next.sets.length - prev.sets.length);
  assert.equal(s.chainsAdded - s.chainsRemoved, next.chains.length - prev.chains.length);
  assert.equal(s.elementsAdded - s.elementsRemoved, elements(next) - elements(prev));
  const count = (re: RegExp) => script.split('\n').filter((l) => re.test(l)).length;
  assert.equal(s.chainsAdded, count(/^add chain /));
  assert.equal(s.chainsRemoved, count(/^delete chain /));
  assert.equal(s.chainsRewritten + s.chainsRemoved, count(/^flush chain /));
  assert.equal(s.setsAdded, count(/^add set /));
  assert.equal(s.setsRemoved, count(/^delete set /));
  assert.equal(
    Object.values(s).some((v) => v !== 0 && v !== false),
    script !== '',
  );
}

interface ChainModel {
  comment?: string;
  base?: string;
  rules: string[];
}

/** The kernel's objects as plain data, strict about references as the kernel is. Understands diffTables' lines. */
class FakeKernel {
  sets = new Map<string, { spec: string; elements: Set<string> }>();
  maps = new Map<string, Map<string, string>>();
  chains = new Map<string, ChainModel>();

  constructor(t: Table) {
    for (const s of t.sets)
      this.sets.set(s.name, { spec: setSpec(s.type, s.interval, s.comment), elements: new Set(s.elements) });
    for (const m of t.maps)
      this.maps.set(m.name, new Map(m.elements.map((e) => [`"${e.key}"`, renderVerdict(e.verdict)])));
    for (const c of t.chains) {
      const base = c.base && `${c.base.hook} ${c.base.priority} ${c.base.policy}`;
      this.chains.set(c.name, { comment: c.comment, base, rules: c.rules.map(renderRule) });
    }
  }

  model() {
    const sorted = <V>(m: Map<string, V>, f: (v: V) => unknown) => [...m].map(([k, v]) => [k, f(v)]).sort();
    return {
      sets: sorted(this.sets, (s) => [s.spec, [...s.elements].sort()]),
      maps: sorted(this.maps, (m) => [...m].sort()),
      chains: sorted(this.chains, (c) => c),
    };
  }

  apply(script: string): this {
    if (script.startsWith('table ')) throw new Error('a full replace, not a diff');
    for (const line of script.split('\n').filter(Boolean)) this.step(line);
    return this;
  }

  private step(line: string): void {
    const m = /^(add|delete|flush) (element|set|map|chain|rule) inet palisade (\S+) ?(.*)$/.exec(line);
    assert.ok(m, `unknown line: ${line}`);
    const [, op, kind, name, rest] = m as unknown as [string, string, string, string, string];
    const what = `${op} ${kind} ${name}`;
    if (kind === 'element') this.element(op, name, braces(rest));
    else if (kind === 'rule') {
      this.checkRefs(rest, what);
      this.chain(name, what).rules.push(rest);
    } else if (op === 'flush') this.chain(name, what).rules = [];
    else if (op === 'delete') this.remove(kind, name, what);
    else this.create(kind, name, braces(rest), what);
  }

  private create(kind: string, name: string, spec: string[], what: string): void {
    const taken = kind === 'chain' ? this.chains.has(name) : this.sets.has(name) || this.maps.has(name);
    assert.ok(!taken, `${what}: exists`);
    if (kind === 'set') this.sets.set(name, { spec: parseSetSpec(spec), elements: new Set() });
    if (kind === 'map') this.maps.set(name, new Map());
    if (kind === 'chain') this.chains.set(name, parseChainSpec(spec));
  }

  private chain(name: string, what: string): ChainModel {
    const c = this.chains.get(name);
    assert.ok(c, `${what}: no such chain`);
    return c;
  }

  private checkRefs(text: string, what: string): void {
    for (const [, s] of text.matchAll(/@(\w+)/g))
      assert.ok(this.sets.has(s!) || this.maps.has(s!), `${what}: no set ${s}`);
    for (const [, c] of text.matchAll(/\b(?:jump|goto) (\w+)/g))
      assert.ok(this.chains.has(c!), `${what}: no chain ${c}`);
  }

  private referenced(re: RegExp): boolean {
    const verdicts = [...this.maps.values()].flatMap((m) => [...m.values()]);
    return (
      [...this.chains.values()].some((c) => c.rules.some((r) => re.test(r))) ||
      verdicts.some((v) => re.test(v))
    );
  }

  private remove(kind: string, name: string, what: string): void {
    if (kind === 'chain') {
      assert.equal(this.chain(name, what).rules.length, 0, `${what}: chain not flushed`);
      assert.ok(!this.referenced(new RegExp(`\\b(jump|goto) ${name}\\b`)), `${what}: still jumped to`);
      this.chains.delete(name);
      return;
    }
    const store = kind === 'set' ? this.sets : this.maps;
    assert.ok(store.has(name), `${what}: no such ${kind}`);
    assert.ok(!this.referenced(new RegExp(`@${name}\\b`)), `${what}: still referenced`);
    store.delete(name);
  }

  private element(op: string, name: string, items: string[]): void {
    const what = `${op} element ${name}`;
    assert.ok(items.length > 0, `${what}: empty`);
    const map = this.maps.get(name);
    const set = this.sets.get(name);
    for (const item of items) {
      if (map) {
        const [key, verdict] = item.split(' : ') as [string, string | undefined];
        assert.equal(map.has(key), op === 'delete', `${what}: ${key}`);
        if (verdict) this.checkRefs(verdict, what);
        if (op === 'delete') map.delete(key);
        else map.set(key, verdict!);
      } else {
        assert.ok(set, `${what}: no such set`);
        assert.equal(set.elements.has(item), op === 'delete', `${what}: ${item}`);
        if (op === 'delete') set.elements.delete(item);
        else set.elements.add(item);
      }
    }
  }
}

function braces(text: string): string[] {
  const inner = /^\{ (.*) \}$/.exec(text)?.[1];
  return inner === undefined ? [] : inner.split(/, |; ?/).filter(Boolean);
}

function setSpec(type: string, interval: boolean, comment?: string): string {
  return `${type}|${interval}|${comment ?? ''}`;
}

function parseSetSpec(spec: string[]): string {
  const type = spec.find((s) => s.startsWith('type '))!.slice(5);
  const comment = spec.find((s) => s.startsWith('comment '))?.slice(9, -1);
  return setSpec(type, spec.includes('flags interval'), comment);
}

function parseChainSpec(spec: string[]): ChainModel {
  const comment = spec.find((s) => s.startsWith('comment '))?.slice(9, -1);
  const hook = spec.find((s) => s.startsWith('type filter hook '))?.split(' ');
  const policy = spec.find((s) => s.startsWith('policy '))?.slice(7);
  return { comment, base: hook && `${hook[3]} ${hook[5]} ${policy}`, rules: [] };
}
