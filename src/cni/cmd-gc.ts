// GC (CNI 1.1): release every reservation whose attachment the runtime no longer lists, delete the host veths
// those attachments left behind, and remove crash debris from the store.
import { deleteHostLink } from '../dataplane/pod-link.js';
import { hostVethName } from '../dataplane/veth-name.js';
import { gc } from '../ipam/ipam.js';
import { type CmdContext, ipamStore } from './context.js';

export async function cmdGc(ctx: CmdContext): Promise<void> {
  const { conf, deps } = ctx;
  const { released, debrisRemoved } = await gc(ipamStore(conf), conf.validAttachments ?? []);
  const links: string[] = [];
  for (const a of released) {
    const name = hostVethName(a.owner.containerID, a.owner.ifname);
    if (await deleteHostLink(deps.runner, name)) links.push(name);
  }
  deps.log.info(
    {
      released: released.map((a) => `${a.owner.containerID}/${a.owner.ifname}=${a.ip}`),
      links,
      debrisRemoved,
    },
    'garbage collected',
  );
}
