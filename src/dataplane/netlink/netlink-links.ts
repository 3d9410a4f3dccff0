// Wires a pod through route-netlink (palisade-native.node) instead of `ip` processes: the same steps as the
// `ip -batch` scripts (hostSteps, podSteps of pod-link-script.ts), each as its message (rtnl.ts), so the kernel
// ends in the same state.
// Every request runs on a worker thread (the kernel takes ~1 ms to make a veth, ~20 ms to delete one), on a
// socket of the operation's own, so concurrent ADDs neither wait on the agent's event loop nor read each other's
// answers.
import { closeSync, openSync } from 'node:fs';
import { constants } from 'node:os';
import type { NativeAddon } from '../native.js';
import { PodLinkError, type PodLinks } from '../pod-link.js';
import { HOST_VETH_MAC, hostSteps, type LinkStep, podSteps } from '../pod-link-script.js';
import { isHostVethName } from '../veth-name.js';
import * as rtnl from './rtnl.js';
import { NetlinkError, type NetlinkRequest, type NetlinkSocket, withSocket } from './socket.js';

const ENOENT = constants.errno.ENOENT;
const ENODEV = constants.errno.ENODEV;
const EEXIST = constants.errno.EEXIST;
const isGone = (err: unknown) =>
  err instanceof NetlinkError && (err.errno === ENODEV || err.errno === ENOENT);

/** The link's index, or undefined when there is no such link. */
async function linkIndex(host: NetlinkSocket, name: string): Promise<number | undefined> {
  try {
    return rtnl.readLinkIndex(await host.request(`find ${name}`, (s) => rtnl.getLink(s, name)));
  } catch (err) {
    if (isGone(err)) return undefined;
    throw err;
  }
}

async function deleteLink(host: NetlinkSocket, link: string | number): Promise<boolean> {
  try {
    await host.request(`delete ${link}`, (s) => rtnl.delLink(s, link));
    return true;
  } catch (err) {
    if (isGone(err)) return false;
    throw err;
  }
}

/** A wiring step (pod-link-script.ts) as a request on the interface `index`, named `dev` in errors. */
function request(step: LinkStep, dev: string, index: number): NetlinkRequest {
  switch (step.op) {
    case 'addrgenmode-none':
      return { what: `addrgenmode none on ${dev}`, build: (s) => rtnl.addrGenModeNone(s, index) };
    case 'addr':
      return {
        what: `address ${step.cidr} on ${dev}`,
        build: (s) => rtnl.newAddr(s, index, step.cidr, { nodad: step.nodad }),
      };
    case 'up':
      return { what: `${dev} up`, build: (s) => rtnl.linkUp(s, index) };
    case 'route':
      return {
        what: `route ${step.dst}${step.gateway ? ` via ${step.gateway}` : ''} dev ${dev}`,
        build: (s) =>
          rtnl.newRoute(s, { dst: step.dst, index, ...(step.gateway ? { gateway: step.gateway } : {}) }),
      };
    case 'neigh':
      return {
        what: `neighbour ${step.ip} on ${dev}`,
        build: (s) => rtnl.replaceNeigh(s, { ip: step.ip, mac: step.mac, index }),
      };
  }
}

/**
 * Pod wiring through netlink. The node side is the caller's network namespace (the agent runs in the node's), or
 * `opts.nodeNetns` (tests, which must never touch the machine's own).
 */
export function netlinkPodLinks(native: NativeAddon, opts: { nodeNetns?: string } = {}): PodLinks {
  const onNode = <T>(fn: (s: NetlinkSocket) => Promise<T>) => withSocket(native, opts.nodeNetns, fn);
  return {
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
            host.batch(hostSteps(spec).map((step) => request(step, spec.hostIfname, index))),
            withSocket(native, spec.netns, (pod) =>
              pod.batch(podSteps(spec).map((step) => request(step, spec.ifname, peer))),
            ),
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
        const index = await linkIndex(host, name);
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
    retiredHostLinks: () =>
      onNode(async (host) =>
        rtnl
          .readLinks(await host.request('list links', rtnl.dumpLinks))
          .filter((l) => isHostVethName(l.name) && !l.up)
          .map((l) => l.name),
      ),
  };
}
