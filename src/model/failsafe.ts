// Failsafe rules: the node's own connections that no host policy can cut (Calico's failsafe ports,
// https://docs.tigera.io/calico/latest/reference/host-endpoints/failsafe), and, beyond Calico, each optionally
// limited to a CIDR (felix#2645). Pure.
//
// Text form, as Calico's FELIX_FAILSAFEINBOUNDHOSTPORTS: a comma-separated list of `PROTOCOL:PORT` or
// `PROTOCOL:CIDR:PORT` (PORT may be a range FROM-TO), or `none`. Inbound entries match the destination port of
// packets coming to the node (and the source CIDR); outbound ones the destination port of packets the node sends
// (and the destination CIDR).
import { formatCidr, parseCidr } from './cidr.js';
import type { Protocol } from './k8s.js';

export interface FailsafeRule {
  readonly protocol: Protocol;
  readonly port: number;
  /** With it: the range port..endPort. */
  readonly endPort?: number;
  /** The remote end's address (inbound: source; outbound: destination) is in it; absent: any. */
  readonly cidr?: string;
}

export interface Failsafes {
  readonly inbound: readonly FailsafeRule[];
  readonly outbound: readonly FailsafeRule[];
}

const tcp = (port: number, endPort?: number): FailsafeRule => ({
  protocol: 'TCP',
  port,
  ...(endPort ? { endPort } : {}),
});
const udp = (port: number): FailsafeRule => ({ protocol: 'UDP', port });

/**
 * The defaults: SSH, the API server, the kubelet, etcd and DHCP in; HTTPS, the API server, DNS and DHCP out
 * (the subset of Calico's defaults a Kubernetes node needs; BGP and Typha are Calico's own).
 */
export const DEFAULT_FAILSAFES: Failsafes = {
  inbound: [tcp(22), tcp(6443), tcp(10250), tcp(2379, 2380), udp(68)],
  outbound: [tcp(443), tcp(6443), udp(53), udp(67)],
};

const PROTOCOL_NAMES: Readonly<Record<string, Protocol>> = { tcp: 'TCP', udp: 'UDP', sctp: 'SCTP' };

function parsePort(text: string): { port: number; endPort?: number } | undefined {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
  if (!m) return undefined;
  const port = Number(m[1]);
  const end = m[2] === undefined ? undefined : Number(m[2]);
  if (port < 1 || port > 65535 || (end !== undefined && (end < port || end > 65535))) return undefined;
  return end === undefined || end === port ? { port } : { port, endPort: end };
}

/** Parses one entry; a problem names the entry and what is wrong with it. */
function parseEntry(entry: string, where: string): FailsafeRule | string {
  const first = entry.indexOf(':');
  const last = entry.lastIndexOf(':');
  const protocol = PROTOCOL_NAMES[entry.slice(0, first).toLowerCase()];
  if (first < 0 || !protocol) return `${where}: "${entry}" must start with tcp:, udp: or sctp:`;
  const port = parsePort(entry.slice(last + 1));
  if (!port) return `${where}: "${entry}" must end with a port 1-65535 or a range FROM-TO`;
  if (first === last) return { protocol, ...port };
  const cidrText = entry.slice(first + 1, last);
  try {
    return { protocol, ...port, cidr: formatCidr(parseCidr(cidrText, { strict: true })) };
  } catch (err) {
    return `${where}: "${entry}": "${cidrText}" is not a CIDR (${(err as Error).message})`;
  }
}

/** A list in text form; every problem at once. `where` names the flag or field ("--failsafe-inbound"). */
export function parseFailsafeList(
  text: string,
  where: string,
): { readonly rules: FailsafeRule[]; readonly problems: string[] } {
  if (text.trim() === 'none') return { rules: [], problems: [] };
  const rules: FailsafeRule[] = [];
  const problems: string[] = [];
  for (const entry of text.split(',').map((e) => e.trim())) {
    if (entry === '') {
      problems.push(`${where}: an empty entry in "${text}"`);
      continue;
    }
    const r = parseEntry(entry, where);
    if (typeof r === 'string') problems.push(r);
    else rules.push(r);
  }
  return { rules, problems };
}

/** The text form of a list (what parseFailsafeList reads back). */
export function formatFailsafeList(rules: readonly FailsafeRule[]): string {
  if (rules.length === 0) return 'none';
  return rules
    .map((r) => {
      const port = r.endPort ? `${r.port}-${r.endPort}` : `${r.port}`;
      return `${r.protocol.toLowerCase()}:${r.cidr ? `${r.cidr}:` : ''}${port}`;
    })
    .join(',');
}
