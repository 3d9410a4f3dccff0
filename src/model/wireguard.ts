// WireGuard between nodes (issue 12), the pure part: what a node publishes on its Node object, how the others
// read it, which peers a node keeps, and the MTU a tunnel leaves for pods. Pure and total: bad input becomes a
// problem naming the node and the field, and that peer stays blocked (never used in clear); the others are
// unaffected.
//
// Published as one annotation on the Node (not a CRD: the key belongs to the node, is read by every agent that
// already watches Nodes, and goes with the Node when it is deleted; Calico publishes its key the same way, as
// projectcalico.org/WireguardPublicKey):
//   palisade.dev/wireguard: {"publicKey":"<base64 of 32 bytes>","port":51820}
// The private key never leaves the node (it is written owner-readable on the node's disk only).
import { type Cidr, formatIp, parseCidr, parseIp } from './cidr.js';

export const WIREGUARD_ANNOTATION = 'palisade.dev/wireguard';
export const DEFAULT_WIREGUARD_PORT = 51820;

/** What one node publishes. */
export interface WireguardPublication {
  readonly publicKey: string;
  readonly port: number;
}

/** A node as the peer computation needs it: its name, addresses, pod CIDRs and annotations. */
export interface WireguardNode {
  readonly name: string;
  readonly ips: readonly string[];
  readonly podCIDRs: readonly string[];
  readonly annotations: Readonly<Record<string, string>>;
}

export interface WireguardPeer {
  readonly node: string;
  readonly publicKey: string;
  /** The node's address and port, "198.18.0.12:51820" or "[fd00::12]:51820". */
  readonly endpoint: string;
  /** What is routed through the tunnel to it: its pod CIDRs. */
  readonly allowedIPs: readonly string[];
}

/** Whether `text` is a WireGuard key as wg prints it: standard base64 of exactly 32 bytes. */
export function isWireguardKey(text: string): boolean {
  return /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/.test(text);
}

export type ParsedPublication =
  | { readonly ok: true; readonly publication: WireguardPublication }
  | { readonly ok: false; readonly problem: string };

/** The annotation's value on node `node`, checked; the problem names the node, the field and the value. */
export function parseWireguardAnnotation(node: string, value: string): ParsedPublication {
  const where = `node ${node}: annotation ${WIREGUARD_ANNOTATION}`;
  let raw: unknown;
  try {
    raw = JSON.parse(value);
  } catch {
    return { ok: false, problem: `${where}: ${JSON.stringify(value.slice(0, 80))} is not JSON` };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    return { ok: false, problem: `${where}: must be a JSON object with publicKey and port` };
  const { publicKey, port, ...rest } = raw as Record<string, unknown>;
  if (typeof publicKey !== 'string' || !isWireguardKey(publicKey))
    return {
      ok: false,
      problem: `${where}: publicKey ${JSON.stringify(publicKey)} is not a WireGuard key (base64 of 32 bytes)`,
    };
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535)
    return { ok: false, problem: `${where}: port ${JSON.stringify(port)} must be a whole number 1-65535` };
  const unknown = Object.keys(rest);
  if (unknown.length > 0)
    return { ok: false, problem: `${where}: unknown field ${JSON.stringify(unknown[0])}` };
  return { ok: true, publication: { publicKey, port } };
}

/** The annotation's value for a publication (what the agent writes on its Node). */
export function formatWireguardAnnotation(p: WireguardPublication): string {
  return JSON.stringify({ publicKey: p.publicKey, port: p.port });
}

function endpointOf(ip: string, port: number): string {
  const addr = parseIp(ip);
  return addr.family === 6 ? `[${formatIp(addr)}]:${port}` : `${formatIp(addr)}:${port}`;
}

/**
 * The peers of node `self`: every other node that publishes a valid key, reached at its first address of the
 * family `underlay` and routed its pod CIDRs. A node that publishes nothing, or something broken, or has no
 * address of that family, is not a peer and is reported: traffic to its pods stays blocked (strict mode).
 */
export function wireguardPeers(
  self: string,
  nodes: readonly WireguardNode[],
  underlay: 4 | 6 = 4,
): { readonly peers: WireguardPeer[]; readonly problems: string[] } {
  const peers: WireguardPeer[] = [];
  const problems: string[] = [];
  for (const n of [...nodes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (n.name === self) continue;
    const value = n.annotations[WIREGUARD_ANNOTATION];
    if (value === undefined) {
      problems.push(`node ${n.name}: no ${WIREGUARD_ANNOTATION} annotation yet (its pods are not reachable)`);
      continue;
    }
    const parsed = parseWireguardAnnotation(n.name, value);
    if (!parsed.ok) {
      problems.push(parsed.problem);
      continue;
    }
    const ip = n.ips.find((x) => (x.includes(':') ? 6 : 4) === underlay);
    if (!ip) {
      problems.push(`node ${n.name}: no IPv${underlay} address in status.addresses to reach it at`);
      continue;
    }
    peers.push({
      node: n.name,
      publicKey: parsed.publication.publicKey,
      endpoint: endpointOf(ip, parsed.publication.port),
      allowedIPs: n.podCIDRs,
    });
  }
  // Two nodes with one key: a packet to that key could reach either. Neither is a peer until one changes it.
  const owners = new Map<string, string[]>();
  for (const p of peers) owners.set(p.publicKey, [...(owners.get(p.publicKey) ?? []), p.node]);
  for (const names of owners.values())
    if (names.length > 1)
      for (const n of names)
        problems.push(
          `node ${n}: publishes the same public key as ${names.filter((x) => x !== n).join(', ')}`,
        );
  return { peers: peers.filter((p) => owners.get(p.publicKey)!.length === 1), problems };
}

/**
 * The node's own address on its tunnel: the network address of its first IPv4 pod CIDR (of a /30 or larger),
 * which pod IPAM never hands out (src/ipam/range.ts defaultBounds). Traffic the node itself sends to remote pods
 * leaves with it as source, so the peer's allowed IPs (this node's pod CIDRs) accept it and the answer comes
 * back through the tunnel. Derived, not published: every node computes it from the Node's pod CIDRs. Undefined
 * when the node has no such CIDR (then only pods' traffic crosses the tunnel).
 */
export function tunnelAddress(podCIDRs: readonly string[]): string | undefined {
  for (const text of podCIDRs) {
    const cidr = tryParseCidr(text);
    if (cidr?.family === 4 && cidr.prefix <= 30) return formatIp({ family: 4, value: cidr.network });
  }
  return undefined;
}

function tryParseCidr(text: string): Cidr | undefined {
  try {
    return parseCidr(text);
  } catch {
    return undefined; // not a CIDR: not a tunnel address either (the API server validates podCIDRs anyway)
  }
}
