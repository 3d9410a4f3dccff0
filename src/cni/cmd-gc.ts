// GC (CNI 1.1): release every reservation whose attachment the runtime no longer lists, delete the host veths
// those attachments left behind, and remove crash debris from the store. Also swept: host veths of ours that are
// down and belong to no listed attachment, which is what a DEL leaves if the agent dies between taking the link
// down (DEL's answer) and its deletion just after (netlink-links.ts).
import { hostVethName } from '../dataplane/veth-name.js';
import { gc } from '../ipam/ipam.js';
import { type CmdContext, ipamStore, podLinks } from './context.js';
import { ipamToCniError } from './errors.js';

export async function cmdGc(ctx: CmdContext): Promise<void> {
  const { conf, deps } = ctx;
  const result = await gc(ipamStore(conf), conf.validAttachments ?? []).catch((err: unknown) => {
    throw ipamToCniError(err, 'garbage-collect addresses');
  });
  const links: string[] = [];
  const wiring = podLinks(deps);
  for (const a of result.released) {
    const name = hostVethName(a.owner.containerID, a.owner.ifname);
    if (await wiring.deleteHost(name)) links.push(name);
  }
  const listed = new Set((conf.validAttachments ?? []).map((a) => hostVethName(a.containerID, a.ifname)));
  for (const name of await wiring.retiredHostLinks()) {
    if (!listed.has(name) && (await wiring.deleteHost(name))) links.push(name);
  }
  deps.log.info(
    {
      released: result.released.map((a) => `${a.owner.containerID}/${a.owner.ifname}=${a.ip}`),
      links,
      debrisRemoved: result.debrisRemoved,
      unreadable: result.unreadable,
    },
    'garbage collected',
  );
}
