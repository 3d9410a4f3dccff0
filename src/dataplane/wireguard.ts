// A node's WireGuard interface (issue 12): kernel WireGuard when the kernel has it, else wireguard-go in
// userspace (these machines have no module), chosen when the interface is made and reported as `mode`. Peers
// are brought to what src/model/wireguard.ts decides with one `wg set` (wireguard-plan.ts), and each peer's pod
// CIDRs are routed through the interface; routes through it that no peer wants any more are removed.
// The userspace socket directory (/var/run/wireguard) is shared by every network namespace on the machine, so
// the interface name must be unique per node there (the lab names it after the node).
import { formatCidr, parseCidr } from '../model/cidr.js';
import type { WireguardPeer } from '../model/wireguard.js';
import { type ChildProcess, isExists, type Runner, startChild } from './runner.js';
import { type DeviceState, parseWgDump, wgSetArgs } from './wireguard-plan.js';

export interface WireguardDeviceOptions {
  readonly runner: Runner;
  /** At most 15 characters, unique on the machine (userspace mode). */
  readonly iface: string;
  /** The node's private key file (0600; src/agent/wireguard-keys.ts). */
  readonly keyFile: string;
  readonly listenPort: number;
  /** The network namespace the interface lives in (absent: the caller's). */
  readonly netns?: string;
  /** wireguard-go's output, in userspace mode. */
  readonly logFile: string;
  readonly mtu?: number;
  /**
   * The node's own address on the tunnel (src/model/wireguard.ts tunnelAddress), a /32 on the interface and the
   * source of the routes through it, so the node's own traffic to remote pods crosses encrypted too.
   */
  readonly address?: string;
  /**
   * Persistent keepalive of every peer, in seconds (default 25). Besides keeping paths warm, setting it makes
   * the interface handshake at once, so a node that comes back (a reboot, its agent restarted) has sessions
   * with its peers before the first packet needs one.
   */
  readonly keepaliveSeconds?: number;
}

export interface WireguardDevice {
  readonly mode: 'kernel' | 'userspace';
  /**
   * Brings the peers and their routes to `peers`; with `routed`, only the pod CIDRs of the peers it accepts are
   * routed through this interface (during a key rotation, the others still go by the old one).
   */
  apply(
    peers: readonly WireguardPeer[],
    opts?: { readonly routed?: (p: WireguardPeer) => boolean },
  ): Promise<void>;
  state(): Promise<DeviceState>;
  /** Drops a peer (the next apply adds it afresh, with a new handshake and no rate limit from earlier tries). */
  removePeer(publicKey: string): Promise<void>;
  /** Routes these CIDRs through this interface now (replacing any other route of theirs): the fast path of a rotation. */
  routeHere(cidrs: readonly string[]): Promise<void>;
  /** Whether the interface is still there with our key (someone may have deleted it, or wireguard-go died). */
  alive(): Promise<boolean>;
  /** Removes the interface (and with it its routes). */
  stop(): Promise<void>;
}

async function linkExists(o: WireguardDeviceOptions): Promise<boolean> {
  try {
    await o.runner.run(['ip', 'link', 'show', 'dev', o.iface], { netns: o.netns });
    return true;
  } catch {
    return false; // no such link (yet)
  }
}

/** Kernel WireGuard, or wireguard-go when the kernel does not know the device type. */
async function makeLink(
  o: WireguardDeviceOptions,
): Promise<{ mode: 'kernel' | 'userspace'; child?: ChildProcess }> {
  try {
    await o.runner.run(['ip', 'link', 'add', 'dev', o.iface, 'type', 'wireguard'], { netns: o.netns });
    return { mode: 'kernel' };
  } catch (err) {
    if (isExists(err)) return { mode: 'kernel' };
    const child = startChild(['wireguard-go', '-f', o.iface], { logFile: o.logFile, netns: o.netns });
    for (let i = 0; i < 100 && !(await linkExists(o)); i++) await new Promise((r) => setTimeout(r, 50));
    if (!(await linkExists(o))) {
      await child.stop();
      throw new Error(`wireguard-go did not make ${o.iface} within 5 s (see ${o.logFile})`);
    }
    return { mode: 'userspace', child };
  }
}

const DEFAULT_KEEPALIVE_SECONDS = 25;

/** "10.1.2.3" as ip lists a host route, and "10.1.0.0/16", in one form: with the prefix, host bits cleared. */
function canonicalCidr(text: string): string {
  return formatCidr(parseCidr(text));
}

export async function startWireguardDevice(o: WireguardDeviceOptions): Promise<WireguardDevice> {
  const { mode, child } = await makeLink(o);
  const run = (argv: string[]) => o.runner.run(argv, { netns: o.netns });
  const remove = async () => {
    if (child) await child.stop();
    else await run(['ip', 'link', 'del', 'dev', o.iface]).catch(() => undefined); // already gone: done
  };
  try {
    await run(['wg', 'set', o.iface, 'private-key', o.keyFile, 'listen-port', String(o.listenPort)]);
    if (o.address) await run(['ip', 'addr', 'replace', `${o.address}/32`, 'dev', o.iface]);
    await run(['ip', 'link', 'set', 'dev', o.iface, ...(o.mtu ? ['mtu', String(o.mtu)] : []), 'up']);
  } catch (err) {
    await remove(); // nothing half-made stays behind
    throw err;
  }
  const state = async () => parseWgDump((await run(['wg', 'show', o.iface, 'dump'])).stdout);
  let exited = false;
  void child?.exited.then(() => {
    exited = true;
  });
  return {
    mode,
    state,
    async alive() {
      if (exited) return false;
      return state().then(
        () => true,
        () => false, // no such device
      );
    },
    async removePeer(publicKey) {
      await run(['wg', 'set', o.iface, 'peer', publicKey, 'remove']);
    },
    async routeHere(cidrs) {
      for (const cidr of cidrs.map(canonicalCidr)) {
        const src = o.address && !cidr.includes(':') ? ['src', o.address] : [];
        await run(['ip', 'route', 'replace', cidr, 'dev', o.iface, ...src]);
      }
    },
    async apply(peers, opts = {}) {
      const args = wgSetArgs(o.iface, await state(), {
        listenPort: o.listenPort,
        peers,
        keepalive: o.keepaliveSeconds ?? DEFAULT_KEEPALIVE_SECONDS,
      });
      if (args.length > 0) await run(['wg', ...args]);
      const routed = opts.routed ?? (() => true);
      const wanted = new Set(
        peers
          .filter(routed)
          .flatMap((p) => p.allowedIPs)
          .map(canonicalCidr),
      );
      const routes: { dst: string; prefsrc?: string; protocol?: string }[] = [];
      for (const family of ['-4', '-6'])
        routes.push(...JSON.parse((await run(['ip', '-j', family, 'route', 'show', 'dev', o.iface])).stdout));
      // The tunnel address is IPv4: the source of the IPv4 routes only.
      const srcOf = (cidr: string) => (o.address && !cidr.includes(':') ? o.address : undefined);
      const have = new Set<string>();
      for (const r of routes) {
        if (r.protocol === 'kernel') continue; // the interface's own (fe80::/64): not a peer's
        const dst = canonicalCidr(r.dst);
        if (!wanted.has(dst)) await run(['ip', 'route', 'del', dst, 'dev', o.iface]);
        else if (r.prefsrc === srcOf(dst)) have.add(dst);
      }
      for (const cidr of wanted) {
        if (have.has(cidr)) continue;
        const src = srcOf(cidr);
        await run(['ip', 'route', 'replace', cidr, 'dev', o.iface, ...(src ? ['src', src] : [])]);
      }
    },
    stop: remove,
  };
}

/** The MTU of the link that holds `address` (the node's underlay address), from `ip -j addr`. */
export async function linkMtuOf(runner: Runner, address: string, netns?: string): Promise<number> {
  const links = JSON.parse((await runner.run(['ip', '-j', 'addr', 'show'], { netns })).stdout) as {
    ifname: string;
    mtu: number;
    addr_info?: { local?: string }[];
  }[];
  const want = canonicalCidr(address);
  const link = links.find((l) => l.addr_info?.some((a) => a.local && canonicalCidr(a.local) === want));
  if (!link) throw new Error(`no link holds the node's address ${address}: cannot size the tunnel's MTU`);
  return link.mtu;
}
