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

  /**
   * Several requests in one exchange (the kernel handles them in order and answers each): one worker-thread hop
   * instead of one per request. Each request's answers, in order; the first error not in its `allow` throws.
   */
  async batch(
    items: { what: string; build: (seq: number) => Buffer; allow?: number[] }[],
  ): Promise<rtnl.NlMessage[][]> {
    const first = (this.seq + 1) >>> 0;
    const bufs = items.map((item) => {
      this.seq = (this.seq + 1) >>> 0;
      return item.build(this.seq);
    });
    const all = rtnl.splitMessages(
      await this.native.netlinkExchangeAsync(this.fd, Buffer.concat(bufs), items.length),
    );
    const answers = items.map((_, k) => all.filter((m) => m.seq === (first + k) >>> 0));
    for (const [k, item] of items.entries()) {
      const err = rtnl.answerError(answers[k]!);
      if (err && err.errno !== 0 && !item.allow?.includes(err.errno))
        throw new NetlinkError(item.what, err.errno, err.message);
    }
    return answers;
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

type Request = { what: string; build: (seq: number) => Buffer; allow?: number[] };

/** The node side once the pair exists: link-local gateway (IPv6), up, a route per pod address. */
function hostRequests(spec: PodLinkSpec, index: number): Request[] {
  const out: Request[] = [];
  if (spec.addresses.some((a) => a.includes(':'))) {
    out.push({
      what: `addrgenmode none on ${spec.hostIfname}`,
      build: (s) => rtnl.addrGenModeNone(s, index),
    });
    out.push({
      what: `address ${GATEWAY_V6}/64 on ${spec.hostIfname}`,
      build: (s) => rtnl.newAddr(s, index, `${GATEWAY_V6}/64`, { nodad: true }),
    });
  }
  out.push({ what: `${spec.hostIfname} up`, build: (s) => rtnl.linkUp(s, index) });
  for (const a of spec.addresses)
    out.push({
      what: `route ${hostPrefix(a)} dev ${spec.hostIfname}`,
      build: (s) => rtnl.newRoute(s, { dst: hostPrefix(a), index }),
    });
  return out;
}

/** The pod side: addresses, up, gateway route, default route and pinned gateway neighbour per family. */
function podRequests(spec: PodLinkSpec, index: number): Request[] {
  const dev = spec.ifname;
  const out: Request[] = spec.addresses.map((a) => ({
    what: `address ${hostPrefix(a)} on ${dev}`,
    build: (s: number) => rtnl.newAddr(s, index, hostPrefix(a), { nodad: a.includes(':') }),
  }));
  out.push({ what: `${dev} up`, build: (s) => rtnl.linkUp(s, index) });
  if (spec.addresses.some((a) => !a.includes(':')))
    out.push(
      {
        what: `route ${GATEWAY_V4}/32 dev ${dev}`,
        build: (s) => rtnl.newRoute(s, { dst: `${GATEWAY_V4}/32`, index }),
      },
      {
        what: `default route via ${GATEWAY_V4}`,
        build: (s) => rtnl.newRoute(s, { dst: '0.0.0.0/0', index, gateway: GATEWAY_V4 }),
      },
      {
        what: `neighbour ${GATEWAY_V4}`,
        build: (s) => rtnl.replaceNeigh(s, { ip: GATEWAY_V4, mac: HOST_VETH_MAC, index }),
      },
    );
  if (spec.addresses.some((a) => a.includes(':')))
    out.push(
      {
        what: `default route via ${GATEWAY_V6}`,
        build: (s) => rtnl.newRoute(s, { dst: '::/0', index, gateway: GATEWAY_V6 }),
      },
      {
        what: `neighbour ${GATEWAY_V6}`,
        build: (s) => rtnl.replaceNeigh(s, { ip: GATEWAY_V6, mac: HOST_VETH_MAC, index }),
      },
    );
  return out;
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
        let netnsFd: number;
        try {
          netnsFd = openSync(spec.netns, 'r');
        } catch (err) {
          throw new PodLinkError(`network namespace ${spec.netns}: ${(err as Error).message}`, {
            cause: err,
          });
        }
        try {
          // One exchange: a stale host veth of the same name goes (an earlier ADD of the same container and
          // interface that died), the pair is made with its pod end in the pod's netns, and read back for both
          // ends' indexes.
          const [, , made] = await host.batch([
            {
              what: `delete stale ${spec.hostIfname}`,
              build: (s) => rtnl.delLink(s, spec.hostIfname),
              allow: [ENODEV, ENOENT],
            },
            {
              what: `create veth ${spec.hostIfname}`,
              build: (s) =>
                rtnl.newVeth(s, {
                  name: spec.hostIfname,
                  mtu: spec.mtu,
                  mac: HOST_VETH_MAC,
                  peer: { name: spec.ifname, mtu: spec.mtu, mac: spec.podMac, netnsFd },
                }),
            },
            { what: `find ${spec.hostIfname}`, build: (s) => rtnl.getLink(s, spec.hostIfname) },
          ]);
          const index = rtnl.readLinkIndex(made!);
          const peer = rtnl.readLinkPeerIndex(made!);
          if (index === undefined || peer === undefined)
            throw new Error(`find ${spec.hostIfname}: the kernel answered without the link or its peer`);
          // Then both ends at once, each in one exchange.
          // Settled, not raced: the node socket must be idle before the unwinding below uses it.
          const done = await Promise.allSettled([
            host.batch(hostRequests(spec, index)),
            withSocket(native, spec.netns, (pod) => pod.batch(podRequests(spec, peer))),
          ]);
          for (const d of done) if (d.status === 'rejected') throw d.reason;
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
        try {
          await host.request(`${name} down`, (s) => rtnl.linkDown(s, index));
        } catch (err) {
          // Gone since the lookup: the kernel was already taking it away (its pod's netns was deleted).
          if (isGone(err)) return { removed: false, gone: Promise.resolve() };
          throw err;
        }
        const gone = withSocket(native, opts.nodeNetns, (s) => deleteLink(s, index)).then(() => undefined);
        return { removed: true, gone };
      }),
  };
}
