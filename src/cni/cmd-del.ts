// DEL: idempotent. Works with the netns gone or CNI_NETNS empty (containerd sends that once the task exited):
// the host veth is retired from the node side (down and unrouted; deleted, its pod end with it, at once or, in
// the agent, just after DEL answers: PodLinks.retire), then the addresses are released. Anything already gone
// counts as done.
import { hostVethName } from '../dataplane/veth-name.js';
import { release } from '../ipam/ipam.js';
import { phaseTimer } from '../util/phases.js';
import { agentFor } from './agent-client.js';
import { podName } from './cmd-add.js';
import { type CmdContext, ipamStore, ownerOf, podLinks } from './context.js';
import { ipamToCniError } from './errors.js';

export async function cmdDel(ctx: CmdContext): Promise<void> {
  const { env, conf, deps } = ctx;
  const hostIfname = hostVethName(env.containerID, env.ifname);
  const { ms, lap } = phaseTimer();
  // The link and the agent's endpoint go at the same time (the agent closes the pod's policy while the kernel
  // takes the link down); the address is released only once the link carries no route, so no new pod can get it
  // while a route still points at the old one.
  const agent = agentFor(deps.agent, conf.agentSocket, conf.agentTimeoutMs);
  const [link] = await Promise.all([
    podLinks(deps).retire(hostIfname),
    // Best effort: the agent also forgets endpoints whose IPAM record is gone.
    agent
      ?.del(env.containerID, env.ifname)
      .catch((err: unknown) => deps.log.warn({ err }, 'agent not told of DEL')),
  ]);
  const removedLink = link.removed;
  link.gone.catch((err: unknown) => deps.log.warn({ err, hostIfname }, 'host veth not deleted after DEL'));
  lap('unwire');
  const released = await release(ipamStore(conf), ownerOf(env)).catch((err: unknown) => {
    throw ipamToCniError(err, 'release addresses');
  });
  lap('ipam');
  deps.log.info(
    { pod: podName(env.args), hostIfname, removedLink, released: released.map((a) => a.ip), ms },
    'pod network deleted',
  );
}
