// Derives the veth pair's parameters for a container from the CNI inputs. Pure.
import type { PodLinkSpec } from '../dataplane/pod-link-script.js';
import { hostVethName, podMac } from '../dataplane/veth-name.js';
import type { NetConf } from './config.js';
import type { CniEnv } from './env.js';

export function podLinkSpecFor(env: CniEnv, conf: NetConf, addresses: readonly string[]): PodLinkSpec {
  return {
    netns: env.netns,
    ifname: env.ifname,
    hostIfname: hostVethName(env.containerID, env.ifname),
    mtu: conf.mtu,
    podMac: podMac(env.containerID, env.ifname),
    addresses,
  };
}
