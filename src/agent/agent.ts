// The node agent's composition root: datastore → reconciler (compile, apply) → kernel; the CNI hand-off
// socket; health, metrics and status over HTTP; periodic drift repair. Everything is wired here by hand.
import type { Server } from 'node:net';
import { podFactsOf } from '../chained/selection.js';
import type { AgentApi } from '../cni/agent-client.js';
import { listLinkNames } from '../dataplane/host-links.js';
import { LIBIPSEC_IFACE } from '../dataplane/ipsec.js';
import { loadNative, nativeUnavailableReason } from '../dataplane/native.js';
import { netlinkConntrack } from '../dataplane/netlink/conntrack-netlink.js';
import { netlinkPodLinks } from '../dataplane/netlink/netlink-links.js';
import { createNftApplier } from '../dataplane/nft-apply.js';
import { readRuleCounters } from '../dataplane/nft-counters.js';
import { createNftExec, libNft, type NftExec } from '../dataplane/nft-exec.js';
import type { Runner } from '../dataplane/runner.js';
import type { Datastore } from '../datastore/types.js';
import { DEFAULT_FAILSAFES, type Failsafes, formatFailsafeList } from '../model/failsafe.js';
import type { HostEndpoint } from '../model/host-endpoint.js';
import { STRICT_CHAINS } from '../policy/names.js';
import type { Logger } from '../util/log.js';
import { cniInProcess } from './cni-inprocess.js';
import { serveHandoff } from './cni-socket.js';
import { localAddresses, RevocationScheduler } from './conntrack.js';
import type { Encryption, EncryptionWarning } from './encryption.js';
import { EndpointRegistry } from './endpoints.js';
import { createConfirmWindow } from './host-confirm.js';
import type { HostEndpointController } from './host-endpoint-desired.js';
import { HostGuard, type HostGuardOptions } from './host-guard.js';
import { createInterfaceCheck } from './host-interfaces.js';
import type { HostReport } from './host-report.js';
import { serveHttp } from './http.js';
import { endpointsFromIpam } from './ipam-endpoints.js';
import { createIpsecEncryption, type IpsecSettings } from './ipsec-encryption.js';
import { createAgentMetrics } from './metrics.js';
import { Reconciler, type SyncStats } from './reconciler.js';
import { type RepairApi, RepairController, type RepairOptions } from './repair.js';
import {
  createWireguardEncryption,
  type WireguardSettings,
  wireguardIfaces,
} from './wireguard-encryption.js';

export interface AgentOptions {
  readonly node: string;
  readonly datastore: Datastore;
  /** The node's IPAM store (palisade-cni's ipam.dataDir) and network name: endpoints after a restart. */
  readonly ipamDir: string;
  readonly network: string;
  readonly cniSocket: string;
  /** host:port or unix:/path */
  readonly listen: string;
  readonly resyncMs: number;
  /**
   * How long after a sync that changed the table the established connections it now denies are ended
   * (their conntrack entries deleted): 0 = at once, < 0 = never. Default 0.
   */
  readonly revokeDelayMs?: number;
  /** Chained mode's repair controller (src/agent/repair.ts): off when absent. */
  readonly repair?: { readonly options: Omit<RepairOptions, 'node'>; readonly api: RepairApi };
  /** Merge the policies of a pod selected by more than this many (NodeCompilerOptions.mergeAbove). */
  readonly mergeAbove?: number;
  /**
   * After every sync, the policies it rejected (none: every earlier one is fixed). On Kubernetes, the
   * PolicyRejected event recorder (src/datastore/kube-events.ts). A failure is logged; syncing goes on.
   */
  readonly onDiagnostics?: (diagnostics: SyncStats['diagnostics']) => Promise<void> | void;
  /** The host endpoint controller (src/datastore/kube-host-endpoint-controller.ts): off when absent. */
  readonly hostEndpoint?: HostEndpointController;
  /** Host policy: failsafes, and lockout protection (host-guard.ts, host-confirm.ts). */
  readonly hostPolicy?: HostPolicyOptions;
  /**
   * Host policy reporting (on Kubernetes, src/datastore/kube-host-status.ts): what the node knows after every
   * sync, and whenever its links change (listed when its HostEndpoints' interfaces change, and each resync
   * interval while they name any: host-interfaces.ts). Absent: nothing is reported and no link is listed.
   */
  readonly onHostReport?: (report: HostReport) => void;
  /**
   * Encryption between nodes (issue 12): WireGuard or IPsec with these settings, strict (what would reach a remote
   * node's pods outside the tunnel is dropped). Absent: off.
   */
  readonly encryption?: WireguardSettings | IpsecSettings;
  /** Encryption's problems as they change (on Kubernetes, Warning Events on the Nodes concerned). */
  readonly onEncryptionWarnings?: (warnings: readonly EncryptionWarning[]) => void;
}

export interface HostPolicyOptions {
  /** Default DEFAULT_FAILSAFES. */
  readonly failsafes?: Failsafes;
  /** The first line: the connections checked before a change (absent: lockout protection off). */
  readonly lockout?: Pick<HostGuardOptions, 'apiServers' | 'dnsServers'>;
  /** The second line: after a host change, the API server must answer within windowMs (absent: off). */
  readonly confirm?: { readonly windowMs: number; readonly probe: () => Promise<boolean> };
}

export interface RunningAgent {
  readonly reconciler: Reconciler;
  stop(): Promise<void>;
}

/** How long a sync waits for the revocation it triggered before reporting its revision programmed. */
const REVOKE_WAIT_MS = 1000;

/** How often the tunnel's interface is checked when encryption is on. */
const TUNNEL_CHECK_MS = 1000;

/** How long a CNI hand-off waits for the datastore to know its pod (the API can lag the kubelet). */
const POD_WAIT_MS = 10_000;

/** How long a chained-mode facts request waits for an unknown pod before answering "not known". */
const FACTS_WAIT_MS = 2_000;

/** The pod `namespace/name` once the datastore knows it, polling up to `timeoutMs`; undefined after that. */
async function findPod(datastore: Datastore, namespace: string, name: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pod = datastore.snapshot().pods.find((p) => p.namespace === namespace && p.name === name);
    if (pod || Date.now() > deadline) return pod;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A pod's and its namespace's facts from the datastore, waiting up to `waitMs` for the pod to appear. */
async function podFacts(datastore: Datastore, namespace: string, name: string, waitMs: number) {
  const pod = await findPod(datastore, namespace, name, waitMs);
  const snap = datastore.snapshot();
  const ns = snap.namespaces.find((n) => n.name === namespace);
  return {
    pod: pod ? podFactsOf(pod) : null,
    namespace: ns ? { name: ns.name, labels: ns.labels } : null,
    revision: snap.revision,
  };
}

/**
 * Policy is decided by the pod's labels, so programming an endpoint the datastore does not know yet would
 * leave it unprotected: wait for the pod to appear, or fail (the plugin then answers "try again later").
 */
async function waitForPod(datastore: Datastore, namespace: string, name: string, timeoutMs: number) {
  if (!(await findPod(datastore, namespace, name, timeoutMs)))
    throw new Error(`pod ${namespace}/${name} is not known to the datastore after ${timeoutMs} ms`);
}

/** The interfaces pod traffic to other nodes leaves by: the strict rules let nothing else out to their pods. */
function tunnelIfacesOf(settings: WireguardSettings | IpsecSettings): string[] {
  return settings.backend === 'wireguard' ? wireguardIfaces(settings.iface) : [LIBIPSEC_IFACE];
}

function startEncryption(
  opts: AgentOptions,
  nft: NftExec,
  deps: { runner: Runner },
  log: Logger,
): Encryption | undefined {
  const settings = opts.encryption;
  const counters = () => readRuleCounters(nft, [STRICT_CHAINS.forward, STRICT_CHAINS.output]);
  if (settings?.backend === 'wireguard')
    return createWireguardEncryption(opts.node, settings, {
      runner: deps.runner,
      log,
      annotate: (key, value) => opts.datastore.annotateNode(opts.node, key, value),
      counters,
      ...(opts.onEncryptionWarnings ? { warnings: opts.onEncryptionWarnings } : {}),
    });
  if (settings?.backend === 'ipsec')
    return createIpsecEncryption(opts.node, settings, {
      runner: deps.runner,
      log,
      counters,
      ...(opts.onEncryptionWarnings ? { warnings: opts.onEncryptionWarnings } : {}),
    });
  return undefined;
}

function closeServer(s: Server): Promise<void> {
  return new Promise((resolve) => s.close(() => resolve()));
}

export async function startAgent(
  opts: AgentOptions,
  deps: { runner: Runner; log: Logger },
): Promise<RunningAgent> {
  const log = deps.log.child({ component: 'agent', node: opts.node });
  // The kernel through libnftables and netlink in this process, or `nft` and `ip` processes without the addon.
  const native = loadNative();
  if (native)
    log.info({}, 'nftables through libnftables; pod wiring and conntrack through netlink; in-process');
  else
    log.warn({ reason: nativeUnavailableReason() }, 'native addon unavailable: using nft and ip processes');
  const metrics = createAgentMetrics(opts.node);
  const registry = new EndpointRegistry();
  let last: SyncStats | undefined;
  const revocations = new RevocationScheduler({
    runner: deps.runner,
    ...(native ? { conntrack: netlinkConntrack(native) } : {}),
    log: log.child({ component: 'conntrack' }),
    delayMs: opts.revokeDelayMs ?? 0,
    onRevoked: (n) => metrics.revoked(n),
  });
  const reportDiagnostics = (diagnostics: SyncStats['diagnostics']) => {
    if (!opts.onDiagnostics) return;
    Promise.resolve()
      .then(() => opts.onDiagnostics?.(diagnostics))
      .catch((err: unknown) => log.warn({ err }, 'reporting rejected policies failed'));
  };
  /** The HostEndpoints of the snapshot the running sync compiles, and of the last sync's. */
  let syncingHeps: readonly HostEndpoint[] = [];
  let syncedHeps: readonly HostEndpoint[] = [];
  const reportHost = () => {
    try {
      opts.onHostReport?.({
        ...(last ? { diagnostics: last.diagnostics, hostEndpoints: syncedHeps } : {}),
        refusals: last?.hostRefusals ?? [],
        ...(interfaces?.links ? { links: interfaces.links } : {}),
      });
    } catch (err) {
      log.warn({ err }, 'reporting host policy failed');
    }
  };
  const interfaces =
    opts.onHostReport &&
    createInterfaceCheck({
      node: opts.node,
      list: () => listLinkNames({ runner: deps.runner, ...(native ? { native } : {}) }),
      intervalMs: opts.resyncMs,
      onLinks: reportHost,
      log,
    });
  const failsafes = opts.hostPolicy?.failsafes ?? DEFAULT_FAILSAFES;
  const lockout = opts.hostPolicy?.lockout;
  const hostGuard = lockout && new HostGuard({ node: opts.node, failsafes, ...lockout });
  const confirm = opts.hostPolicy?.confirm;
  let kickAfterRollback = () => {};
  const confirmWindow =
    hostGuard &&
    confirm &&
    createConfirmWindow({
      windowMs: confirm.windowMs,
      probe: confirm.probe,
      confirmed: (ms) => log.info({ ms }, 'host policy change confirmed: the API server answers'),
      expire: (what) => {
        const held = hostGuard.rollback(what);
        log.error({ objects: held.map((r) => r.object), what }, 'host policy change rolled back');
        kickAfterRollback();
      },
    });
  const counterNft = opts.encryption && createNftExec({ runner: deps.runner, native });
  const encryption = counterNft && startEncryption(opts, counterNft, deps, log);
  if (encryption) metrics.encryption(() => encryption.status());
  const reconciler = new Reconciler({
    node: opts.node,
    compiler: {
      mergeAbove: opts.mergeAbove,
      failsafes,
      ...(opts.encryption ? { strictEncryption: { ifaces: tunnelIfacesOf(opts.encryption) } } : {}),
    },
    ...(hostGuard ? { hostGuard } : {}),
    ...(confirmWindow ? { onHostChange: () => confirmWindow.start() } : {}),
    snapshot: () => {
      const snap = opts.datastore.snapshot();
      syncingHeps = snap.hostEndpoints ?? [];
      interfaces?.saw(syncingHeps);
      return snap;
    },
    endpoints: async () =>
      registry.merged(await endpointsFromIpam({ dataDir: opts.ipamDir, network: opts.network })),
    // No read-back after each update: on big tables it costs as much as a replace. Drift (a table flushed by
    // hand) is found and repaired by the periodic resync instead.
    applier: createNftApplier({ runner: deps.runner, native, log, verify: false }),
    log,
    onSynced: (s) => {
      last = s;
      metrics.synced(s);
      log.debug(
        { revision: s.revision, mode: s.mode, ms: s.durationMs, phases: s.phases, rules: s.rules },
        'synced',
      );
      reportDiagnostics(s.diagnostics);
      syncedHeps = syncingHeps;
      reportHost();
    },
    onTableChanged: async (table, state) => {
      revocations.changed(table, localAddresses(state, opts.node));
      // With no delay, the revision is reported once revocation is done, or after 1 s (the bound), so
      // a large revocation (one conntrack -D per entry) never holds back programming for long.
      if ((opts.revokeDelayMs ?? 0) === 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          revocations.idle(),
          new Promise((r) => {
            timer = setTimeout(r, REVOKE_WAIT_MS);
          }),
        ]);
        clearTimeout(timer);
      }
    },
    onError: () => metrics.syncFailed(),
  });
  kickAfterRollback = () => void reconciler.kick().catch(() => undefined);
  await opts.datastore.start(() => {
    void reconciler.kick().catch(() => undefined);
    encryption?.kick(opts.datastore.snapshot().nodes);
  });
  opts.hostEndpoint?.start((s) => metrics.hostEndpoint(s));
  // The agent as the CNI plugin sees it: over the socket for the Node plugin, directly for invocations the
  // native shim hands over (they run in this process).
  const agentApi: AgentApi = {
    add: async (e) => {
      if (e.namespace && e.name) await waitForPod(opts.datastore, e.namespace, e.name, POD_WAIT_MS);
      registry.register(e);
      await reconciler.kick({ until: 'committed' });
      log.info(
        { pod: `${e.namespace}/${e.name}`, interface: e.interface, ips: e.ips },
        'endpoint programmed',
      );
      return reconciler.revision;
    },
    del: async (containerID, ifname) => {
      if (registry.unregister(containerID, ifname)) await reconciler.kick({ until: 'committed' });
    },
    facts: (namespace, name) => podFacts(opts.datastore, namespace, name, FACTS_WAIT_MS),
  };
  const handoff = await serveHandoff(
    opts.cniSocket,
    {
      ...agentApi,
      status: () => ({ ready: reconciler.ready, revision: reconciler.revision }),
      cni: cniInProcess({
        runner: deps.runner,
        log,
        agent: agentApi,
        ...(native
          ? { links: netlinkPodLinks(native), podNft: (netns: string) => libNft(native, netns) }
          : {}),
      }),
    },
    log,
  );
  const http = await serveHttp(
    opts.listen,
    {
      ready: () => reconciler.ready,
      status: async () => ({
        node: opts.node,
        ready: reconciler.ready,
        revision: reconciler.revision,
        ...(reconciler.revisions ? { revisions: reconciler.revisions } : {}),
        lastSync: last ?? null,
        ...(opts.hostEndpoint ? { hostEndpoint: opts.hostEndpoint.status() } : {}),
        hostPolicy: {
          failsafes: {
            inbound: formatFailsafeList(failsafes.inbound),
            outbound: formatFailsafeList(failsafes.outbound),
          },
          lockoutProtection: hostGuard !== undefined,
          refused: hostGuard?.refusals ?? [],
          confirmWindowOpen: confirmWindow?.open ?? false,
        },
        ...(encryption ? { encryption: await encryption.status() } : {}),
      }),
      ...(encryption?.rotate ? { rotate: async () => ({ ...(await encryption.rotate!()) }) } : {}),
      metrics: async () => ({
        contentType: metrics.registry.contentType,
        body: await metrics.registry.metrics(),
      }),
    },
    log,
  );
  const repair =
    opts.repair &&
    new RepairController(
      { ...opts.repair.options, node: opts.node },
      {
        api: opts.repair.api,
        snapshot: () => opts.datastore.snapshot(),
        log: log.child({ component: 'repair' }),
        onRepaired: (a) => metrics.repaired(a),
      },
    );
  repair?.start();
  const resync = setInterval(() => {
    reconciler
      .resync()
      .then((repaired) => {
        if (repaired) metrics.driftRepaired();
      })
      .catch((err: unknown) => log.error({ err }, 'resync failed'));
  }, opts.resyncMs);
  // The tunnel is checked (and made again when gone) more often than the table: a node without it drops
  // every packet for other nodes' pods (strict) until it is back.
  const tunnelCheck =
    encryption && setInterval(() => encryption.kick(opts.datastore.snapshot().nodes), TUNNEL_CHECK_MS);
  log.info({ datastore: opts.listen, cniSocket: opts.cniSocket }, 'agent started');
  return {
    reconciler,
    async stop() {
      clearInterval(resync);
      clearInterval(tunnelCheck);
      interfaces?.stop();
      confirmWindow?.stop();
      repair?.stop();
      reconciler.stop();
      await encryption?.stop();
      await counterNft?.close();
      revocations.stop();
      await opts.hostEndpoint?.stop();
      await opts.datastore.stop();
      await Promise.all([closeServer(handoff), closeServer(http)]);
    },
  };
}
