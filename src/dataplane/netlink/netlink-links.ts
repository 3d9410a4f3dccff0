// Wires a pod through route-netlink (palisade-native.node) instead of `ip` processes: the same steps as the
// `ip -batch` scripts of pod-link-script.ts, message for message (rtnl.ts), so the kernel ends in the same state.
// The node's socket stays open; a pod's is opened in its namespace for the ADD and closed after.
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

/** One socket and its sequence numbers. */
class Socket {
  private seq = 0;
  constructor(
    private readonly native: NativeAddon,
    readonly fd: number,
  ) {}

  /** Sends one request and returns the kernel's answer; an error answer throws NetlinkError naming `what`. */
  request(what: string, build: (seq: number) => Buffer): rtnl.NlMessage[] {
    this.seq = (this.seq + 1) >>> 0;
    const msgs = rtnl.splitMessages(this.native.netlinkExchange(this.fd, build(this.seq)));
    const err = rtnl.answerError(msgs);
    if (err && err.errno !== 0) throw new NetlinkError(what, err.errno, err.message);
    return msgs;
  }

  index(name: string): number {
    const index = rtnl.readLinkIndex(this.request(`find ${name}`, (s) => rtnl.getLink(s, name)));
    if (index === undefined) throw new Error(`find ${name}: the kernel answered without the link`);
    return index;
  }
}

const ENOENT = constants.errno.ENOENT;
const ENODEV = constants.errno.ENODEV;
const EEXIST = constants.errno.EEXIST;

/**
 * Pod wiring through netlink. The node side is the caller's network namespace (the agent runs in the node's), or
 * `opts.nodeNetns` (tests, which must never touch the machine's own).
 */
export function netlinkPodLinks(native: NativeAddon, opts: { nodeNetns?: string } = {}): PodLinks {
  let node: Socket | undefined;
  const nodeSocket = () => {
    node ??= new Socket(native, native.netlinkOpen(opts.nodeNetns));
    return node;
  };

  const hostExists = (name: string): boolean => {
    try {
      nodeSocket().index(name);
      return true;
    } catch (err) {
      if (err instanceof NetlinkError && (err.errno === ENODEV || err.errno === ENOENT)) return false;
      throw err;
    }
  };

  /** Synchronous, for unwinding a failed ADD (the link is new: no traffic, quick to remove). */
  const deleteHost = (name: string): boolean => {
    try {
      nodeSocket().request(`delete ${name}`, (s) => rtnl.delLink(s, name));
      return true;
    } catch (err) {
      if (err instanceof NetlinkError && (err.errno === ENODEV || err.errno === ENOENT)) return false;
      throw err;
    }
  };

  /**
   * DEL's deletion: the kernel acknowledges a link's deletion only after an RCU grace period (~10-30 ms), so it
   * runs on a worker thread, on a socket of its own, while the event loop goes on.
   */
  const deleteHostAsync = async (name: string): Promise<boolean> => {
    const fd = native.netlinkOpen(opts.nodeNetns);
    try {
      const msgs = rtnl.splitMessages(await native.netlinkExchangeAsync(fd, rtnl.delLink(1, name)));
      const err = rtnl.answerError(msgs);
      if (!err || err.errno === 0) return true;
      if (err.errno === ENODEV || err.errno === ENOENT) return false;
      throw new NetlinkError(`delete ${name}`, err.errno, err.message);
    } finally {
      native.netlinkClose(fd);
    }
  };

  const wireHost = (spec: PodLinkSpec, netnsFd: number): void => {
    const host = nodeSocket();
    const v6 = spec.addresses.some((a) => a.includes(':'));
    host.request(`create veth ${spec.hostIfname}`, (s) =>
      rtnl.newVeth(s, {
        name: spec.hostIfname,
        mtu: spec.mtu,
        mac: HOST_VETH_MAC,
        peer: { name: spec.ifname, mtu: spec.mtu, mac: spec.podMac, netnsFd },
      }),
    );
    const index = host.index(spec.hostIfname);
    if (v6) {
      host.request(`addrgenmode none on ${spec.hostIfname}`, (s) => rtnl.addrGenModeNone(s, index));
      host.request(`address ${GATEWAY_V6}/64 on ${spec.hostIfname}`, (s) =>
        rtnl.newAddr(s, index, `${GATEWAY_V6}/64`, { nodad: true }),
      );
    }
    host.request(`${spec.hostIfname} up`, (s) => rtnl.linkUp(s, index));
    for (const a of spec.addresses)
      host.request(`route ${hostPrefix(a)} dev ${spec.hostIfname}`, (s) =>
        rtnl.newRoute(s, { dst: hostPrefix(a), index }),
      );
  };

  const wirePod = (spec: PodLinkSpec): void => {
    const pod = new Socket(native, native.netlinkOpen(spec.netns));
    try {
      const dev = spec.ifname;
      const index = pod.index(dev);
      for (const a of spec.addresses)
        pod.request(`address ${hostPrefix(a)} on ${dev}`, (s) =>
          rtnl.newAddr(s, index, hostPrefix(a), { nodad: a.includes(':') }),
        );
      pod.request(`${dev} up`, (s) => rtnl.linkUp(s, index));
      if (spec.addresses.some((a) => !a.includes(':'))) {
        pod.request(`route ${GATEWAY_V4}/32 dev ${dev}`, (s) =>
          rtnl.newRoute(s, { dst: `${GATEWAY_V4}/32`, index }),
        );
        pod.request(`default route via ${GATEWAY_V4}`, (s) =>
          rtnl.newRoute(s, { dst: '0.0.0.0/0', index, gateway: GATEWAY_V4 }),
        );
        pod.request(`neighbour ${GATEWAY_V4}`, (s) =>
          rtnl.replaceNeigh(s, { ip: GATEWAY_V4, mac: HOST_VETH_MAC, index }),
        );
      }
      if (spec.addresses.some((a) => a.includes(':'))) {
        pod.request(`default route via ${GATEWAY_V6}`, (s) =>
          rtnl.newRoute(s, { dst: '::/0', index, gateway: GATEWAY_V6 }),
        );
        pod.request(`neighbour ${GATEWAY_V6}`, (s) =>
          rtnl.replaceNeigh(s, { ip: GATEWAY_V6, mac: HOST_VETH_MAC, index }),
        );
      }
    } finally {
      native.netlinkClose(pod.fd);
    }
  };

  return {
    kind: 'netlink',
    async create(spec) {
      if (hostExists(spec.hostIfname)) deleteHost(spec.hostIfname);
      let netnsFd: number;
      try {
        netnsFd = openSync(spec.netns, 'r');
      } catch (err) {
        throw new PodLinkError(`network namespace ${spec.netns}: ${(err as Error).message}`, { cause: err });
      }
      try {
        wireHost(spec, netnsFd);
        wirePod(spec);
      } catch (err) {
        deleteHost(spec.hostIfname);
        if (err instanceof NetlinkError && err.errno === EEXIST && err.what.startsWith('create veth'))
          throw new PodLinkError(
            `interface "${spec.ifname}" already exists in network namespace ${spec.netns}`,
            {
              cause: err,
            },
          );
        throw err;
      } finally {
        closeSync(netnsFd);
      }
    },
    deleteHost: deleteHostAsync,
  };
}
