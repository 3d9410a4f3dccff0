// ADD: reserve addresses, wire the veth pair, route; unwind everything if any step fails.

import { ensureForwarding } from '../dataplane/pod-link.js';
import { GATEWAY_V4, GATEWAY_V6, HOST_VETH_MAC } from '../dataplane/pod-link-script.js';
import { allocate, release } from '../ipam/ipam.js';
import { phaseTimer } from '../util/phases.js';
import { AgentUnreachableError, agentFor } from './agent-client.js';
import { assertNetnsExists, type CmdContext, ipamStore, ownerOf, podLinks } from './context.js';
import { CniCode, CniError, ipamToCniError } from './errors.js';
import { podLinkSpecFor } from './pod-link-spec.js';
import { formatResult, type Result } from './result.js';

export async function cmdAdd(ctx: CmdContext): Promise<Record<string, unknown>> {
  const { env, conf, deps } = ctx;
  assertNetnsExists(ctx);
  const store = ipamStore(conf);
  const owner = ownerOf(env);
  const links = podLinks(deps);
  // Where an ADD's time goes, in its log line: address reservation, wiring, and the wait for the pod's policy.
  const { ms, lap } = phaseTimer();
  let allocations: Awaited<ReturnType<typeof allocate>>;
  try {
    allocations = await allocate(store, conf.ipam, owner);
    lap('ipam');
  } catch (err) {
    throw ipamToCniError(err, 'reserve an address');
  }
  const spec = podLinkSpecFor(
    env,
    conf,
    allocations.map((a) => a.ip),
  );
  try {
    ensureForwarding(new Set(allocations.map((a) => a.family)));
    await links.create(spec);
    lap('wire');
  } catch (err) {
    await release(store, owner).catch((releaseErr: unknown) =>
      deps.log.error({ err: releaseErr }, 'failed to release addresses after a failed ADD'),
    );
    const message = err instanceof Error ? err.message : String(err);
    throw new CniError(CniCode.DataplaneFailed, `failed to wire ${env.ifname} in ${env.netns}`, message, {
      cause: err,
    });
  }
  const agent = agentFor(deps.agent, conf.agentSocket, conf.agentTimeoutMs);
  if (agent) {
    try {
      await agent.add({
        containerID: env.containerID,
        ifname: env.ifname,
        interface: spec.hostIfname,
        ips: spec.addresses,
        namespace: env.args.K8S_POD_NAMESPACE,
        name: env.args.K8S_POD_NAME,
      });
      lap('policy');
    } catch (err) {
      // No pod runs without its policy: undo the wiring and let the runtime retry.
      await links
        .deleteHost(spec.hostIfname)
        .catch((e: unknown) => deps.log.error({ err: e }, 'unwind failed'));
      await release(store, owner).catch((e: unknown) => deps.log.error({ err: e }, 'unwind failed'));
      if (!(err instanceof AgentUnreachableError)) throw err;
      throw new CniError(
        CniCode.TryAgainLater,
        `${err.message}; pod not wired until its policy can be programmed`,
      );
    }
  }
  deps.log.info(
    { pod: podName(env.args), addresses: spec.addresses, hostIfname: spec.hostIfname, ms },
    'pod network added',
  );
  const result: Result = {
    interfaces: [
      { name: spec.hostIfname, mac: HOST_VETH_MAC, mtu: conf.mtu },
      { name: env.ifname, mac: spec.podMac, mtu: conf.mtu, sandbox: env.netns },
    ],
    ips: allocations.map((a) => ({
      address: a.family === 4 ? `${a.ip}/32` : `${a.ip}/128`,
      gateway: a.family === 4 ? GATEWAY_V4 : GATEWAY_V6,
      interface: 1,
    })),
    routes: [
      ...(allocations.some((a) => a.family === 4) ? [{ dst: '0.0.0.0/0', gw: GATEWAY_V4 }] : []),
      ...(allocations.some((a) => a.family === 6) ? [{ dst: '::/0', gw: GATEWAY_V6 }] : []),
    ],
    dns: {},
  };
  return formatResult(result, conf.cniVersion);
}

export function podName(args: Readonly<Record<string, string>>): string | undefined {
  const ns = args.K8S_POD_NAMESPACE;
  const name = args.K8S_POD_NAME;
  return ns && name ? `${ns}/${name}` : undefined;
}
