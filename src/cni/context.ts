// What every verb handler receives, and helpers they share.
import { ipPodLinks, type PodLinks } from '../dataplane/pod-link.js';
import { createFileStore } from '../ipam/file-store.js';
import type { Owner } from '../ipam/ipam.js';
import type { Store } from '../ipam/store.js';
import type { NetConf } from './config.js';
import type { CniEnv } from './env.js';
import { CniCode, CniError } from './errors.js';
import type { PluginDeps } from './plugin.js';

export interface CmdContext {
  readonly env: CniEnv;
  readonly conf: NetConf;
  readonly deps: PluginDeps;
}

/** The pod wiring this invocation uses (see PluginDeps.links). */
export function podLinks(deps: PluginDeps): PodLinks {
  return deps.links ?? ipPodLinks(deps.runner);
}

export function ownerOf(env: CniEnv): Owner {
  return { containerID: env.containerID, ifname: env.ifname };
}

export function ipamStore(conf: NetConf): Store {
  return createFileStore({ dataDir: conf.ipam.dataDir, network: conf.name });
}

/** ADD and CHECK need the pod's netns; a path that does not exist is the SPEC's "container unknown" (3). */
export function assertNetnsExists(ctx: CmdContext): void {
  if (!ctx.deps.netnsExists(ctx.env.netns)) {
    throw new CniError(
      CniCode.UnknownContainer,
      `CNI_NETNS: network namespace "${ctx.env.netns}" does not exist`,
      `container ${ctx.env.containerID}`,
    );
  }
}
