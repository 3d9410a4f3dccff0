// What a node's charon says about its SAs (`swanctl --list-sas --raw`), parsed for status and for finding the
// connections a new config dropped (issue 12, part 2). Pure.
import { connectionName, type IpsecConfig } from './ipsec-plan.js';

const show = (v: unknown) => JSON.stringify(v);

export interface ConnectionSas {
  /** The state of the connection's current IKE_SA: the newest ESTABLISHED one, else the newest. */
  readonly ikeState: string;
  /** Seconds since that IKE_SA was established. */
  readonly establishedSeconds?: number;
  readonly remoteHost?: string;
  /** The states of that IKE_SA's CHILD_SAs (INSTALLED when traffic can pass). */
  readonly childStates: readonly string[];
  /** How many IKE_SAs the connection has (more than one: a duplicate, or one being replaced). */
  readonly ikeSas: number;
}

export type SaState = Readonly<Record<string, ConnectionSas>>;

type RawValue = string | readonly string[] | RawSection;
interface RawSection {
  readonly [key: string]: RawValue;
}

/** One `{ … }` of swanctl's raw output from just after its `{`: `key=value`, `key=[a b]` and `name { … }`. */
function parseRawSection(s: string, start: number): [RawSection, number] {
  const out: Record<string, RawValue> = Object.create(null); // keys come from charon: no prototype
  let i = start;
  const skip = () => {
    while (s[i] === ' ') i++;
  };
  const word = () => {
    const m = /^[^\s={}[\]]+/.exec(s.slice(i));
    if (!m) throw new Error(`swanctl --raw: unexpected ${show(s.slice(i, i + 20))} at ${i}`);
    i += m[0].length;
    return m[0];
  };
  for (;;) {
    skip();
    if (i >= s.length) throw new Error('swanctl --raw: unterminated section');
    if (s[i] === '}') return [out, i + 1];
    const key = word();
    skip();
    if (s[i] === '{') {
      const [sub, next] = parseRawSection(s, i + 1);
      out[key] = sub;
      i = next;
    } else if (s[i] === '=' && s[i + 1] === '[') {
      const end = s.indexOf(']', i);
      if (end < 0) throw new Error(`swanctl --raw: unterminated list ${key}`);
      out[key] = s
        .slice(i + 2, end)
        .split(' ')
        .filter(Boolean);
      i = end + 1;
    } else if (s[i] === '=') {
      i++;
      out[key] = /^[^\s{}]*/.exec(s.slice(i))![0];
      i += (out[key] as string).length;
    } else throw new Error(`swanctl --raw: ${show(key)} is followed by ${show(s[i] ?? 'the end')}`);
  }
}

const str = (v: RawValue | undefined) => (typeof v === 'string' ? v : undefined);
const sec = (v: RawValue | undefined) =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as RawSection) : {};

/**
 * `swanctl --list-sas --raw`: one `list-sa event {NAME {…}}` line per IKE_SA. IKE_SAs without a connection yet
 * ("(unnamed)", a peer's attempt being answered) are left out. Values are taken up to the next blank, which holds
 * for everything this module configures (address identities).
 */
export function parseListSas(text: string): SaState {
  const byName = new Map<string, { uniqueid: number; sa: RawSection }[]>();
  for (const line of text.split('\n')) {
    const m = /^list-sa event \{/.exec(line.trim());
    if (!m) continue;
    const [event] = parseRawSection(line.trim(), m[0].length);
    for (const [name, value] of Object.entries(event)) {
      if (name === '(unnamed)') continue;
      const sa = sec(value);
      const list = byName.get(name) ?? [];
      list.push({ uniqueid: Number(str(sa.uniqueid) ?? 0), sa });
      byName.set(name, list);
    }
  }
  const out: Record<string, ConnectionSas> = {};
  for (const [name, list] of byName) {
    const newest = [...list].sort((a, b) => b.uniqueid - a.uniqueid);
    const current = (newest.find((e) => str(e.sa.state) === 'ESTABLISHED') ?? newest[0]!).sa;
    const established = str(current.established);
    const remoteHost = str(current['remote-host']);
    out[name] = {
      ikeState: str(current.state) ?? 'UNKNOWN',
      ...(established !== undefined ? { establishedSeconds: Number(established) } : {}),
      ...(remoteHost !== undefined ? { remoteHost } : {}),
      childStates: Object.values(sec(current['child-sas'])).map((c) => str(sec(c).state) ?? 'UNKNOWN'),
      ikeSas: list.length,
    };
  }
  return out;
}

/** Connections with SAs in `state` that `config` no longer has (to terminate after a load). */
export function staleConnections(state: SaState, config: IpsecConfig): string[] {
  const wanted = new Set(config.peers.map((p) => connectionName(p.node)));
  return Object.keys(state).filter((name) => !wanted.has(name));
}
