// Wires a pod through route-netlink (palisade-native.node) instead of `ip` processes: the same steps as the
// `ip -batch` scripts of pod-link-script.ts, message for message (rtnl.ts), so the kernel ends in the same state.
// Every request runs on a worker thread (the kernel takes ~1 ms to make a veth, ~20 ms to delete one), on a
// socket of the operation's own, so concurrent ADDs neither wait on the agent's event loop nor read each other's
// answers.
import { closeSync, openSync } from 'node:fs';
import { constants } from 'node:os';
import type { NativeAddon } from '../native.js';
import { PodLinkError, type PodLinks } from '../pod-link.js';
import { GATEWAY_V4, GATEWAY_V6, HOST_VETH_MAC, type PodLinkSpec } from '../pod-link-script.js';
import * as rtnl from './rtnl.js';

export class NetlinkError extends Error {
  override readonly name = 'NetlinkError';
  constructor(
    readonly what: string,
    readonly errno: number,
    kernelMessage?: string,
  ) {
    const name = Object.entries(constants.errno).find(([, v]) => v === errno)?.[0] ?? `errno ${errno}`;
    super(`${what}: ${name}${kernelMessage ? ` (${kernelMessage})` : ''}`);
  }
}

const hostPrefix = (a: string) => (a.includes(':') ? `${a}/128` : `${a}/32`);
const ENOENT = constants.errno.ENOENT;
const ENODEV = constants.errno.ENODEV;
const EEXIST = constants.errno.EEXIST;
const isGone = (err: unknown) =>
  err instanceof NetlinkError && (err.errno === ENODEV || err.errno === ENOENT);

/** One socket in one namespace, for one operation: requests in sequence, each on a worker thread. */
class Socket {
  private seq = 0;
  readonly fd: number;
  constructor(
    private readonly native: NativeAddon,
    netns: string | undefined,
  ) {
    this.fd = native.netlinkOpen(netns);
  }

  /** Sends one request and returns the kernel's answer; an error answer throws NetlinkError naming `what`. */
  async request(what: string, build: (seq: number) => Buffer): Promise<rtnl.NlMessage[]> {
    this.seq = (this.seq + 1) >>> 0;
    const msgs = rtnl.splitMessages(await this.native.netlinkExchangeAsync(this.fd, build(this.seq)));
    const err = rtnl.answerError(msgs);
    if (err && err.errno !== 0) throw new NetlinkError(what, err.errno, err.message);
    return msgs;
  }

  async index(name: string): Promise<number> {
    const index = rtnl.readLinkIndex(await this.request(`find ${name}`, (s) => rtnl.getLink(s, name)));
    if (index === undefined) throw new Error(`find ${name}: the kernel answered without the link`);
    return index;
  }

  /** The link's index, or undefined when there is no such link. */
  async indexIfAny(name: string): Promise<number | undefined> {
    try {
      return await this.index(name);
    } catch (err) {
      if (isGone(err)) return undefined;
      throw err;
    }
  }

  close(): void {
    this.native.netlinkClose(this.fd);
  }
}

/** Runs `fn` with a socket in `netns`, closed after. */
async function withSocket<T>(
  native: NativeAddon,
  netns: string | undefined,
  fn: (s: Socket) => Promise<T>,
): Promise<T> {
  const s = new Socket(native, netns);
  try {
    return await fn(s);
  } finally {
    s.close();
  }
}

async function deleteLink(host: Socket, link: string | number): Promise<boolean> {
  try {
    await host.request(`delete ${link}`, (s) => rtnl.delLink(s, link));
    return true;
  } catch (err) {
    if (isGone(err)) return false;
    throw err;
  }
}

async function wireHost(host: Socket, spec: PodLinkSpec, netnsFd: number): Promise<void> {
  const v6 = spec.addresses.some((a) => a.includes(':'));
  await host.request(`create veth ${spec.hostIfname}`, (s) =>
    rtnl.newVeth(s, {
      name: spec.hostIfname,
      mtu: spec.mtu,
      mac: HOST_VETH_MAC,
      peer: { name: spec.ifname, mtu: spec.mtu, mac: spec.podMac, netnsFd },
    }),
  );
  const index = await host.index(spec.hostIfname);
  if (v6) {
    await host.request(`addrgenmode none on ${spec.hostIfname}`, (s) => rtnl.addrGenModeNone(s, index));
    await host.request(`address ${GATEWAY_V6}/64 on ${spec.hostIfname}`, (s) =>
      rtnl.newAddr(s, index, `${GATEWAY_V6}/64`, { nodad: true }),
    );
  }
  await host.request(`${spec.hostIfname} up`, (s) => rtnl.linkUp(s, index));
  for (const a of spec.addresses)
    await host.request(`route ${hostPrefix(a)} dev ${spec.hostIfname}`, (s) =>
      rtnl.newRoute(s, { dst: hostPrefix(a), index }),
    );
}

async function wirePod(pod: Socket, spec: PodLinkSpec): Promise<void> {
  const dev = spec.ifname;
  const index = await pod.index(dev);
  for (const a of spec.addresses)
    await pod.request(`address ${hostPrefix(a)} on ${dev}`, (s) =>
      rtnl.newAddr(s, index, hostPrefix(a), { nodad: a.includes(':') }),
    );
  await pod.request(`${dev} up`, (s) => rtnl.linkUp(s, index));
  if (spec.addresses.some((a) => !a.includes(':'))) {
    await pod.request(`route ${GATEWAY_V4}/32 dev ${dev}`, (s) =>
      rtnl.newRoute(s, { dst: `${GATEWAY_V4}/32`, index }),
    );
    await pod.request(`default route via ${GATEWAY_V4}`, (s) =>
      rtnl.newRoute(s, { dst: '0.0.0.0/0', index, gateway: GATEWAY_V4 }),
    );
    await pod.request(`neighbour ${GATEWAY_V4}`, (s) =>
      rtnl.replaceNeigh(s, { ip: GATEWAY_V4, mac: HOST_VETH_MAC, index }),
    );
  }
  if (spec.addresses.some((a) => a.includes(':'))) {
    await pod.request(`default route via ${GATEWAY_V6}`, (s) =>
      rtnl.newRoute(s, { dst: '::/0', index, gateway: GATEWAY_V6 }),
    );
    await pod.request(`neighbour ${GATEWAY_V6}`, (s) =>
      rtnl.replaceNeigh(s, { ip: GATEWAY_V6, mac: HOST_VETH_MAC, index }),
    );
  }
}

/**
 * Pod wiring through netlink. The node side is the caller's network namespace (the agent runs in the node's), or
 * `opts.nodeNetns` (tests, which must never touch the machine's own).
 */
export function netlinkPodLinks(native: NativeAddon, opts: { nodeNetns?: string } = {}): PodLinks {
  const onNode = <T>(fn: (s: Socket) => Promise<T>) => withSocket(native, opts.nodeNetns, fn);
  return {
    kind: 'netlink',
    create: (spec) =>
      onNode(async (host) => {
        // A stale host veth of the same name: an earlier ADD of the same container and interface that died.
        const stale = await host.indexIfAny(spec.hostIfname);
        if (stale !== undefined) await deleteLink(host, stale);
        let netnsFd: number;
        try {
          netnsFd = openSync(spec.netns, 'r');
        } catch (err) {
          throw new PodLinkError(`network namespace ${spec.netns}: ${(err as Error).message}`, {
            cause: err,
          });
        }
        try {
          await wireHost(host, spec, netnsFd);
          await withSocket(native, spec.netns, (pod) => wirePod(pod, spec));
        } catch (err) {
          await deleteLink(host, spec.hostIfname);
          if (err instanceof NetlinkError && err.errno === EEXIST && err.what.startsWith('create veth'))
            throw new PodLinkError(
              `interface "${spec.ifname}" already exists in network namespace ${spec.netns}`,
              { cause: err },
            );
          throw err;
        } finally {
          closeSync(netnsFd);
        }
      }),
    deleteHost: (name) => onNode((host) => deleteLink(host, name)),
    retire: (name) =>
      onNode(async (host) => {
        const index = await host.indexIfAny(name);
        if (index === undefined) return { removed: false, gone: Promise.resolve() };
        // Down: no traffic, and the kernel drops the routes through it at once (its addresses may go to a new
        // pod right away). The deletion itself waits for an RCU grace period (~20 ms): it finishes after DEL
        // has answered, by index, so a new link of the same name (an ADD again) is never the one deleted.
        await host.request(`${name} down`, (s) => rtnl.linkDown(s, index));
        const gone = withSocket(native, opts.nodeNetns, (s) => deleteLink(s, index)).then(() => undefined);
        return { removed: true, gone };
      }),
  };
}
