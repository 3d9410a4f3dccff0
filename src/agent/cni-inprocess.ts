// CNI invocations forwarded by the native shim (src/cni/shim/palisade-cni.c), run in the agent's process: the
// same runPlugin the Node plugin runs, so the answer is byte for byte what the plugin would print. What it saves:
// Node's start-up (~27 ms per exec), the plugin's round trip to the agent's socket (it calls the agent directly),
// and, with the native addon, the `ip` processes (pods are wired through netlink). Its log lines go to the
// agent's log, with the pod's container ID.
import { existsSync } from 'node:fs';
import type { AgentApi } from '../cni/agent-client.js';
import { runPlugin } from '../cni/plugin.js';
import type { NftExec } from '../dataplane/nft-exec.js';
import type { PodLinks } from '../dataplane/pod-link.js';
import type { Runner } from '../dataplane/runner.js';
import type { Logger } from '../util/log.js';
import type { CniAnswer } from './cni-socket.js';

/** `agent` absent: the plugin reaches the agent through the config's socket, as the Node plugin does. */
export function cniInProcess(deps: {
  runner: Runner;
  log: Logger;
  agent?: AgentApi;
  links?: PodLinks;
  podNft?: (netns: string) => NftExec;
}) {
  const log = deps.log.child({ component: 'cni' });
  return (env: Readonly<Record<string, string>>, stdin: string): Promise<CniAnswer> =>
    runPlugin(env, stdin, {
      runner: deps.runner,
      log,
      netnsExists: (p) => existsSync(p),
      ...(deps.agent ? { agent: deps.agent } : {}),
      ...(deps.links ? { links: deps.links } : {}),
      ...(deps.podNft ? { podNft: deps.podNft } : {}),
    });
}
