// STATUS (CNI 1.1): can this plugin serve an ADD now? The IPAM store must be usable and have free addresses.
import { freeCount } from '../ipam/ipam.js';
import { type CmdContext, ipamStore } from './context.js';
import { CniCode, CniError } from './errors.js';

export async function cmdStatus(ctx: CmdContext): Promise<void> {
  let free: number;
  try {
    free = await freeCount(ipamStore(ctx.conf), ctx.conf.ipam);
  } catch (err) {
    throw new CniError(CniCode.PluginNotAvailable, 'IPAM store is not usable', String(err), { cause: err });
  }
  if (free === 0) {
    throw new CniError(
      CniCode.PluginNotAvailable,
      'no free addresses: every range of the network is allocated',
    );
  }
}
