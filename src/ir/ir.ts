// The node IR: what the compiler decides and the renderer writes, in nftables' own terms (table, chain, set,
// map, rule, verdict). Plain readonly data tagged with `kind`, built by the small create… functions. Pure.
import type { Protocol } from '../model/k8s.js';

export type Family = 4 | 6;

export type Verdict =
  | { readonly kind: 'accept' }
  | { readonly kind: 'drop' }
  | { readonly kind: 'return' }
  | { readonly kind: 'jump'; readonly chain: string }
  | { readonly kind: 'goto'; readonly chain: string };

export type CtState = 'established' | 'related' | 'invalid' | 'new';

export interface PortRange {
  readonly from: number;
  readonly to: number;
}

export type Match =
  /** ct state { ... } */
  | { readonly kind: 'ct-state'; readonly states: readonly CtState[] }
  /** ip saddr @set / ip6 daddr @set (also restricts the packet to that family). */
  | {
      readonly kind: 'addr-in-set';
      readonly field: 'saddr' | 'daddr';
      readonly family: Family;
      readonly set: string;
      /** ip saddr != @set: an address of that family NOT in the set (still only packets of that family). */
      readonly negate?: boolean;
    }
  /** meta nfproto ipv4|ipv6 */
  | { readonly kind: 'family'; readonly family: Family }
  /** meta l4proto tcp */
  | { readonly kind: 'l4proto'; readonly protocol: Protocol }
  /** meta l4proto 136 / meta l4proto != 6: a protocol by number, or every protocol but it. */
  | { readonly kind: 'l4proto-number'; readonly number: number; readonly negate: boolean }
  /** th sport { 53, 1000-2000 } / th dport != { 22 }: either port, in or not in inline ranges (needs l4proto). */
  | {
      readonly kind: 'port';
      readonly field: 'sport' | 'dport';
      readonly ports: readonly PortRange[];
      readonly negate: boolean;
    }
  /** icmp type 8 / icmpv6 code != 0: one field of an ICMP header (only packets of that ICMP protocol). */
  | {
      readonly kind: 'icmp';
      readonly family: Family;
      readonly field: 'type' | 'code';
      readonly value: number;
      readonly negate: boolean;
    }
  /** th dport { 80, 1000-2000 } (needs an l4proto match before it) */
  | { readonly kind: 'dport'; readonly ports: readonly PortRange[] }
  /** th dport @set: several ports or ranges, in a named set shared by every rule with the same list. */
  | { readonly kind: 'dport-in-set'; readonly set: string }
  /** tcp flags & (fin | syn | rst | ack) != syn: a TCP packet that cannot open a connection. */
  | { readonly kind: 'tcp-not-syn' }
  /** ip daddr . meta l4proto . th dport @set: named ports resolved per pod address. */
  | { readonly kind: 'daddr-proto-port-in-set'; readonly family: Family; readonly set: string }
  /** iifname @set / oifname != @set: the packet's interface among the set's (type ifname). */
  | {
      readonly kind: 'ifname-in-set';
      readonly field: 'iifname' | 'oifname';
      readonly set: string;
      readonly negate: boolean;
    }
  /** fib daddr type local: the packet is addressed to the node itself. */
  | { readonly kind: 'daddr-local' }
  /** iifname "lo" / oifname != "lo": the packet's interface by name. */
  | {
      readonly kind: 'ifname';
      readonly field: 'iifname' | 'oifname';
      readonly name: string;
      readonly negate: boolean;
    }
  /** meta mark & BIT != 0 (set) or == 0 (not set): one bit of the packet mark, as a rule before left it. */
  | { readonly kind: 'mark-bit'; readonly bit: number; readonly set: boolean };

/** meta mark set meta mark | BIT (set) or & ~BIT (clear): a bit a later rule reads. */
export interface MarkStatement {
  readonly bit: number;
  readonly set: boolean;
}

/** log group G prefix "...": a copy of the packet to NFLOG group G; the rule goes on (no verdict needed). */
export interface LogStatement {
  readonly group: number;
  readonly prefix: string;
}

export interface Rule {
  readonly kind: 'rule';
  readonly matches: readonly Match[];
  readonly verdict?: Verdict;
  /** Dispatch through a verdict map keyed by the packet's interface instead of a fixed verdict. */
  readonly vmap?: { readonly key: 'iifname' | 'oifname'; readonly map: string };
  readonly counter: boolean;
  /** Changes a bit of the packet mark when the rule matches, before its verdict. */
  readonly mark?: MarkStatement;
  /** notrack: no conntrack entry for the packet (only in a chain that runs before conntrack, priority -300). */
  readonly notrack?: boolean;
  /** Sends the packet to NFLOG when the rule matches (Calico's Log action). */
  readonly log?: LogStatement;
  /** Origin of the rule, e.g. "np:shop/allow-web:ingress[0]". */
  readonly comment: string;
}

export type Hook = 'prerouting' | 'input' | 'forward' | 'output';

export interface BaseHook {
  readonly hook: Hook;
  readonly priority: number;
  readonly policy: 'accept' | 'drop';
}

export interface Chain {
  readonly kind: 'chain';
  readonly name: string;
  readonly base?: BaseHook;
  readonly rules: readonly Rule[];
  readonly comment?: string;
}

export type SetType =
  | 'ifname'
  | 'inet_service'
  | 'ipv4_addr'
  | 'ipv6_addr'
  | 'ipv4_addr . inet_proto . inet_service'
  | 'ipv6_addr . inet_proto . inet_service';

/**
 * Set elements in canonical text: "10.0.0.1", "10.0.0.0/8" (interval sets), "10.0.0.1 . tcp . 80", and for ifname
 * sets the name as nft quotes it: "\"palweb\"".
 */
export interface NamedSet {
  readonly kind: 'set';
  readonly name: string;
  readonly type: SetType;
  readonly interval: boolean;
  readonly elements: readonly string[];
  readonly comment?: string;
}

export interface VerdictMap {
  readonly kind: 'map';
  readonly name: string;
  readonly key: 'ifname';
  /** Interface name → verdict (jump/goto an endpoint chain). */
  readonly elements: readonly { readonly key: string; readonly verdict: Verdict }[];
}

/** The table the agent owns in each node's network namespace. */
export const TABLE_NAME = 'palisade';

export interface Table {
  readonly kind: 'table';
  readonly family: 'inet';
  readonly name: string;
  readonly sets: readonly NamedSet[];
  readonly maps: readonly VerdictMap[];
  /**
   * In declaration order: every chain after each chain it jumps or goes to, directly or through a map. nft
   * resolves a jump when it reads it, so the renderer writes them in this order.
   */
  readonly chains: readonly Chain[];
}

export const accept: Verdict = { kind: 'accept' };
export const drop: Verdict = { kind: 'drop' };
export const jump = (chain: string): Verdict => ({ kind: 'jump', chain });
export const goto = (chain: string): Verdict => ({ kind: 'goto', chain });

export function createRule(opts: {
  matches?: readonly Match[];
  verdict?: Verdict;
  vmap?: Rule['vmap'];
  comment: string;
  counter?: boolean;
  mark?: MarkStatement;
  log?: LogStatement;
  notrack?: boolean;
}): Rule {
  return {
    kind: 'rule',
    matches: opts.matches ?? [],
    verdict: opts.verdict,
    vmap: opts.vmap,
    counter: opts.counter ?? true,
    ...(opts.mark ? { mark: opts.mark } : {}),
    ...(opts.log ? { log: opts.log } : {}),
    ...(opts.notrack ? { notrack: true } : {}),
    comment: opts.comment,
  };
}

export function createChain(
  name: string,
  rules: readonly Rule[],
  opts: { base?: BaseHook; comment?: string } = {},
): Chain {
  return { kind: 'chain', name, rules, base: opts.base, comment: opts.comment };
}

export function createSet(opts: Omit<NamedSet, 'kind'>): NamedSet {
  return { kind: 'set', ...opts, elements: [...opts.elements].sort() };
}
