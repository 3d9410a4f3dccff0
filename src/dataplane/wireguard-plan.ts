// What a WireGuard interface holds and what `wg set` must change, as data (issue 12). Pure: parses the output of
// `wg show IFACE dump` and turns (what is, what should be) into one `wg set` argument list; the Runner runs it.
// The private key is never an argument (argv is visible to every process): it is set from the key file.
import type { WireguardPeer } from '../model/wireguard.js';

export interface DevicePeer {
  readonly publicKey: string;
  /** "198.18.0.12:51820", or undefined when none is set. */
  readonly endpoint?: string;
  readonly allowedIPs: readonly string[];
  /** Unix seconds of the latest handshake; 0: never. */
  readonly latestHandshake: number;
  readonly rxBytes: number;
  readonly txBytes: number;
}

export interface DeviceState {
  readonly publicKey: string;
  readonly listenPort: number;
  readonly peers: readonly DevicePeer[];
}

const none = (v: string | undefined) => (v === undefined || v === '(none)' ? undefined : v);

/**
 * `wg show IFACE dump`: a line for the interface (private key, public key, listen port, fwmark), then one per
 * peer (public key, preshared key, endpoint, allowed ips, latest handshake, rx, tx, keepalive), tab-separated.
 */
export function parseWgDump(text: string): DeviceState {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const head = lines[0]?.split('\t') ?? [];
  if (head.length < 4) throw new Error(`wg show dump: the first line has ${head.length} fields, not 4`);
  const peers = lines.slice(1).map((line, i): DevicePeer => {
    const f = line.split('\t');
    if (f.length < 8) throw new Error(`wg show dump: peer line ${i + 1} has ${f.length} fields, not 8`);
    const allowed = none(f[3]);
    const endpoint = none(f[2]);
    return {
      publicKey: f[0]!,
      ...(endpoint ? { endpoint } : {}),
      allowedIPs: allowed ? allowed.split(',') : [],
      latestHandshake: Number(f[4]),
      rxBytes: Number(f[5]),
      txBytes: Number(f[6]),
    };
  });
  return { publicKey: head[1]!, listenPort: Number(head[2]), peers };
}

const sameSet = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && [...a].sort().join() === [...b].sort().join();

/**
 * The `wg set IFACE ...` arguments that bring `current` to `desired` (empty: nothing to do): the listen port, the
 * peers that went removed, the new and changed ones set whole (`wg set`'s allowed-ips replaces the peer's list,
 * so a CIDR a node gave up does not stay routed to it).
 */
export function wgSetArgs(
  iface: string,
  current: DeviceState,
  desired: {
    readonly listenPort: number;
    readonly peers: readonly WireguardPeer[];
    readonly keepalive?: number;
  },
): string[] {
  const args: string[] = [];
  if (current.listenPort !== desired.listenPort) args.push('listen-port', String(desired.listenPort));
  const wanted = new Map(desired.peers.map((p) => [p.publicKey, p]));
  for (const p of current.peers) if (!wanted.has(p.publicKey)) args.push('peer', p.publicKey, 'remove');
  const have = new Map(current.peers.map((p) => [p.publicKey, p]));
  for (const p of desired.peers) {
    const c = have.get(p.publicKey);
    if (c && c.endpoint === p.endpoint && sameSet(c.allowedIPs, p.allowedIPs)) continue;
    args.push('peer', p.publicKey, 'endpoint', p.endpoint, 'allowed-ips', p.allowedIPs.join(','));
    if (desired.keepalive) args.push('persistent-keepalive', String(desired.keepalive));
  }
  return args.length === 0 ? [] : ['set', iface, ...args];
}
