// The plugin's composition: env + stdin in, one JSON document (or nothing) and an exit code out.
// Every failure becomes exactly one SPEC error on stdout; nothing else is ever written there.
import type { NftExec } from '../dataplane/nft-exec.js';
import type { PodLinks } from '../dataplane/pod-link.js';
import type { Runner } from '../dataplane/runner.js';
import type { Logger } from '../util/log.js';
import type { AgentApi } from './agent-client.js';
import { cmdAdd } from './cmd-add.js';
import { cmdCheck } from './cmd-check.js';
import { cmdDel } from './cmd-del.js';
import { cmdGc } from './cmd-gc.js';
import { redirectAdd, redirectCheck, redirectDel } from './cmd-redirect.js';
import { cmdStatus } from './cmd-status.js';
import { decodeStdin, parseNetConf, requestedVersion } from './config.js';
import { type CniEnv, parseCniEnv } from './env.js';
import { CniCode, CniError, errorToJson, toCniError } from './errors.js';
import { isRedirectConf, parseRedirectConf, type RedirectConf } from './redirect-config.js';
import { isSupported, LATEST_VERSION, versionResult } from './version.js';

export interface PluginDeps {
  readonly runner: Runner;
  readonly log: Logger;
  /** Whether a network namespace path exists (fs in production, a fake in tests). */
  readonly netnsExists: (path: string) => boolean;
  /** How pods are wired: netlink in the agent's process; `ip` processes through the runner when absent. */
  readonly links?: PodLinks;
  /** nftables in a pod's netns: libnftables in the agent's process; `nft` processes through the runner when absent. */
  readonly podNft?: (netns: string) => NftExec;
  /** The agent this invocation runs inside (the shim's hand-off), used directly instead of its socket. */
  readonly agent?: AgentApi;
}

export interface PluginOutput {
  readonly stdout: string;
  readonly exitCode: number;
}

function answer(doc: unknown): PluginOutput {
  return { stdout: `${JSON.stringify(doc)}\n`, exitCode: 0 };
}

/** The pod's name for log lines, from CNI_ARGS as the kubelet passes it. */
function podOf(env: CniEnv): { pod?: string } {
  const ns = env.args.K8S_POD_NAMESPACE;
  const name = env.args.K8S_POD_NAME;
  return ns && name ? { pod: `${ns}/${name}` } : {};
}

/** Chained redirect mode: ADD and CHECK decide per pod; DEL undoes ADD; GC and STATUS do nothing. */
async function runRedirect(env: CniEnv, conf: RedirectConf, deps: PluginDeps): Promise<PluginOutput> {
  const log = deps.log.child({
    cmd: env.command,
    mode: 'redirect',
    ...podOf(env),
    containerID: env.containerID,
  });
  const ctx = { env, conf, deps: { ...deps, log } };
  switch (env.command) {
    case 'ADD':
      return answer(await redirectAdd(ctx));
    case 'CHECK':
      await redirectCheck(ctx);
      return { stdout: '', exitCode: 0 };
    case 'DEL':
      await redirectDel(ctx);
      return { stdout: '', exitCode: 0 };
    default:
      return { stdout: '', exitCode: 0 };
  }
}

export async function runPlugin(
  env: Readonly<Record<string, string | undefined>>,
  stdin: string,
  deps: PluginDeps,
): Promise<PluginOutput> {
  let raw: Record<string, unknown> | undefined;
  try {
    const cniEnv = parseCniEnv(env);
    if (cniEnv.command === 'VERSION') return answer(versionResult());
    raw = decodeStdin(stdin);
    if (isRedirectConf(raw)) return await runRedirect(cniEnv, parseRedirectConf(raw, cniEnv.command), deps);
    const conf = parseNetConf(raw, cniEnv.command);
    const log = deps.log.child({
      cmd: cniEnv.command,
      ...podOf(cniEnv),
      containerID: cniEnv.containerID,
      ifname: cniEnv.ifname,
    });
    const ctx = { env: cniEnv, conf, deps: { ...deps, log } };
    switch (cniEnv.command) {
      case 'ADD':
        return answer(await cmdAdd(ctx));
      case 'DEL':
        await cmdDel(ctx);
        return { stdout: '', exitCode: 0 };
      case 'CHECK':
        await cmdCheck(ctx);
        return { stdout: '', exitCode: 0 };
      case 'GC':
        await cmdGc(ctx);
        return { stdout: '', exitCode: 0 };
      case 'STATUS':
        await cmdStatus(ctx);
        return { stdout: '', exitCode: 0 };
    }
    throw new CniError(CniCode.InvalidEnvironment, `CNI_COMMAND: unhandled command "${cniEnv.command}"`);
  } catch (err) {
    const cniErr = toCniError(err);
    if (cniErr.code === CniCode.Internal) deps.log.error({ err }, 'plugin failed');
    const requested = requestedVersion(raw);
    const version = requested && isSupported(requested) ? requested : LATEST_VERSION;
    return { stdout: `${JSON.stringify(errorToJson(cniErr, version))}\n`, exitCode: 1 };
  }
}
