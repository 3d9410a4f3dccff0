// IR → nftables text for `nft -f -`. Pure: tested as exact text (golden files), applied elsewhere.
import type { Chain, Match, NamedSet, Rule, Table, Verdict, VerdictMap } from '../ir/ir.js';

const TAB = '\t';

/** The string nft stores for quote(s): what its quoting cannot carry is replaced. */
export function stringValue(s: string): string {
  return s.replace(/["\\]/g, '_');
}

export function quote(s: string): string {
  return `"${stringValue(s)}"`;
}

export function renderVerdict(v: Verdict): string {
  switch (v.kind) {
    case 'accept':
    case 'drop':
    case 'return':
      return v.kind;
    case 'jump':
    case 'goto':
      return `${v.kind} ${v.chain}`;
  }
}

const hex32 = (n: number) => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;

function ip(family: 4 | 6): string {
  return family === 4 ? 'ip' : 'ip6';
}

export function renderMatch(m: Match): string {
  switch (m.kind) {
    case 'ct-state':
      return m.states.length === 1 ? `ct state ${m.states[0]}` : `ct state { ${m.states.join(', ')} }`;
    case 'addr-in-set':
      return `${ip(m.family)} ${m.field} ${m.negate ? '!= ' : ''}@${m.set}`;
    case 'daddr-local':
      return 'fib daddr type local';
    case 'ifname-in-set':
      return `${m.field} ${m.negate ? '!= ' : ''}@${m.set}`;
    case 'ifname':
      return `${m.field} ${m.negate ? '!= ' : ''}${quote(m.name)}`;
    case 'l4proto-number':
      return `meta l4proto ${m.negate ? '!= ' : ''}${m.number}`;
    case 'port': {
      const items = m.ports.map((r) => (r.from === r.to ? String(r.from) : `${r.from}-${r.to}`));
      return `th ${m.field} ${m.negate ? '!= ' : ''}{ ${items.join(', ')} }`;
    }
    case 'icmp':
      return `${m.family === 4 ? 'icmp' : 'icmpv6'} ${m.field} ${m.negate ? '!= ' : ''}${m.value}`;
    case 'family':
      return `meta nfproto ${m.family === 4 ? 'ipv4' : 'ipv6'}`;
    case 'l4proto':
      return `meta l4proto ${m.protocol.toLowerCase()}`;
    case 'dport': {
      const items = m.ports.map((r) => (r.from === r.to ? String(r.from) : `${r.from}-${r.to}`));
      return items.length === 1 ? `th dport ${items[0]}` : `th dport { ${items.join(', ')} }`;
    }
    case 'dport-in-set':
      return `th dport @${m.set}`;
    case 'tcp-not-syn':
      return 'tcp flags & (fin | syn | rst | ack) != syn';
    case 'daddr-proto-port-in-set':
      return `${ip(m.family)} daddr . meta l4proto . th dport @${m.set}`;
    case 'mark-bit':
      return `meta mark & ${hex32(m.bit)} ${m.set ? '!=' : '=='} 0`;
  }
}

export function renderRule(r: Rule): string {
  const parts = r.matches.map(renderMatch);
  if (r.counter) parts.push('counter');
  if (r.mark)
    parts.push(
      `meta mark set meta mark ${r.mark.set ? `| ${hex32(r.mark.bit)}` : `& ${hex32(~r.mark.bit)}`}`,
    );
  if (r.notrack) parts.push('notrack');
  if (r.log) parts.push(`log prefix ${quote(r.log.prefix)} group ${r.log.group}`);
  if (r.vmap) parts.push(`${r.vmap.key} vmap @${r.vmap.map}`);
  if (r.verdict) parts.push(renderVerdict(r.verdict));
  parts.push(`comment ${quote(r.comment)}`);
  return parts.join(' ');
}

function renderSet(s: NamedSet): string[] {
  const lines = [`${TAB}set ${s.name} {`, `${TAB}${TAB}type ${s.type}`];
  if (s.interval) lines.push(`${TAB}${TAB}flags interval`);
  if (s.comment) lines.push(`${TAB}${TAB}comment ${quote(s.comment)}`);
  if (s.elements.length > 0) lines.push(`${TAB}${TAB}elements = { ${s.elements.join(', ')} }`);
  lines.push(`${TAB}}`);
  return lines;
}

function renderMap(m: VerdictMap): string[] {
  const lines = [`${TAB}map ${m.name} {`, `${TAB}${TAB}type ifname : verdict`];
  if (m.elements.length > 0) {
    const items = m.elements.map((e) => `${quote(e.key)} : ${renderVerdict(e.verdict)}`);
    lines.push(`${TAB}${TAB}elements = { ${items.join(', ')} }`);
  }
  lines.push(`${TAB}}`);
  return lines;
}

function renderChain(c: Chain): string[] {
  const lines = [`${TAB}chain ${c.name} {`];
  if (c.comment) lines.push(`${TAB}${TAB}comment ${quote(c.comment)}`);
  if (c.base) {
    lines.push(
      `${TAB}${TAB}type filter hook ${c.base.hook} priority ${c.base.priority}; policy ${c.base.policy};`,
    );
  }
  for (const r of c.rules) lines.push(`${TAB}${TAB}${renderRule(r)}`);
  lines.push(`${TAB}}`);
  return lines;
}

/** The table's full definition. Sets and maps come before the chains that refer to them. */
export function renderTable(t: Table): string {
  const body = [...t.sets.flatMap(renderSet), ...t.maps.flatMap(renderMap), ...t.chains.flatMap(renderChain)];
  return `table ${t.family} ${t.name} {\n${body.join('\n')}\n}\n`;
}

/**
 * One transaction that replaces the whole table: create it if missing (so the delete cannot fail), delete it,
 * define it anew. nft applies the file atomically: no packet sees a half-written or missing table.
 */
export function renderReplace(t: Table): string {
  return `table ${t.family} ${t.name}\ndelete table ${t.family} ${t.name}\n${renderTable(t)}`;
}
