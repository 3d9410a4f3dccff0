// nf_tables requests over netlink (<linux/netfilter/nf_tables.h>, libnftnl's rule userdata): chains, rules that
// are only a verdict (an endpoint chain's jumps and its final drop), set and map elements. Pure. What nft writes
// for the same script text, without libnftables: its cache of the table (every set and chain, refetched after each
// commit because the generation changed) costs 2-4 ms at 10k pods, these requests ~0.2 ms (docs/benchmarks.md).
// Rules with matches, base chains, comments on chains and interval sets stay libnftables' (nft-netlink-writer.ts
// decides). Integers in nf_tables attributes are big-endian.

import type { Rule, SetType, Verdict } from '../../ir/ir.js';
import { PROTOCOL_NUMBERS, PROTOCOLS, type Protocol } from '../../model/k8s.js';
import { stringValue } from '../nft-render.js';
import { NFNL_SUBSYS_NFTABLES, nfgen } from './nfnetlink.js';
import { attr, cstring, ipBytes, message, NLM_F, nested } from './rtnl.js';

const NFT_MSG = { newChain: 3, delChain: 5, newRule: 6, delRule: 8, newSetElem: 12, delSetElem: 14 } as const;
const NLM_F_APPEND = 0x800;
const NFTA_CHAIN = { table: 1, name: 3 };
const NFTA_RULE = { table: 1, chain: 2, expressions: 4, userdata: 7 };
const NFTA_SET_ELEM_LIST = { table: 1, set: 2, elements: 3 };
const NFTA_SET_ELEM = { key: 1, data: 2 };
const NFTA_LIST_ELEM = 1;
const NFTA_EXPR = { name: 1, data: 2 };
const NFTA_IMMEDIATE = { dreg: 1, data: 2 };
const NFTA_COUNTER = { bytes: 1, packets: 2 };
const NFTA_DATA = { value: 1, verdict: 2 };
const NFTA_VERDICT = { code: 1, chain: 2 };
const NFT_REG_VERDICT = 0;
const VERDICT_CODE: Readonly<Record<Verdict['kind'], number>> = {
  drop: 0, // NF_DROP
  accept: 1, // NF_ACCEPT
  jump: -3, // NFT_JUMP
  goto: -4, // NFT_GOTO
  return: -5, // NFT_RETURN
};
/** libnftnl's rule userdata: type-length-value records; the comment is type 0, NUL-terminated. */
const NFTNL_UDATA_RULE_COMMENT = 0;
const IFNAMSIZ = 16;
const NFPROTO = { inet: 1, ip: 2, ip6: 10 } as const;
export type TableFamily = keyof typeof NFPROTO;

/** Which table a request is about. */
export interface TableRef {
  readonly family: TableFamily;
  readonly table: string;
}

const be32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
const be64zero = () => Buffer.alloc(8);

function request(seq: number, msg: number, flags: number, t: TableRef, attrs: Buffer[]): Buffer {
  return message((NFNL_SUBSYS_NFTABLES << 8) | msg, flags | NLM_F.ack, seq, nfgen(NFPROTO[t.family]), attrs);
}

// --- keys ---------------------------------------------------------------------------------------------------

/** A field of a concatenation takes a whole number of 32-bit registers (nft's `round_up(len, 4)`). */
const register = (b: Buffer) =>
  b.length % 4 === 0 ? b : Buffer.concat([b, Buffer.alloc(4 - (b.length % 4))]);

function address(text: string, family: 4 | 6, type: SetType): Buffer {
  const ip = text.includes('/') ? undefined : ipBytes(text);
  if (!ip || ip.family !== family)
    throw new Error(`set element: "${text}" is not an IPv${family} address (set type ${type})`);
  return ip.bytes;
}

function service(text: string, type: SetType): Buffer {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535)
    throw new Error(`set element: "${text}" is not a port number (set type ${type})`);
  const b = Buffer.alloc(2);
  b.writeUInt16BE(port);
  return b;
}

function protocol(text: string, type: SetType): Buffer {
  const p = text.toUpperCase() as Protocol;
  if (!PROTOCOLS.includes(p))
    throw new Error(`set element: "${text}" is not one of tcp, udp, sctp (set type ${type})`);
  return Buffer.from([PROTOCOL_NUMBERS[p]]);
}

/** The key of `text` (an element as the IR writes it, nft's syntax) in a set of `type`, as the kernel stores it. */
export function setElementKey(type: SetType, text: string): Buffer {
  switch (type) {
    case 'ifname':
      return ifnameKey(text.replace(/^"|"$/g, ''));
    case 'ipv4_addr':
      return address(text, 4, type);
    case 'ipv6_addr':
      return address(text, 6, type);
    case 'inet_service':
      return service(text, type);
    case 'ipv4_addr . inet_proto . inet_service':
    case 'ipv6_addr . inet_proto . inet_service': {
      const parts = text.split(' . ');
      if (parts.length !== 3)
        throw new Error(`set element: "${text}" is not "address . protocol . port" (set type ${type})`);
      const family = type.startsWith('ipv4') ? 4 : 6;
      return Buffer.concat([
        register(address(parts[0]!, family, type)),
        register(protocol(parts[1]!, type)),
        register(service(parts[2]!, type)),
      ]);
    }
  }
}

/** An interface name as an `ifname` key: IFNAMSIZ bytes, NUL-padded (what `"pal0123abcd"` is in nft). */
export function ifnameKey(name: string): Buffer {
  const text = Buffer.from(stringValue(name), 'utf8');
  if (text.length >= IFNAMSIZ) throw new Error(`map key: interface name "${name}" is longer than 15 bytes`);
  const b = Buffer.alloc(IFNAMSIZ);
  text.copy(b);
  return b;
}

// --- verdicts and rules ---------------------------------------------------------------------------------------

function verdictData(v: Verdict): Buffer {
  const chain = v.kind === 'jump' || v.kind === 'goto' ? [attr(NFTA_VERDICT.chain, cstring(v.chain))] : [];
  return nested(NFTA_DATA.verdict, attr(NFTA_VERDICT.code, be32(VERDICT_CODE[v.kind])), ...chain);
}

const expression = (name: string, ...data: Buffer[]) =>
  nested(NFTA_LIST_ELEM, attr(NFTA_EXPR.name, cstring(name)), nested(NFTA_EXPR.data, ...data));

/** Whether `r` is one these requests can write: no matches and no verdict map, only a verdict (and a counter). */
export function isVerdictOnly(r: Rule): r is Rule & { readonly verdict: Verdict } {
  return (
    r.matches.length === 0 &&
    r.vmap === undefined &&
    r.mark === undefined &&
    r.log === undefined &&
    r.notrack === undefined &&
    r.verdict !== undefined
  );
}

function ruleUserdata(comment: string): Buffer {
  const text = cstring(stringValue(comment));
  if (text.length > 255) throw new Error(`rule comment: "${comment.slice(0, 40)}…" is longer than 254 bytes`);
  return Buffer.concat([Buffer.from([NFTNL_UDATA_RULE_COMMENT, text.length]), text]);
}

/** `add rule T CHAIN [counter] VERDICT comment "…"`, appended to the chain. */
export function newRule(seq: number, t: TableRef, chain: string, r: Rule): Buffer {
  if (!isVerdictOnly(r))
    throw new Error(`rule "${r.comment}": only a verdict rule can be written over netlink`);
  const exprs = [
    ...(r.counter
      ? [expression('counter', attr(NFTA_COUNTER.bytes, be64zero()), attr(NFTA_COUNTER.packets, be64zero()))]
      : []),
    expression(
      'immediate',
      attr(NFTA_IMMEDIATE.dreg, be32(NFT_REG_VERDICT)),
      nested(NFTA_IMMEDIATE.data, verdictData(r.verdict)),
    ),
  ];
  return request(seq, NFT_MSG.newRule, NLM_F.create | NLM_F_APPEND, t, [
    attr(NFTA_RULE.table, cstring(t.table)),
    attr(NFTA_RULE.chain, cstring(chain)),
    nested(NFTA_RULE.expressions, ...exprs),
    attr(NFTA_RULE.userdata, ruleUserdata(r.comment)),
  ]);
}

/** `flush chain T CHAIN`: every rule of the chain deleted. */
export const flushChain = (seq: number, t: TableRef, chain: string) =>
  request(seq, NFT_MSG.delRule, 0, t, [
    attr(NFTA_RULE.table, cstring(t.table)),
    attr(NFTA_RULE.chain, cstring(chain)),
  ]);

/** `add chain T CHAIN`: a regular chain, no comment (existing already is not an error). */
export const newChain = (seq: number, t: TableRef, chain: string) =>
  request(seq, NFT_MSG.newChain, NLM_F.create, t, [
    attr(NFTA_CHAIN.table, cstring(t.table)),
    attr(NFTA_CHAIN.name, cstring(chain)),
  ]);

/** `delete chain T CHAIN` (it must be empty and nothing may jump to it). */
export const delChain = (seq: number, t: TableRef, chain: string) =>
  request(seq, NFT_MSG.delChain, 0, t, [
    attr(NFTA_CHAIN.table, cstring(t.table)),
    attr(NFTA_CHAIN.name, cstring(chain)),
  ]);

// --- elements -------------------------------------------------------------------------------------------------

/** One element: its key, and for a verdict map the verdict it maps to. */
export interface Element {
  readonly key: Buffer;
  readonly verdict?: Verdict;
}

/**
 * `add element` / `delete element` of one set or map: one request with an ack. Adding an element that exists is
 * not an error (nft's `add`, not `create`); deleting one that does not is (ENOENT), as with nft.
 */
export function setElements(
  seq: number,
  t: TableRef,
  set: string,
  op: 'add' | 'delete',
  elements: readonly Element[],
): Buffer {
  const items = elements.map((e) =>
    nested(
      NFTA_LIST_ELEM,
      nested(NFTA_SET_ELEM.key, attr(NFTA_DATA.value, e.key)),
      ...(e.verdict && op === 'add' ? [nested(NFTA_SET_ELEM.data, verdictData(e.verdict))] : []),
    ),
  );
  const msg = op === 'add' ? NFT_MSG.newSetElem : NFT_MSG.delSetElem;
  return request(seq, msg, op === 'add' ? NLM_F.create : 0, t, [
    attr(NFTA_SET_ELEM_LIST.table, cstring(t.table)),
    attr(NFTA_SET_ELEM_LIST.set, cstring(set)),
    nested(NFTA_SET_ELEM_LIST.elements, ...items),
  ]);
}
