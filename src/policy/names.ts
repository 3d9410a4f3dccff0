// Names of the nftables objects the compiler emits: stable, short, derived from what they stand for. Pure.

import type { Family } from '../ir/ir.js';
import { fnv1a64 } from '../util/hash.js';
import type { Tier } from './ordered.js';

export { TABLE_NAME } from '../ir/ir.js';
export type Direction = 'ingress' | 'egress';

const SHORT: Record<Direction, string> = { ingress: 'in', egress: 'eg' };

function id(text: string): string {
  return fnv1a64(text).slice(0, 12);
}

/** Base chains, one per direction, both on the forward hook (egress first). */
export function baseChainName(d: Direction): string {
  return d;
}

/** The verdict map that dispatches packets of a direction to the endpoint's chain, keyed by interface. */
export function endpointMapName(d: Direction): string {
  return `endpoints_${SHORT[d]}`;
}

export function endpointChainName(podKey: string, d: Direction): string {
  return `ep_${id(podKey)}_${SHORT[d]}`;
}

const POLICY_PREFIX: Readonly<Record<Tier, string>> = { Admin: 'ca', NetworkPolicy: 'np', Baseline: 'cb' };

/** One chain per policy and direction, shared by every endpoint the policy applies to; its tier in the prefix. */
export function policyChainName(policyKey: string, d: Direction, tier: Tier = 'NetworkPolicy'): string {
  return `${POLICY_PREFIX[tier]}_${id(policyKey)}_${SHORT[d]}`;
}

/** An endpoint's Admin-tier chain: the jumps to its Admin policies, each followed by the check for a pass. */
export function adminTierChainName(podKey: string, d: Direction): string {
  return `ea_${id(podKey)}_${SHORT[d]}`;
}

/** An endpoint's NetworkPolicy-tier chain, when a policy of that tier can pass (GlobalNetworkPolicy). */
export function networkPolicyTierChainName(podKey: string, d: Direction): string {
  return `en_${id(podKey)}_${SHORT[d]}`;
}

/**
 * The bit of the packet mark an Admin policy's Pass sets before returning: the endpoint's Admin-tier chain then
 * skips the tier's other policies. The chain clears it first and after reading it, so it never leaves the chain
 * set (kube-proxy uses 0x4000 and 0x8000; Istio 0x539 and its own low bits).
 */
export const PASS_MARK = 0x20000000;

/**
 * The bit an untracked allow (doNotTrack policy, raw priority) sets: the filter hooks accept such a packet, which
 * has no conntrack state for them to judge.
 */
export const UNTRACKED_MARK = 0x10000000;

/** The NFLOG group a Log rule sends packets to (issue 13's flow reader listens on it). */
export const LOG_GROUP = 1;

export type SetRole = 'pods' | 'blocks' | 'named';

/**
 * A set named by its content (`key`): peer pod addresses, ipBlock CIDRs, or named-port triples. Every rule with
 * the same peers (or CIDRs, or named-port destinations) shares it, so the table holds each only once.
 */
export function sharedSetName(role: SetRole, family: Family, key: string): string {
  return `${role}${family}_${id(key)}`;
}

/**
 * A set of destination ports, named by its content so that every rule with the same list shares it. (Not an
 * anonymous `{ a, b }` set per rule: the kernel names each anonymous set by scanning the table's sets, which
 * made loading 3000 such rules take 1 s and 6000 take 4.4 s.)
 */
export function portSetName(ranges: readonly { from: number; to: number }[]): string {
  return `ports_${id(ranges.map((r) => `${r.from}-${r.to}`).join(','))}`;
}

/** The origin comment every rule carries, so a drop can be traced back (nft keeps at most 127 bytes). */
export function originComment(text: string): string {
  const clean = text.replace(/["\\\n]/g, '_');
  return clean.length <= 127 ? clean : `${clean.slice(0, 124)}...`;
}

/** Strict encryption (issue 12): the chains that drop what would reach a remote node's pods outside the tunnel. */
export const STRICT_CHAINS = { forward: 'encrypt_fwd', output: 'encrypt_out' } as const;

/** The tunnel's interfaces, the strict rules' only way out to remote pods. */
export const STRICT_IFACES_SET = 'encrypt_ifaces';

/** The pod CIDRs of one remote node, of one family, for the strict rules. */
export function strictSetName(node: string, family: Family): string {
  return `enc${family}_${id(node)}`;
}

/** The comment of a node's strict rules: the agent reads their counters back by it (drops per peer). */
export function strictComment(node: string): string {
  return originComment(`strict: not encrypted to node ${node}`);
}
