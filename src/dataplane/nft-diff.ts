// prev table → next table as ONE script for `nft -f -`, which nft commits as one transaction. Pure.
//
// Only what changed is written: set and map elements one by one (cheap in the kernel, machine.md §4), and a
// chain's rules only when they changed (flush + add rule; the kernel rebuilds that chain's blob, not the others).
//
// Ordering: nothing may refer to an object that does not exist yet, and nothing referred to may be deleted.
//    1. flush chain      prev chains that are removed, redefined (comment changed) or rewritten (rules changed,
//                        or a rule refers to a set, map or chain deleted below): drops their jumps and @set uses
//    2. delete element   map keys that are gone, changed verdict, or goto a chain deleted below
//    3. delete map       removed maps (nothing refers to them after 1)
//    4. delete chain     removed and redefined chains (no rule after 1, no map key after 2 and 3 jumps to them)
//    5. delete set       removed sets, and sets whose type, flags or comment changed
//    6. delete element   element changes of kept sets, deletes before adds (interval sets reject overlaps)
//       add element
//    7. add set          new and redefined sets, then their elements
//    8. add map          new maps, empty
//    9. add chain        new and redefined chains, all declared before any rule, so jumps between them in any
//                        order resolve
//   10. add rule         every rule of the new, redefined and rewritten chains, in order
//   11. add element      map keys new, changed or re-pointed: their target chains exist by now
// What cannot change in place (a base chain's hook, priority or policy; another table) falls back to the full
// replace of nft-render.ts. Rewritten chains start their rule counters at zero again.
import type { Chain, NamedSet, Rule, Table, Verdict, VerdictMap } from '../ir/ir.js';
import { setChangeFrom } from '../ir/set-change.js';
import { quote, renderReplace, renderRule, renderVerdict } from './nft-render.js';

type MapElement = VerdictMap['elements'][number];

export interface SetDelta {
  readonly name: string;
  readonly del: readonly string[];
  readonly add: readonly string[];
}

export interface MapDelta {
  readonly name: string;
  readonly del: readonly string[];
  readonly add: readonly MapElement[];
}

/** What diffTables writes, step by step (see the ordering above). */
export interface DiffPlan {
  readonly fullReplace: boolean;
  readonly flush: readonly string[];
  readonly maps: readonly MapDelta[];
  readonly mapsRemoved: readonly string[];
  readonly chainsRemoved: readonly string[];
  readonly setsRemoved: readonly string[];
  readonly sets: readonly SetDelta[];
  readonly setsAdded: readonly NamedSet[];
  readonly mapsAdded: readonly VerdictMap[];
  readonly chainsAdded: readonly Chain[];
  readonly chainsRewritten: readonly Chain[];
}

export interface DiffSummary {
  readonly fullReplace: boolean;
  readonly setsAdded: number;
  readonly setsRemoved: number;
  readonly elementsAdded: number;
  readonly elementsRemoved: number;
  readonly chainsAdded: number;
  readonly chainsRemoved: number;
  readonly chainsRewritten: number;
  readonly mapElementsChanged: number;
}

const NOTHING: DiffPlan = {
  fullReplace: false,
  flush: [],
  maps: [],
  mapsRemoved: [],
  chainsRemoved: [],
  setsRemoved: [],
  sets: [],
  setsAdded: [],
  mapsAdded: [],
  chainsAdded: [],
  chainsRewritten: [],
};

function byName<T extends { readonly name: string }>(xs: Iterable<T>): Map<string, T> {
  const m = new Map<string, T>();
  for (const x of xs) m.set(x.name, x);
  return m;
}

/**
 * The objects of `prev` and of `next` that are not in the other, by name. The compiler hands back the very same
 * object for whatever it did not touch, so at 10k pods most of a table is skipped by identity here, and only
 * what is left is matched by name.
 */
interface Changed<T> {
  readonly before: Map<string, T>;
  readonly after: Map<string, T>;
}

function changedByName<T extends { readonly name: string }>(
  prev: readonly T[],
  next: readonly T[],
): Changed<T> {
  const inPrev = new Set(prev);
  const inNext = new Set(next);
  return {
    before: byName(prev.filter((x) => !inNext.has(x))),
    after: byName(next.filter((x) => !inPrev.has(x))),
  };
}

function sameBase(a: Chain, b: Chain): boolean {
  if (a.base === b.base) return true; // the compiler's base chains are constants: this is the usual answer
  return JSON.stringify(a.base ?? null) === JSON.stringify(b.base ?? null);
}

function needsFullReplace(prev: Table, next: Table, chains: Changed<Chain>): boolean {
  if (prev.family !== next.family || prev.name !== next.name) return true;
  for (const c of chains.after.values()) {
    const p = chains.before.get(c.name);
    if (p !== undefined && !sameBase(p, c)) return true;
  }
  return false;
}

function sameSetShape(a: NamedSet, b: NamedSet): boolean {
  return a.type === b.type && a.interval === b.interval && a.comment === b.comment;
}

function sameRules(a: Chain, b: Chain): boolean {
  if (a === b || a.rules === b.rules) return true;
  return (
    a.rules.length === b.rules.length && a.rules.every((r, i) => renderRule(r) === renderRule(b.rules[i]!))
  );
}

function minus<T>(xs: readonly T[], ys: ReadonlySet<T>): T[] {
  return [...new Set(xs)].filter((x) => !ys.has(x));
}

/** Sets: kept ones change element by element; a changed type, flags or comment means delete and add. */
function diffSets(prev: readonly NamedSet[], next: readonly NamedSet[]) {
  const { before, after } = changedByName(prev, next);
  const changed = [...after.values()];
  const redefined = changed.filter((s) => {
    const p = before.get(s.name);
    return p !== undefined && !sameSetShape(p, s);
  });
  const gone = new Set(
    [...[...before.values()].filter((s) => !after.has(s.name)), ...redefined].map((s) => s.name),
  );
  const added = changed.filter((s) => !before.has(s.name) || gone.has(s.name));
  const deltas = changed.flatMap((s): SetDelta[] => {
    const p = before.get(s.name);
    if (!p || gone.has(s.name)) return [];
    // The compiler also says what it added and deleted, when it built this set from exactly the previous one.
    const known = setChangeFrom(p, s);
    const del = known ? known.del : minus(p.elements, new Set(s.elements));
    const add = known ? known.add : minus(s.elements, new Set(p.elements));
    return del.length + add.length > 0 ? [{ name: s.name, del, add }] : [];
  });
  return { gone, added, deltas };
}

function target(v: Verdict): string | undefined {
  return v.kind === 'jump' || v.kind === 'goto' ? v.chain : undefined;
}

/** Whether a rule refers to one of the sets/maps or chains about to be deleted. */
function refersTo(r: Rule, setsGone: ReadonlySet<string>, chainsGone: ReadonlySet<string>): boolean {
  const chain = r.verdict && target(r.verdict);
  if (chain !== undefined && chainsGone.has(chain)) return true;
  if (r.vmap && setsGone.has(r.vmap.map)) return true;
  return r.matches.some(
    (m) => (m.kind === 'addr-in-set' || m.kind === 'daddr-proto-port-in-set') && setsGone.has(m.set),
  );
}

/** Map keys: delete those gone, changed or pointing at a deleted chain; add those new, changed or re-pointed. */
function diffMapElements(prev: VerdictMap | undefined, next: VerdictMap, chainsGone: ReadonlySet<string>) {
  const before = new Map((prev?.elements ?? []).map((e) => [e.key, renderVerdict(e.verdict)]));
  const after = new Map(next.elements.map((e) => [e.key, renderVerdict(e.verdict)]));
  const stale = (e: MapElement) => {
    const t = target(e.verdict);
    return after.get(e.key) !== before.get(e.key) || (t !== undefined && chainsGone.has(t));
  };
  const del = (prev?.elements ?? []).filter(stale).map((e) => e.key);
  const add = next.elements.filter((e) => !before.has(e.key) || stale(e));
  return { del, add };
}

function diffMaps(prev: readonly VerdictMap[], next: readonly VerdictMap[], chainsGone: ReadonlySet<string>) {
  const before = byName(prev);
  const after = byName(next);
  const removed = prev.filter((m) => !after.has(m.name)).map((m) => m.name);
  const added = next.filter((m) => !before.has(m.name));
  const deltas = next.flatMap((m): MapDelta[] => {
    const { del, add } = diffMapElements(before.get(m.name), m, chainsGone);
    return del.length + add.length > 0 ? [{ name: m.name, del, add }] : [];
  });
  return { removed, added, deltas };
}

/** Chains: removed, redefined (comment changed: delete and add) or rewritten (flush and add rules). */
function diffChains(next: Table, { before, after }: Changed<Chain>, setsGone: ReadonlySet<string>) {
  const gone = new Set(
    [...before.values()]
      .filter((c) => !after.has(c.name) || after.get(c.name)!.comment !== c.comment)
      .map((c) => c.name),
  );
  const added = [...after.values()].filter((c) => !before.has(c.name) || gone.has(c.name));
  const refers = setsGone.size > 0 || gone.size > 0;
  const rewritten = next.chains.filter((c) => {
    if (gone.has(c.name)) return false;
    // A chain not in `after` is the very object of prev; one in `after` but not in `before` is new.
    const p = after.has(c.name) ? before.get(c.name) : c;
    if (!p) return false;
    if (!sameRules(p, c)) return true;
    return refers && p.rules.some((r) => refersTo(r, setsGone, gone));
  });
  return { gone, added, rewritten };
}

/** The steps that turn prev into next; empty when they are equal. */
export function planDiff(prev: Table, next: Table): DiffPlan {
  const chainChanges = changedByName(prev.chains, next.chains);
  if (needsFullReplace(prev, next, chainChanges)) return { ...NOTHING, fullReplace: true };
  const sets = diffSets(prev.sets, next.sets);
  const mapNames = new Set(next.maps.map((m) => m.name));
  const setsGone = new Set([
    ...sets.gone,
    ...prev.maps.filter((m) => !mapNames.has(m.name)).map((m) => m.name),
  ]);
  const chains = diffChains(next, chainChanges, setsGone);
  const maps = diffMaps(prev.maps, next.maps, chains.gone);
  const rewritten = new Set(chains.rewritten.map((c) => c.name));
  return {
    fullReplace: false,
    flush: prev.chains.filter((c) => chains.gone.has(c.name) || rewritten.has(c.name)).map((c) => c.name),
    maps: maps.deltas,
    mapsRemoved: maps.removed,
    chainsRemoved: [...chains.gone],
    setsRemoved: [...sets.gone],
    sets: sets.deltas,
    setsAdded: sets.added,
    mapsAdded: maps.added,
    chainsAdded: chains.added,
    chainsRewritten: chains.rewritten,
  };
}

export function isEmptyPlan(p: DiffPlan): boolean {
  return !p.fullReplace && Object.values(p).every((v) => !Array.isArray(v) || v.length === 0);
}

function elementLine(op: 'add' | 'delete', t: string, name: string, items: readonly string[]): string[] {
  return items.length > 0 ? [`${op} element ${t} ${name} { ${items.join(', ')} }`] : [];
}

function setDeclaration(t: string, s: NamedSet): string[] {
  const spec = [`type ${s.type};`];
  if (s.interval) spec.push('flags interval;');
  if (s.comment) spec.push(`comment ${quote(s.comment)};`);
  return [`add set ${t} ${s.name} { ${spec.join(' ')} }`, ...elementLine('add', t, s.name, s.elements)];
}

function chainDeclaration(t: string, c: Chain): string {
  const spec: string[] = [];
  if (c.comment) spec.push(`comment ${quote(c.comment)};`);
  if (c.base) {
    spec.push(`type filter hook ${c.base.hook} priority ${c.base.priority}; policy ${c.base.policy};`);
  }
  return spec.length > 0 ? `add chain ${t} ${c.name} { ${spec.join(' ')} }` : `add chain ${t} ${c.name}`;
}

const mapItem = (e: MapElement) => `${quote(e.key)} : ${renderVerdict(e.verdict)}`;

/** The plan as nft text, in the order documented at the top. */
export function renderPlan(p: DiffPlan, next: Table): string {
  if (p.fullReplace) return renderReplace(next);
  if (isEmptyPlan(p)) return '';
  const t = `${next.family} ${next.name}`;
  const lines = [
    ...p.flush.map((c) => `flush chain ${t} ${c}`),
    ...p.maps.flatMap((m) => elementLine('delete', t, m.name, m.del.map(quote))),
    ...p.mapsRemoved.map((m) => `delete map ${t} ${m}`),
    ...p.chainsRemoved.map((c) => `delete chain ${t} ${c}`),
    ...p.setsRemoved.map((s) => `delete set ${t} ${s}`),
    ...p.sets.flatMap((s) => [
      ...elementLine('delete', t, s.name, s.del),
      ...elementLine('add', t, s.name, s.add),
    ]),
    ...p.setsAdded.flatMap((s) => setDeclaration(t, s)),
    ...p.mapsAdded.map((m) => `add map ${t} ${m.name} { type ifname : verdict; }`),
    ...p.chainsAdded.map((c) => chainDeclaration(t, c)),
    ...[...p.chainsAdded, ...p.chainsRewritten].flatMap((c) =>
      c.rules.map((r) => `add rule ${t} ${c.name} ${renderRule(r)}`),
    ),
    ...p.maps.flatMap((m) => elementLine('add', t, m.name, m.add.map(mapItem))),
  ];
  return `${lines.join('\n')}\n`;
}

/** One nft script (one transaction) that turns prev into next with the least kernel work; '' when equal. */
export function diffTables(prev: Table, next: Table): string {
  return renderPlan(planDiff(prev, next), next);
}

const countElements = (sets: readonly NamedSet[]) => sets.reduce((n, s) => n + new Set(s.elements).size, 0);

/** Counts for metrics and logs. A full replace counts everything as removed and added. */
export function summarisePlan(p: DiffPlan, prev: Table, next: Table): DiffSummary {
  if (p.fullReplace) {
    const mapElements = [...prev.maps, ...next.maps].reduce((n, m) => n + m.elements.length, 0);
    return {
      fullReplace: true,
      setsAdded: next.sets.length,
      setsRemoved: prev.sets.length,
      elementsAdded: countElements(next.sets),
      elementsRemoved: countElements(prev.sets),
      chainsAdded: next.chains.length,
      chainsRemoved: prev.chains.length,
      chainsRewritten: 0,
      mapElementsChanged: mapElements,
    };
  }
  const removed = new Set(p.setsRemoved);
  const sum = (xs: readonly SetDelta[], f: (d: SetDelta) => number) => xs.reduce((n, d) => n + f(d), 0);
  return {
    fullReplace: false,
    setsAdded: p.setsAdded.length,
    setsRemoved: p.setsRemoved.length,
    elementsAdded: countElements(p.setsAdded) + sum(p.sets, (d) => d.add.length),
    elementsRemoved:
      countElements(prev.sets.filter((s) => removed.has(s.name))) + sum(p.sets, (d) => d.del.length),
    chainsAdded: p.chainsAdded.length,
    chainsRemoved: p.chainsRemoved.length,
    chainsRewritten: p.chainsRewritten.length,
    mapElementsChanged: p.maps.reduce((n, m) => n + new Set([...m.del, ...m.add.map((e) => e.key)]).size, 0),
  };
}

export function diffSummary(prev: Table, next: Table): DiffSummary {
  return summarisePlan(planDiff(prev, next), prev, next);
}
