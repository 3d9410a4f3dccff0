// Derives the veth pair's parameters for a container from the CNI inputs. Pure apart from the random MAC bytes.
import { macFromBytes, type PodLinkSpec } from '../dataplane/pod-link-script.js';
import { hostVethName } from '../dataplane/veth-name.js';
import type { NetConf } from './config.js';
import type { CniEnv } from './env.js';

export function podLinkSpecFor(
  env: CniEnv,
  conf: NetConf,
  opts: { addresses: readonly string[]; podMacBytes: Uint8Array },
): PodLinkSpec {
  return {
    netns: env.netns,
    ifname: env.ifname,
    hostIfname: hostVethName(env.containerID, env.ifname),
    mtu: conf.mtu,
    podMac: macFromBytes(opts.podMacBytes),
    addresses: opts.addresses,
  };
}
