// Chained redirect mode's verbs. ADD decides (src/chained/selection.ts) from the pod's facts and, for a selected
// pod, installs the redirect table in the pod's netns in one `nft -f` transaction; either way it hands the
// previous plugin's result on unchanged, so it never breaks the chain for pods it does not select. CHECK
// verifies the table of a selected pod. DEL un-applies ADD: it deletes the table, since a runtime may DEL and
// ADD again in a netns that lives on.

import {
  listsRedirectTable,
  REDIRECT_TABLE,
  type RedirectSpec,
  renderRedirectScript,
} from '../chained/redirect-rules.js';
import { type Decision, decideRedirect, excludedNamespace } from '../chained/selection.js';
import { type NftExec, processNft } from '../dataplane/nft-exec.js';
import { CommandError, isNotFound } from '../dataplane/runner.js';
import type { CniEnv } from './env.js';
import { CniCode, CniError } from './errors.js';
import type { PluginDeps } from './plugin.js';
import { podFacts } from './pod-facts.js';
import type { RedirectConf } from './redirect-config.js';
import { removeMarker, writeMarker } from './redirect-marker.js';

export interface RedirectContext {
  readonly env: CniEnv;
  readonly conf: RedirectConf;
  readonly deps: PluginDeps;
}

function assertNetns(ctx: RedirectContext): void {
  if (!ctx.deps.netnsExists(ctx.env.netns)) {
    throw new CniError(
      CniCode.UnknownContainer,
      `CNI_NETNS: network namespace "${ctx.env.netns}" does not exist`,
    );
  }
}

/** The decision for this ADD or CHECK, with the pod's name for the log. */
async function decide(ctx: RedirectContext): Promise<{ pod: string; decision: Decision }> {
  const { env, conf, deps } = ctx;
  const namespace = env.args.K8S_POD_NAMESPACE;
  const name = env.args.K8S_POD_NAME;
  if (!namespace || !name) {
    const reason = 'not a Kubernetes pod: CNI_ARGS has no K8S_POD_NAMESPACE and K8S_POD_NAME';
    return { pod: env.containerID, decision: { kind: 'skip', reason } };
  }
  const pod = `${namespace}/${name}`;
  const cfg = { excludeNamespaces: conf.excludeNamespaces, profile: conf.profile };
  const excluded = excludedNamespace(cfg, namespace);
  if (excluded) return { pod, decision: excluded };
  const facts = await podFacts(conf, namespace, name, deps.log, deps.agent);
  return { pod, decision: decideRedirect(cfg, facts.namespace, facts.pod) };
}

function specFor(conf: RedirectConf, ports: readonly number[]): RedirectSpec {
  return {
    inboundPorts: ports,
    proxyPort: conf.proxyPort,
    ...(conf.proxyUid !== undefined ? { proxyUid: conf.proxyUid } : {}),
    ...(conf.proxyGid !== undefined ? { proxyGid: conf.proxyGid } : {}),
    ...(conf.proxyMark !== undefined ? { proxyMark: conf.proxyMark } : {}),
    ...(conf.outbound ? { outbound: conf.outbound } : {}),
  };
}

export async function redirectAdd(ctx: RedirectContext): Promise<Record<string, unknown>> {
  const { env, conf, deps } = ctx;
  assertNetns(ctx);
  const { pod, decision } = await decide(ctx);
  if (decision.kind === 'invalid') {
    throw new CniError(CniCode.InvalidNetworkConfig, `pod ${pod}: ${decision.reason}`);
  }
  if (decision.kind === 'skip') {
    deps.log.info({ pod, reason: decision.reason }, 'traffic not redirected');
    return conf.prevResult ?? {};
  }
  let script: string;
  try {
    script = renderRedirectScript(specFor(conf, decision.ports));
  } catch (err) {
    throw new CniError(
      CniCode.InvalidNetworkConfig,
      `pod ${pod}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  try {
    await withPodNft(ctx, (nft) => nft.run(script));
  } catch (err) {
    throw new CniError(
      CniCode.DataplaneFailed,
      `pod ${pod}: failed to install the redirect table in ${env.netns}`,
      err instanceof Error ? err.message : String(err),
    );
  }
  // A redirect decision is only reached with both names in CNI_ARGS (decide() skips otherwise).
  writeMarker(conf.markerDir, {
    namespace: env.args.K8S_POD_NAMESPACE ?? '',
    name: env.args.K8S_POD_NAME ?? '',
    uid: env.args.K8S_POD_UID ?? '',
    containerID: env.containerID,
    netns: env.netns,
    ports: decision.ports,
    at: new Date().toISOString(),
  });
  deps.log.info(
    { pod, ports: decision.ports, proxyPort: conf.proxyPort, reason: decision.reason },
    'traffic redirected to the proxy',
  );
  return conf.prevResult ?? {};
}

/** CHECK: a pod that is redirected has the table, with the inbound redirect to the proxy port. */
export async function redirectCheck(ctx: RedirectContext): Promise<void> {
  const { env, conf } = ctx;
  assertNetns(ctx);
  const { pod, decision } = await decide(ctx);
  if (decision.kind !== 'redirect') return;
  let listing: string;
  try {
    listing = await withPodNft(ctx, (nft) => nft.command(['list', 'table', 'inet', REDIRECT_TABLE]));
  } catch (err) {
    throw new CniError(
      CniCode.CheckFailed,
      `pod ${pod}: table inet ${REDIRECT_TABLE} is missing from ${env.netns}`,
      err instanceof Error ? err.message : String(err),
    );
  }
  if (!listing.includes(`redirect to :${conf.proxyPort}`)) {
    throw new CniError(
      CniCode.CheckFailed,
      `pod ${pod}: table inet ${REDIRECT_TABLE} has no redirect to :${conf.proxyPort}`,
    );
  }
  for (const p of decision.ports) {
    if (!new RegExp(`\\b${p}\\b`).test(listing)) {
      throw new CniError(
        CniCode.CheckFailed,
        `pod ${pod}: table inet ${REDIRECT_TABLE} does not redirect port ${p}`,
      );
    }
  }
}

/**
 * A path that is no longer a namespace (unmounted), in nsenter's words or the native addon's; a path that is gone
 * is "not found".
 */
function notANetns(err: unknown): boolean {
  return (
    err instanceof CommandError &&
    /^nsenter: reassociate to namespace 'ns\/net' failed|^cannot enter network namespace .*: Invalid argument/m.test(
      err.stderr,
    )
  );
}

/** Runs `fn` with nftables in the pod's netns (see PluginDeps.podNft), releasing it after. */
async function withPodNft<T>(ctx: RedirectContext, fn: (nft: NftExec) => Promise<T>): Promise<T> {
  const nft = (ctx.deps.podNft ?? ((netns: string) => processNft(ctx.deps.runner, netns)))(ctx.env.netns);
  try {
    return await fn(nft);
  } finally {
    await nft.close();
  }
}

/**
 * Deletes the redirect table from the pod's netns when it is there; true when it deleted it. A listing first:
 * most DELs are of pods ADD did not redirect, and a delete costs an RCU wait even when it fails. A table or a
 * netns already gone (DEL twice, a netns the runtime removed, CNI_NETNS empty) is success.
 */
async function removeRedirectTable(ctx: RedirectContext, who: string): Promise<boolean> {
  const { env, deps } = ctx;
  if (!env.netns || !deps.netnsExists(env.netns)) return false;
  try {
    return await withPodNft(ctx, async (nft) => {
      if (!listsRedirectTable(await nft.command(['list', 'tables', 'inet']))) return false;
      await nft.command(['delete', 'table', 'inet', REDIRECT_TABLE]);
      return true;
    });
  } catch (err) {
    // The netns went (nsenter: "cannot open …: No such file or directory") or is no longer one, or the table
    // went since the listing (nft: "No such file or directory"): nothing is left to undo.
    if (isNotFound(err) || notANetns(err)) return false;
    throw new CniError(
      CniCode.DataplaneFailed,
      `${who}: failed to delete table inet ${REDIRECT_TABLE} in ${env.netns}`,
      err instanceof Error ? err.message : String(err),
    );
  }
}

/**
 * DEL: un-applies ADD, so that an ADD again in the same netns starts clean: the redirect table goes from the
 * pod's netns, then the pod's marker, if this sandbox's. Idempotent; success when the netns is gone.
 */
export async function redirectDel(ctx: RedirectContext): Promise<void> {
  const { env, conf, deps } = ctx;
  const namespace = env.args.K8S_POD_NAMESPACE;
  const name = env.args.K8S_POD_NAME;
  const who = namespace && name ? `pod ${namespace}/${name}` : `container ${env.containerID}`;
  const removedTable = await removeRedirectTable(ctx, who);
  if (namespace && name) {
    removeMarker(conf.markerDir, {
      uid: env.args.K8S_POD_UID,
      namespace,
      name,
      containerID: env.containerID,
    });
  }
  deps.log.info({ netns: env.netns, removedTable }, 'redirect undone');
}
