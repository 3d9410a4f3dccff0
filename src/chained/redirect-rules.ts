// The nftables table that the chained "redirect" CNI mode installs inside a pod's network namespace: inbound TCP to
// the app's ports goes to a local proxy, and (optionally) outbound TCP to chosen destinations goes to the proxy's
// outbound port. Pure: the spec is checked and rendered as nft text here; applying it is someone else's job.
import { quote } from '../dataplane/nft-render.js';
import { type Cidr, disjointCidrs, formatCidr, parseCidr } from '../model/cidr.js';

export const REDIRECT_TABLE = 'palisade_redirect';

export interface OutboundCapture {
  /** Where captured outbound TCP goes (redirect to :port). */
  readonly proxyPort: number;
  /** Only these destinations are captured ([] = none; "0.0.0.0/0" and/or "::/0" = all). */
  readonly includeCidrs: readonly string[];
  /** Never captured (checked before include). */
  readonly excludeCidrs: readonly string[];
  /** Destination ports never captured. */
  readonly excludePorts: readonly number[];
}

export interface RedirectSpec {
  /** TCP destination ports of inbound traffic to redirect (non-empty). */
  readonly inboundPorts: readonly number[];
  /** Inbound traffic to those ports goes to this local port. */
  readonly proxyPort: number;
  /** The proxy's own traffic is never redirected: match it by any of these (at least one must be given). */
  readonly proxyUid?: number;
  readonly proxyGid?: number;
  /** meta mark value the proxy sets on its sockets. */
  readonly proxyMark?: number;
  /** Absent = no outbound capture. */
  readonly outbound?: OutboundCapture;
}

export class RedirectSpecError extends Error {
  override readonly name = 'RedirectSpecError';
  constructor(readonly problems: readonly string[]) {
    super(`invalid redirect spec: ${problems.join('; ')}`);
  }
}

const TAB = '\t';
const MAX_U32 = 2 ** 32 - 1;

function portProblem(field: string, value: number): string[] {
  return Number.isInteger(value) && value >= 1 && value <= 65535
    ? []
    : [`${field}: ${value} is not a port (integer 1-65535)`];
}

function u32Problem(field: string, value: number | undefined, what: string): string[] {
  if (value === undefined) return [];
  return Number.isInteger(value) && value >= 0 && value <= MAX_U32
    ? []
    : [`${field}: ${value} is not a ${what} (integer 0-${MAX_U32})`];
}

function cidrProblems(field: string, cidrs: readonly string[]): string[] {
  return cidrs.flatMap((c, i) => {
    try {
      parseCidr(c, { strict: true });
      return [];
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      return [`${field}[${i}]: ${JSON.stringify(c)} is not a CIDR (${why})`];
    }
  });
}

function outboundProblems(o: OutboundCapture): string[] {
  return [
    ...portProblem('outbound.proxyPort', o.proxyPort),
    ...cidrProblems('outbound.includeCidrs', o.includeCidrs),
    ...cidrProblems('outbound.excludeCidrs', o.excludeCidrs),
    ...o.excludePorts.flatMap((p, i) => portProblem(`outbound.excludePorts[${i}]`, p)),
  ];
}

/** Every problem with the spec, each naming the field and value. Empty = valid. */
export function redirectSpecProblems(spec: RedirectSpec): string[] {
  const problems: string[] = [];
  if (spec.inboundPorts.length === 0) problems.push('inboundPorts: must list at least one port');
  problems.push(...spec.inboundPorts.flatMap((p, i) => portProblem(`inboundPorts[${i}]`, p)));
  problems.push(...portProblem('proxyPort', spec.proxyPort));
  const loop = spec.inboundPorts.indexOf(spec.proxyPort);
  if (loop >= 0) {
    problems.push(
      `proxyPort: ${spec.proxyPort} is also inboundPorts[${loop}]; the proxy's own port must not be redirected`,
    );
  }
  if (spec.proxyUid === undefined && spec.proxyGid === undefined && spec.proxyMark === undefined) {
    problems.push(
      "proxyUid, proxyGid, proxyMark: none given; at least one must identify the proxy's own traffic",
    );
  }
  problems.push(...u32Problem('proxyUid', spec.proxyUid, 'uid'));
  problems.push(...u32Problem('proxyGid', spec.proxyGid, 'gid'));
  problems.push(...u32Problem('proxyMark', spec.proxyMark, 'mark'));
  if (spec.proxyMark === 0) {
    problems.push(
      'proxyMark: 0 would exempt every unmarked packet, so nothing would be captured; use a non-zero mark',
    );
  }
  if (spec.outbound) problems.push(...outboundProblems(spec.outbound));
  return problems;
}

/** A single value bare, several as an anonymous set (the way `nft list` shows them back). */
function oneOrSet(items: readonly string[]): string {
  return items.length === 1 ? items[0]! : `{ ${items.join(', ')} }`;
}

function ports(list: readonly number[]): string {
  return oneOrSet([...new Set(list)].sort((a, b) => a - b).map(String));
}

/** CIDRs of one family, normalised and without duplicates or nested prefixes (nft rejects neither, but why ask). */
function cidrsOf(list: readonly string[], family: 4 | 6): Cidr[] {
  return disjointCidrs(list.map((c) => parseCidr(c)).filter((c) => c.family === family));
}

function rule(text: string, comment: string): string {
  return `${TAB}${TAB}${text} comment ${quote(comment)}`;
}

// No exemption for the proxy is needed here, unlike in `outbound`: nat chains are consulted only for the first
// packet of a connection, and prerouting only for packets that arrive from outside. The proxy's connection to the
// app is generated locally, so its NAT is settled in output/postrouting, and it is not looked at again when it
// loops back through lo. inboundPorts cannot contain proxyPort (validated), so nothing redirects the proxy's port.
function inboundChain(spec: RedirectSpec): string[] {
  return [
    `${TAB}chain inbound {`,
    `${TAB}${TAB}type nat hook prerouting priority dstnat; policy accept;`,
    rule(
      `meta l4proto tcp th dport ${ports(spec.inboundPorts)} counter redirect to :${spec.proxyPort}`,
      `inbound to app ports goes to the proxy on :${spec.proxyPort}`,
    ),
    `${TAB}}`,
  ];
}

function proxyExemptions(spec: RedirectSpec): string[] {
  const out: string[] = [];
  if (spec.proxyUid !== undefined) {
    out.push(rule(`meta skuid ${spec.proxyUid} return`, 'the proxy itself (uid) is never captured'));
  }
  if (spec.proxyGid !== undefined) {
    out.push(rule(`meta skgid ${spec.proxyGid} return`, 'the proxy itself (gid) is never captured'));
  }
  if (spec.proxyMark !== undefined) {
    out.push(rule(`meta mark ${spec.proxyMark} return`, 'the proxy itself (mark) is never captured'));
  }
  return out;
}

function outboundChain(spec: RedirectSpec, o: OutboundCapture): string[] {
  const lines = [
    `${TAB}chain outbound {`,
    `${TAB}${TAB}type nat hook output priority -100; policy accept;`,
    rule('oifname "lo" return', 'pod-local traffic, incl. proxy to app, is never captured'),
    ...proxyExemptions(spec),
  ];
  for (const [family, ip] of [
    [4, 'ip'],
    [6, 'ip6'],
  ] as const) {
    const excluded = cidrsOf(o.excludeCidrs, family).map(formatCidr);
    if (excluded.length > 0) {
      lines.push(
        rule(`${ip} daddr ${oneOrSet(excluded)} return`, 'excluded destinations are never captured'),
      );
    }
  }
  if (o.excludePorts.length > 0) {
    lines.push(rule(`tcp dport ${ports(o.excludePorts)} return`, 'excluded ports are never captured'));
  }
  for (const [family, ip] of [
    [4, 'ip'],
    [6, 'ip6'],
  ] as const) {
    const included = cidrsOf(o.includeCidrs, family).map(formatCidr);
    if (included.length > 0) {
      lines.push(
        rule(
          `${ip} daddr ${oneOrSet(included)} meta l4proto tcp counter redirect to :${o.proxyPort}`,
          `outbound to captured destinations goes to the proxy on :${o.proxyPort}`,
        ),
      );
    }
  }
  lines.push(`${TAB}}`);
  return lines;
}

function assertValid(spec: RedirectSpec): void {
  const problems = redirectSpecProblems(spec);
  if (problems.length > 0) throw new RedirectSpecError(problems);
}

/** Just the table definition text. Throws RedirectSpecError listing the problems when the spec is invalid. */
export function renderRedirectTable(spec: RedirectSpec): string {
  assertValid(spec);
  const chains = [inboundChain(spec), ...(spec.outbound ? [outboundChain(spec, spec.outbound)] : [])];
  return `table inet ${REDIRECT_TABLE} {\n${chains.map((c) => c.join('\n')).join('\n\n')}\n}\n`;
}

/**
 * One script for `nft -f -` (one transaction) that creates or replaces the table's rules: create the table if
 * missing, flush its rules, define it again (chains are redeclared with the same hooks, rules added). Flush,
 * not delete: on the fresh netns of an ADD there is nothing to flush and nft takes ~4 ms, while deleting a table
 * makes nft wait ~12 ms more for the kernel (an RCU grace period as it closes its netlink socket). A retried
 * ADD finds the table and replaces its rules the same way; a chain the new spec no longer has stays, empty.
 * Throws RedirectSpecError when the spec is invalid.
 */
export function renderRedirectScript(spec: RedirectSpec): string {
  const table = renderRedirectTable(spec);
  return `table inet ${REDIRECT_TABLE}\nflush table inet ${REDIRECT_TABLE}\n${table}`;
}

/**
 * Whether a listing of `nft list tables inet` names the redirect table: DEL lists first (~4 ms) and deletes only
 * a table that is there, since a delete, even one that fails for a missing table, makes nft wait ~12 ms more.
 */
export function listsRedirectTable(listing: string): boolean {
  return listing.split('\n').some((line) => line.trim() === `table inet ${REDIRECT_TABLE}`);
}
