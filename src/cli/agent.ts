// `palisade agent`: argument parsing and process lifetime only; the agent itself is src/agent.
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { startAgent } from '../agent/agent.js';
import { parseLabelArgs } from '../agent/host-endpoint-desired.js';
import { parseRedirectConf } from '../cni/redirect-config.js';
import { createRunner } from '../dataplane/runner.js';
import { createDirDatastore } from '../datastore/dir.js';
import type { PolicyEventRecorder } from '../datastore/kube-events.js';
import type { HostStatusReporter } from '../datastore/kube-host-status.js';
import type { Datastore } from '../datastore/types.js';
import { CALICO_GROUPS, type CalicoGroup, parseCalicoGroups } from '../model/calico-groups.js';
import type { Logger } from '../util/log.js';
import { ENCRYPTION_OPTIONS, ENCRYPTION_USAGE, parseEncryptionFlags } from './agent-encryption.js';
import { HOST_POLICY_OPTIONS, HOST_POLICY_USAGE, parseHostPolicyFlags } from './agent-host-policy.js';
import { UsageError } from './usage.js';

export const AGENT_USAGE = `Usage: palisade agent --node NAME --datastore kubernetes|dir:PATH [options]

  --node NAME               this node's name (spec.nodeName of its pods)
  --datastore SOURCE        kubernetes (kubeconfig from KUBECONFIG, or in-cluster) or dir:PATH (watched manifests)
  --ipam-dir DIR            palisade-cni's ipam.dataDir on this node (default /var/lib/cni/palisade)
  --network NAME            the CNI network name (default palisade)
  --cni-socket PATH         socket for the CNI plugin's hand-off (default /run/palisade/cni.sock)
  --listen ADDR             health, metrics, status: HOST:PORT or unix:PATH (default 127.0.0.1:9099)
  --resync-interval MS      how often the kernel's table is checked and repaired (default 30000)
  --revoke-delay MS         after a policy change, end established connections it denies (delete their
                            conntrack entries) after MS ms: 0 = at once (default), -1 = never
  --merge-above N           a pod selected by more than N policies gets their rules merged into its own chain
                            (one rule per port match) instead of a jump per policy (default 16)
  --repair off|label|delete chained mode: pods of this node that should have been redirected but left no
                            marker are labelled palisade.dev/redirect-missing=true, or deleted to be
                            recreated through the plugin (kubernetes datastore only; default off)
  --redirect-config JSON    chained mode's CNI entry (the ConfigMap's): selection, markerDir (for --repair)
  --repair-grace MS         a pod younger than this is never repaired: its ADD may still run (default 60000)
  --repair-interval MS      how often the repair controller looks at this node's pods (default 30000)
  --auto-host-endpoints     keep a HostEndpoint (palisade.dev/v1) named after this node, covering all its
                            interfaces, labelled as the Node, owned by it (kubernetes datastore only; default off)
  --host-endpoint-label KEY=VALUE
                            a label for that HostEndpoint besides the Node's (repeatable; wins over the Node's)
  --calico-groups LIST|none  Calico's groups whose GlobalNetworkPolicies and HostEndpoints are read besides
                            palisade.dev (kubernetes datastore; default crd.projectcalico.org,projectcalico.org)
${HOST_POLICY_USAGE}
${ENCRYPTION_USAGE}
  --log-level LEVEL         debug, info, warn, error (default info)`;

interface DatastoreWiring {
  readonly datastore: Datastore;
  /** Kubernetes only: PolicyRejected events for the policies each sync rejects. */
  readonly events?: PolicyEventRecorder;
  /** Kubernetes only: GlobalNetworkPolicy and HostEndpoint status, and this node's host policy events. */
  readonly hostStatus?: HostStatusReporter;
}

async function makeDatastore(
  source: string,
  node: string,
  log: Logger,
  calicoGroups: readonly CalicoGroup[],
): Promise<DatastoreWiring> {
  if (source.startsWith('dir:')) return { datastore: createDirDatastore({ dir: source.slice(4), log }) };
  if (source === 'kubernetes') {
    const { createKubeDatastore } = await import('../datastore/kube.js');
    const { createPolicyEventRecorder } = await import('../datastore/kube-events.js');
    const { createHostStatusReporter } = await import('../datastore/kube-host-status.js');
    const datastore = createKubeDatastore({ log, clusterPolicyStatus: { node }, calicoGroups });
    const events = createPolicyEventRecorder({ node, log });
    const hostStatus = createHostStatusReporter({
      node,
      objects: () => datastore.calicoObjects(),
      events,
      log,
    });
    return { datastore, events, hostStatus };
  }
  throw new UsageError(`--datastore: "${source}" must be kubernetes or dir:PATH`);
}

export async function runAgentCommand(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      node: { type: 'string' },
      datastore: { type: 'string' },
      'ipam-dir': { type: 'string', default: '/var/lib/cni/palisade' },
      network: { type: 'string', default: 'palisade' },
      'cni-socket': { type: 'string', default: '/run/palisade/cni.sock' },
      listen: { type: 'string', default: '127.0.0.1:9099' },
      'resync-interval': { type: 'string', default: '30000' },
      'revoke-delay': { type: 'string', default: '0' },
      'merge-above': { type: 'string', default: '16' },
      repair: { type: 'string', default: 'off' },
      'redirect-config': { type: 'string' },
      'repair-grace': { type: 'string', default: '60000' },
      'repair-interval': { type: 'string', default: '30000' },
      'auto-host-endpoints': { type: 'boolean', default: false },
      'host-endpoint-label': { type: 'string', multiple: true, default: [] },
      'log-level': { type: 'string', default: 'info' },
      'calico-groups': { type: 'string', default: CALICO_GROUPS.join(',') },
      ...HOST_POLICY_OPTIONS,
      ...ENCRYPTION_OPTIONS,
    },
    strict: true,
  });
  if (!values.node) throw new UsageError('--node is required');
  if (!values.datastore) throw new UsageError('--datastore is required');
  const resyncMs = Number(values['resync-interval']);
  if (!Number.isInteger(resyncMs) || resyncMs < 100) {
    throw new UsageError(
      `--resync-interval: "${values['resync-interval']}" must be a whole number of ms >= 100`,
    );
  }
  const revokeDelayMs = Number(values['revoke-delay']);
  if (!Number.isInteger(revokeDelayMs) || revokeDelayMs < -1) {
    throw new UsageError(
      `--revoke-delay: "${values['revoke-delay']}" must be a whole number of ms >= 0, or -1 (never)`,
    );
  }
  const mergeAbove = Number(values['merge-above']);
  if (!Number.isInteger(mergeAbove) || mergeAbove < 0) {
    throw new UsageError(`--merge-above: "${values['merge-above']}" must be a whole number >= 0`);
  }
  const repairMode = values.repair;
  if (repairMode !== 'off' && repairMode !== 'label' && repairMode !== 'delete') {
    throw new UsageError(`--repair: "${repairMode}" must be off, label or delete`);
  }
  const graceMs = Number(values['repair-grace']);
  if (!Number.isInteger(graceMs) || graceMs < 0) {
    throw new UsageError(`--repair-grace: "${values['repair-grace']}" must be a whole number of ms >= 0`);
  }
  const repairIntervalMs = Number(values['repair-interval']);
  if (!Number.isInteger(repairIntervalMs) || repairIntervalMs < 100) {
    throw new UsageError(
      `--repair-interval: "${values['repair-interval']}" must be a whole number of ms >= 100`,
    );
  }
  if (repairMode !== 'off' && values.datastore !== 'kubernetes') {
    throw new UsageError('--repair needs --datastore kubernetes (it labels or deletes pods through the API)');
  }
  const redirect = repairMode === 'off' ? undefined : parseRedirectEntry(values['redirect-config']);
  const hostEndpointLabels = parseHostEndpointFlags(
    values['auto-host-endpoints'],
    values['host-endpoint-label'],
    values.datastore,
  );
  const hostPolicy = await parseHostPolicyFlags(values, values.datastore);
  const encryption = parseEncryptionFlags(values);
  const groups = parseCalicoGroups(values['calico-groups']);
  if ('errors' in groups) throw new UsageError(groups.errors.join('\n'));
  const calicoGroups = groups.groups;
  const log: Logger = pino({ level: values['log-level'], base: { pid: process.pid } }, pino.destination(2));
  const { datastore, events, hostStatus } = await makeDatastore(
    values.datastore,
    values.node,
    log,
    calicoGroups,
  );
  const hostEndpoint =
    hostEndpointLabels &&
    (await import('../datastore/kube-host-endpoint-controller.js')).createHostEndpointController({
      node: values.node,
      extraLabels: hostEndpointLabels,
      log,
    });
  const agent = await startAgent(
    {
      node: values.node,
      datastore,
      ipamDir: values['ipam-dir'],
      network: values.network,
      cniSocket: values['cni-socket'],
      listen: values.listen,
      resyncMs,
      revokeDelayMs,
      mergeAbove,
      ...(redirect && repairMode !== 'off'
        ? {
            repair: {
              options: {
                action: repairMode,
                selection: { excludeNamespaces: redirect.excludeNamespaces, profile: redirect.profile },
                markerDir: redirect.markerDir,
                graceMs,
                intervalMs: repairIntervalMs,
                ownerCooldownMs: 600_000,
              },
              api: (await import('../datastore/kube-pods.js')).createPodRepairApi(),
            },
          }
        : {}),
      onDiagnostics: events && ((diagnostics) => events.record(diagnostics)),
      ...(hostStatus ? { onHostReport: (report) => hostStatus.report(report) } : {}),
      ...(hostEndpoint ? { hostEndpoint } : {}),
      hostPolicy,
      ...(encryption ? { encryption } : {}),
      ...(encryption && events
        ? {
            onEncryptionWarnings: (warnings) =>
              void events.report(
                'encryption',
                warnings.map((w) => ({
                  involvedObject: { apiVersion: 'v1', kind: 'Node', name: w.node },
                  reason: w.reason,
                  message: w.message,
                })),
              ),
          }
        : {}),
    },
    { runner: createRunner(), log },
  );
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await agent.stop();
  await hostStatus?.stop();
  events?.stop();
  return 0;
}

/** The host endpoint controller's extra labels when it is on (undefined: off); UsageError for a bad flag. */
function parseHostEndpointFlags(
  on: boolean | undefined,
  labels: readonly string[] | undefined,
  source: string,
) {
  if (!on) {
    if (labels && labels.length > 0)
      throw new UsageError('--host-endpoint-label needs --auto-host-endpoints (it labels that HostEndpoint)');
    return undefined;
  }
  if (source !== 'kubernetes') {
    throw new UsageError(
      '--auto-host-endpoints needs --datastore kubernetes (it creates the HostEndpoint through the API)',
    );
  }
  const parsed = parseLabelArgs(labels ?? [], '--host-endpoint-label');
  if ('errors' in parsed) throw new UsageError(parsed.errors.join('\n'));
  return parsed.labels;
}

/** Chained mode's CNI entry, as JSON (the ConfigMap's cni_network_config), validated as the plugin does. */
function parseRedirectEntry(text: string | undefined) {
  if (!text) throw new UsageError("--repair needs --redirect-config (chained mode's CNI entry, as JSON)");
  let raw: unknown;
  try {
    // The ConfigMap's entry carries install-cni's placeholder; only the selection and markerDir matter here.
    raw = JSON.parse(text.replaceAll('__KUBECONFIG_FILEPATH__', '/etc/cni/net.d/palisade-kubeconfig'));
  } catch (err) {
    throw new UsageError(`--redirect-config: not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  try {
    return parseRedirectConf(
      { cniVersion: '1.0.0', name: 'repair', ...(raw as object), mode: 'redirect' },
      'DEL',
    );
  } catch (err) {
    throw new UsageError(`--redirect-config: ${err instanceof Error ? err.message : String(err)}`);
  }
}
