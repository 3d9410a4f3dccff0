// GC (CNI 1.1): release every reservation whose attachment the runtime no longer lists, delete the host veths
// those attachments left behind, and remove crash debris from the store.
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
