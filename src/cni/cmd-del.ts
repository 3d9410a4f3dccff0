// DEL: idempotent. Works with the netns gone or CNI_NETNS empty (containerd sends that once the task exited):
// the host veth is deleted from the node side (its pod end and host routes go with it), then the addresses
// are released. Anything already gone counts as done.
import { deleteHostLink } from '../dataplane/pod-link.js';
import { hostVethName } from '../dataplane/veth-name.js';
import { release } from '../ipam/ipam.js';
import { askAgent } from './agent-client.js';
import { podName } from './cmd-add.js';
import { type CmdContext, ipamStore, ownerOf } from './context.js';
import { ipamToCniError } from './errors.js';

export async function cmdDel(ctx: CmdContext): Promise<void> {
  const { env, conf, deps } = ctx;
  const hostIfname = hostVethName(env.containerID, env.ifname);
  const removedLink = await deleteHostLink(deps.runner, hostIfname);
  if (conf.agentSocket) {
    // Best effort: the agent also forgets endpoints whose IPAM record is gone.
    await askAgent(
      conf.agentSocket,
      { op: 'del', containerID: env.containerID, ifname: env.ifname },
      conf.agentTimeoutMs,
    ).catch((err: unknown) => deps.log.warn({ err }, 'agent not told of DEL'));
  }
  const released = await release(ipamStore(conf), ownerOf(env)).catch((err: unknown) => {
    throw ipamToCniError(err, 'release addresses');
  });
  deps.log.info(
    { pod: podName(env.args), hostIfname, removedLink, released: released.map((a) => a.ip) },
    'pod network deleted',
  );
}
