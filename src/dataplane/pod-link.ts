// Creates, deletes and inspects a pod's veth pair through the Runner. The scripts come from pod-link-script.ts.
import { readFileSync, writeFileSync } from 'node:fs';
import { hostAddScript, type PodLinkSpec, podAddScript } from './pod-link-script.js';
import { CommandError, isNotFound, type Runner } from './runner.js';
import { isHostVethName } from './veth-name.js';

/** Interface names in the calling process's network namespace (/proc/self/net follows the netns). */
export function localLinkNames(): Set<string> {
  const text = readFileSync('/proc/self/net/dev', 'utf8');
  const names = new Set<string>();
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon > 0) names.add(line.slice(0, colon).trim());
  }
  return names;
}

export class PodLinkError extends Error {
  override readonly name = 'PodLinkError';
}

/** How the plugin wires and unwires pods: `ip` processes (below) or netlink in-process (netlink/). */
export interface PodLinks {
  /** Wires the pod; on failure removes what it made (see createPodLink). */
  create(spec: PodLinkSpec): Promise<void>;
  /** Deletes the host side of a pair (and with it the pod side); false when it was already gone. */
  deleteHost(hostIfname: string): Promise<boolean>;
  /**
   * DEL's removal: once it resolves the link carries no traffic and no route, and `gone` resolves when the link
   * itself is deleted (`ip`: at once; netlink: a little later, see netlink-links.ts).
   */
  retire(hostIfname: string): Promise<{ removed: boolean; gone: Promise<void> }>;
  /** Host veths of ours (veth-name.ts) that are down: what retire() left, should the deletion not have followed. */
  retiredHostLinks(): Promise<string[]>;
}

export function ipPodLinks(runner: Runner): PodLinks {
  return {
    create: (spec) => createPodLink(runner, spec),
    deleteHost: (name) => deleteHostLink(runner, name),
    retire: async (name) => ({ removed: await deleteHostLink(runner, name), gone: Promise.resolve() }),
    retiredHostLinks: async () => {
      const { stdout } = await runner.run(['ip', '-j', 'link', 'show']);
      const links = JSON.parse(stdout || '[]') as { ifname: string; flags?: string[] }[];
      return links.filter((l) => isHostVethName(l.ifname) && !l.flags?.includes('UP')).map((l) => l.ifname);
    },
  };
}

/**
 * Wires the pod. On any failure the host veth is removed again (taking the pod end and the host routes with
 * it), so a failed ADD leaves no interface behind. A stale host veth of the same name (an earlier ADD of the
 * same container and interface that died half-way) is removed first.
 */
export async function createPodLink(runner: Runner, spec: PodLinkSpec): Promise<void> {
  if (localLinkNames().has(spec.hostIfname)) await deleteHostLink(runner, spec.hostIfname);
  try {
    await runner.run(['ip', '-batch', '-'], { input: hostAddScript(spec) });
  } catch (err) {
    await deleteHostLink(runner, spec.hostIfname);
    if (err instanceof CommandError && err.kind === 'exists') {
      throw new PodLinkError(`interface "${spec.ifname}" already exists in network namespace ${spec.netns}`, {
        cause: err,
      });
    }
    throw err;
  }
  try {
    await runner.run(['ip', '-batch', '-'], { input: podAddScript(spec), netns: spec.netns });
  } catch (err) {
    await deleteHostLink(runner, spec.hostIfname);
    throw err;
  }
}

/** Deletes the host side of a pair (which deletes the pod side too); "already gone" is success. */
export async function deleteHostLink(runner: Runner, hostIfname: string): Promise<boolean> {
  if (!localLinkNames().has(hostIfname)) return false;
  try {
    await runner.run(['ip', 'link', 'del', hostIfname]);
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

/** Turns on forwarding in the calling netns for the families in use (a router of pod traffic needs it). */
export function ensureForwarding(families: ReadonlySet<4 | 6>): void {
  const knobs: string[] = [];
  if (families.has(4)) knobs.push('/proc/sys/net/ipv4/ip_forward');
  if (families.has(6)) knobs.push('/proc/sys/net/ipv6/conf/all/forwarding');
  for (const knob of knobs) {
    if (readFileSync(knob, 'utf8').trim() !== '1') writeFileSync(knob, '1');
  }
}

export interface LinkState {
  readonly ifname: string;
  readonly mac: string;
  readonly up: boolean;
  readonly mtu: number;
  readonly addresses: readonly string[];
}

export interface RouteState {
  readonly dst: string;
  readonly gateway?: string;
  readonly dev?: string;
}

interface IpLinkJson {
  ifname: string;
  address?: string;
  flags?: string[];
  mtu?: number;
  addr_info?: { local: string; prefixlen: number }[];
}

interface IpRouteJson {
  dst: string;
  gateway?: string;
  dev?: string;
}

/** Reads one interface and the routes of the given families in a netns (undefined netns = this one). */
export async function inspectLink(
  runner: Runner,
  opts: { netns?: string; ifname: string; families: ReadonlySet<4 | 6> },
): Promise<{ link?: LinkState; routes: RouteState[] }> {
  let link: LinkState | undefined;
  try {
    const { stdout } = await runner.run(['ip', '-j', 'addr', 'show', 'dev', opts.ifname], {
      netns: opts.netns,
    });
    const parsed = (JSON.parse(stdout) as IpLinkJson[])[0];
    if (parsed) {
      link = {
        ifname: parsed.ifname,
        mac: parsed.address ?? '',
        up: (parsed.flags ?? []).includes('UP'),
        mtu: parsed.mtu ?? 0,
        addresses: (parsed.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`),
      };
    }
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  const routes: RouteState[] = [];
  for (const family of opts.families) {
    const { stdout } = await runner.run(['ip', '-j', `-${family}`, 'route', 'show'], { netns: opts.netns });
    for (const r of JSON.parse(stdout || '[]') as IpRouteJson[]) {
      routes.push({ dst: r.dst, gateway: r.gateway, dev: r.dev });
    }
  }
  return { link, routes };
}
