// Parses `conntrack -L -o extended` (conntrack-tools 1.4.x): one entry per line, the layer-3 family spelled out
// first, then the layer-4 protocol, timeout, optional state and key=value fields: the ORIGINAL tuple, then the
// REPLY tuple (the same keys again), flags in brackets, mark=, zone= (only when not 0), use=. The default format
// (without the family columns) is accepted too. Only TCP, UDP and SCTP entries are returned. Pure.
import type { Protocol } from '../model/k8s.js';

export interface ConntrackTuple {
  readonly src: string;
  readonly dst: string;
  readonly sport: number;
  readonly dport: number;
}

export interface ConntrackEntry {
  readonly family: 4 | 6;
  readonly protocol: Protocol;
  /** TCP/SCTP state (ESTABLISHED, TIME_WAIT...); absent for UDP. */
  readonly state?: string;
  readonly original: ConntrackTuple;
  readonly reply: ConntrackTuple;
  readonly assured: boolean;
  readonly unreplied: boolean;
  readonly mark: number;
  /** The conntrack zone; 0 when the line does not name one. */
  readonly zone: number;
}

const PROTOCOLS: Readonly<Record<string, Protocol>> = { tcp: 'TCP', udp: 'UDP', sctp: 'SCTP' };
const TUPLE_KEYS = ['src', 'dst', 'sport', 'dport'] as const;

interface Fields {
  tuples: Partial<Record<(typeof TUPLE_KEYS)[number], string>>[];
  flags: Set<string>;
  mark: number;
  zone: number;
}

function readFields(tokens: readonly string[]): Fields {
  const out: Fields = { tuples: [{}], flags: new Set(), mark: 0, zone: 0 };
  for (const t of tokens) {
    if (t.startsWith('[') && t.endsWith(']')) {
      out.flags.add(t.slice(1, -1));
      continue;
    }
    const eq = t.indexOf('=');
    if (eq < 0) continue;
    const key = t.slice(0, eq);
    const value = t.slice(eq + 1);
    if ((TUPLE_KEYS as readonly string[]).includes(key)) {
      const k = key as (typeof TUPLE_KEYS)[number];
      let cur = out.tuples[out.tuples.length - 1]!;
      if (cur[k] !== undefined) {
        cur = {};
        out.tuples.push(cur);
      }
      cur[k] = value;
    } else if (key === 'mark') out.mark = Number(value);
    else if (key === 'zone') out.zone = Number(value);
  }
  return out;
}

function toTuple(t: Fields['tuples'][number] | undefined): ConntrackTuple | undefined {
  if (!t?.src || !t.dst || t.sport === undefined || t.dport === undefined) return undefined;
  const sport = Number(t.sport);
  const dport = Number(t.dport);
  if (!Number.isInteger(sport) || !Number.isInteger(dport)) return undefined;
  return { src: t.src, dst: t.dst, sport, dport };
}

/** One line; undefined for lines that are not a TCP/UDP/SCTP entry (ICMP, summaries, blank). */
export function parseConntrackLine(line: string): ConntrackEntry | undefined {
  let tokens = line.trim().split(/\s+/);
  if (tokens[0] === 'ipv4' || tokens[0] === 'ipv6') tokens = tokens.slice(2);
  const protocol = PROTOCOLS[tokens[0] ?? ''];
  if (!protocol) return undefined;
  // tokens[1] is the protocol number, tokens[2] the timeout; a state follows for TCP and SCTP.
  const rest = tokens.slice(3);
  const state = rest[0] && /^[A-Z_]+$/.test(rest[0]) ? rest[0] : undefined;
  const f = readFields(state ? rest.slice(1) : rest);
  const original = toTuple(f.tuples[0]);
  const reply = toTuple(f.tuples[1]);
  if (!original || !reply) return undefined;
  return {
    family: original.src.includes(':') ? 6 : 4,
    protocol,
    ...(state ? { state } : {}),
    original,
    reply,
    assured: f.flags.has('ASSURED'),
    unreplied: f.flags.has('UNREPLIED'),
    mark: Number.isFinite(f.mark) ? f.mark : 0,
    zone: Number.isFinite(f.zone) ? f.zone : 0,
  };
}

export function parseConntrack(text: string): ConntrackEntry[] {
  return text.split('\n').flatMap((l) => {
    const e = parseConntrackLine(l);
    return e ? [e] : [];
  });
}
