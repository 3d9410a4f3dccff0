// Runs a packet through the IR the way the kernel runs it through the rendered table: base chains on the hook in
// priority order, accept ends a base chain, drop ends everything, jump returns, goto does not. Used to check the
// compiler against the reference semantics, and by the agent to judge which established connections a policy
// change now denies. Pure.
import { cidrContains, parseCidr, parseIp } from '../model/cidr.js';
import { PROTOCOL_NUMBERS, type Protocol } from '../model/k8s.js';
import type { Chain, CtState, Hook, Match, NamedSet, Rule, Table, Verdict } from './ir.js';

export interface Packet {
  readonly iifname: string;
  readonly oifname: string;
  readonly saddr: string;
  readonly daddr: string;
  readonly protocol: Protocol;
  readonly dport: number;
  /** The source port (default 0: a rule on source ports then matches only a range holding 0). */
  readonly sport?: number;
  /** The IP protocol number when it is not one of `protocol`'s (ICMP 1, ICMPv6 58, UDPLite 136...). */
  readonly l4proto?: number;
  /** ICMP type and code, for an ICMP or ICMPv6 packet. */
  readonly icmp?: { readonly type: number; readonly code: number };
  readonly ctState: CtState;
  /** For TCP: whether the packet can open a connection (a SYN). Default true: the first packet of a flow. */
  readonly tcpOpening?: boolean;
  /** Whether daddr is one of the node's own addresses (fib daddr type local). */
  readonly daddrLocal?: boolean;
  /** The packet mark as the hook gets it (default 0). */
  readonly mark?: number;
}

export interface PacketVerdict {
  readonly verdict: 'accept' | 'drop';
  /** Comments of the rules whose verdict was taken, outermost first (the trail of a decision). */
  readonly trail: readonly string[];
  /** Prefixes of the log statements the packet met, in order. */
  readonly logged: readonly string[];
  /** Whether a notrack statement took the packet out of connection tracking. */
  readonly untracked: boolean;
}

type Outcome = 'accept' | 'drop' | 'continue';

class Interpreter {
  private readonly chains: Map<string, Chain>;
  private readonly sets: Map<string, NamedSet>;
  private readonly maps: Map<string, Table['maps'][number]>;
  readonly trail: string[] = [];
  readonly logged: string[] = [];
  untracked = false;
  private mark: number;

  constructor(
    table: Table,
    private readonly pkt: Packet,
  ) {
    this.chains = new Map(table.chains.map((c) => [c.name, c]));
    this.sets = new Map(table.sets.map((s) => [s.name, s]));
    this.maps = new Map(table.maps.map((m) => [m.name, m]));
    this.mark = pkt.mark ?? 0;
  }

  private family(): 4 | 6 {
    return this.pkt.saddr.includes(':') ? 6 : 4;
  }

  private protoNumber(): number {
    return this.pkt.l4proto ?? PROTOCOL_NUMBERS[this.pkt.protocol];
  }

  private inSet(setName: string, value: string): boolean {
    const set = this.sets.get(setName);
    if (!set) throw new Error(`rule refers to missing set ${setName}`);
    if (!set.interval) return set.elements.includes(value);
    const addr = parseIp(value);
    return set.elements.some((e) => cidrContains(parseCidr(e), addr));
  }

  private portInSet(setName: string, port: number): boolean {
    const set = this.sets.get(setName);
    if (!set) throw new Error(`rule refers to missing set ${setName}`);
    return set.elements.some((e) => {
      const [from, to] = e.split('-').map(Number) as [number, number | undefined];
      return port >= from && port <= (to ?? from);
    });
  }

  private matches(m: Match): boolean {
    const p = this.pkt;
    switch (m.kind) {
      case 'ct-state':
        return m.states.includes(p.ctState);
      case 'family':
        return this.family() === m.family;
      case 'addr-in-set':
        return (
          this.family() === m.family &&
          this.inSet(m.set, m.field === 'saddr' ? p.saddr : p.daddr) !== (m.negate ?? false)
        );
      case 'l4proto':
        return p.l4proto === undefined && p.protocol === m.protocol;
      case 'l4proto-number':
        return (this.protoNumber() === m.number) !== m.negate;
      case 'port': {
        const port = m.field === 'sport' ? (p.sport ?? 0) : p.dport;
        return m.ports.some((r) => port >= r.from && port <= r.to) !== m.negate;
      }
      case 'icmp': {
        if (this.protoNumber() !== (m.family === 4 ? 1 : 58) || !p.icmp) return false;
        return (p.icmp[m.field] === m.value) !== m.negate;
      }
      case 'dport':
        return m.ports.some((r) => p.dport >= r.from && p.dport <= r.to);
      case 'dport-in-set':
        return this.portInSet(m.set, p.dport);
      case 'tcp-not-syn':
        // Packets here are the first of a connection (a SYN for TCP), also when conntrack entries are judged.
        return p.protocol === 'TCP' && p.tcpOpening === false;
      case 'daddr-proto-port-in-set':
        return (
          this.family() === m.family &&
          this.inSet(m.set, `${p.daddr} . ${p.protocol.toLowerCase()} . ${p.dport}`)
        );
      case 'daddr-local':
        return p.daddrLocal === true;
      case 'ifname-in-set': {
        const name = m.field === 'iifname' ? p.iifname : p.oifname;
        return this.inSet(m.set, `"${name}"`) !== m.negate;
      }
      case 'ifname':
        return ((m.field === 'iifname' ? p.iifname : p.oifname) === m.name) !== m.negate;
      case 'mark-bit':
        return ((this.mark & m.bit) !== 0) === m.set;
    }
  }

  private verdictOf(r: Rule): Verdict | undefined {
    if (!r.vmap) return r.verdict;
    const map = this.maps.get(r.vmap.map);
    if (!map) throw new Error(`rule refers to missing map ${r.vmap.map}`);
    const key = r.vmap.key === 'iifname' ? this.pkt.iifname : this.pkt.oifname;
    return map.elements.find((e) => e.key === key)?.verdict;
  }

  /** Runs a chain; 'continue' means it fell off the end or returned. */
  run(chainName: string, depth = 0): Outcome {
    if (depth > 16) throw new Error(`chain nesting too deep at ${chainName}`);
    const chain = this.chains.get(chainName);
    if (!chain) throw new Error(`jump to missing chain ${chainName}`);
    for (const rule of chain.rules) {
      if (!rule.matches.every((m) => this.matches(m))) continue;
      if (rule.log) this.logged.push(rule.log.prefix);
      if (rule.notrack) this.untracked = true;
      if (rule.mark) this.mark = rule.mark.set ? this.mark | rule.mark.bit : this.mark & ~rule.mark.bit;
      const v = this.verdictOf(rule);
      if (!v) continue;
      this.trail.push(rule.comment);
      if (v.kind === 'accept' || v.kind === 'drop') return v.kind;
      if (v.kind === 'return') return 'continue';
      const sub = this.run(v.chain, depth + 1);
      if (sub !== 'continue' || v.kind === 'goto') return sub;
    }
    return 'continue';
  }
}

/**
 * Runs a packet through the base chains of `hooks` in order (e.g. prerouting then input), each hook's chains by
 * priority; the mark carries from one to the next as in the kernel. Dropped anywhere: dropped.
 */
export function evaluatePacket(
  table: Table,
  pkt: Packet,
  hooks: readonly Hook[] = ['forward'],
): PacketVerdict {
  const interp = new Interpreter(table, pkt);
  const result = (verdict: 'accept' | 'drop'): PacketVerdict => ({
    verdict,
    trail: interp.trail,
    logged: interp.logged,
    untracked: interp.untracked,
  });
  for (const hook of hooks) {
    const bases = table.chains
      .filter((c) => c.base?.hook === hook)
      .sort((a, b) => a.base!.priority - b.base!.priority);
    for (const base of bases) {
      const out = interp.run(base.name);
      const final = out === 'continue' ? base.base!.policy : out;
      if (final === 'drop') return result('drop');
    }
  }
  return result('accept');
}
