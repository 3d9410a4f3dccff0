// DEL: idempotent. Works with the netns gone or CNI_NETNS empty (containerd sends that once the task exited):
// the host veth is deleted from the node side (its pod end and host routes go with it), then the addresses
// are released. Anything already gone counts as done.
import { hostVethName } from '../dataplane/veth-name.js';
import { release } from '../ipam/ipam.js';
import { agentFor } from './agent-client.js';
import { podName } from './cmd-add.js';
import { type CmdContext, ipamStore, ownerOf, podLinks } from './context.js';
import { ipamToCniError } from './errors.js';

export async function cmdDel(ctx: CmdContext): Promise<void> {
  const { env, conf, deps } = ctx;
  const hostIfname = hostVethName(env.containerID, env.ifname);
  const removedLink = await podLinks(deps).deleteHost(hostIfname);
  const agent = agentFor(deps.agent, conf.agentSocket, conf.agentTimeoutMs);
  // Best effort: the agent also forgets endpoints whose IPAM record is gone.
  await agent
    ?.del(env.containerID, env.ifname)
    .catch((err: unknown) => deps.log.warn({ err }, 'agent not told of DEL'));
  const released = await release(ipamStore(conf), ownerOf(env)).catch((err: unknown) => {
    throw ipamToCniError(err, 'release addresses');
  });
  deps.log.info(
    { pod: podName(env.args), hostIfname, removedLink, released: released.map((a) => a.ip) },
    'pod network deleted',
  );
}
