// Host policy reporting on Kubernetes (issue 11, "never silent"): the status conditions of GlobalNetworkPolicies
// and HostEndpoints, and this node's Warning Events about them. src/agent/host-report.ts decides what they say;
// this writes them, after every sync and every check of the node's links (the agent's onHostReport).
//
// Who writes what:
// - GlobalNetworkPolicy conditions (Accepted, SelectsHostEndpoints) are cluster-wide facts: every agent decides
//   the same from its cache, so every agent may write them, as ClusterNetworkPolicy status is written
//   (kube-status-conditions.ts: only where the stored conditions differ, with the resourceVersion read, after a
//   random wait; a conflict means read again and decide again). While caches disagree (a HostEndpoint just
//   created) two agents may each write their view once; they agree as soon as their caches do. The agent whose
//   write turns SelectsHostEndpoints to False posts the SelectsNoHostEndpoint Event (one per such write, named
//   after the uid and the resourceVersion written from).
// - HostEndpoint conditions (Accepted, InterfacePresent, Programmed) are facts of its node: only that node's
//   agent writes them. An endpoint of a node without an agent gets none.
// - This node's Warning Events (a GlobalNetworkPolicy or HostEndpoint that fails closed, a HostEndpoint it cannot
//   program, a lockout refusal or rollback, an interface not found) go through the node's event recorder
//   (kube-events.ts): one series per (object, reason, node), deduplicated, no longer reported once gone.
import type { KubeConfig } from '@kubernetes/client-node';
import {
  globalPolicyConditions,
  type HostReport,
  type HostWarning,
  hostEndpointConditions,
  hostObjectKey,
  hostWarnings,
  type PolicyConditions,
  SELECTS_HOST_ENDPOINTS,
} from '../agent/host-report.js';
import { CALICO_KINDS_API_VERSIONS } from '../model/calico-groups.js';
import { findCondition } from '../model/cluster-policy-conditions.js';
import type { GlobalNetworkPolicy } from '../model/global-network-policy.js';
import type { HostEndpoint } from '../model/host-endpoint.js';
import type { Logger } from '../util/log.js';
import { loadKubeConfig } from './kube-client.js';
import { clusterObjectEvent, clusterPolicyEventName } from './kube-cluster-policy-status.js';
import { type CompactCalicoKind, compactCalicoKind } from './kube-convert-calico.js';
import type { Warning, WarningEventRecorder } from './kube-events.js';
import type { JsonRequest } from './kube-rest.js';
import { createStatusWriter, type StatusWriterOptions } from './kube-status-conditions.js';

export interface HostStatusOptions {
  /** This agent's node: it writes the conditions of this node's HostEndpoints, and names it in Events. */
  readonly node: string;
  /** The GlobalNetworkPolicies and HostEndpoints as the datastore has them now (KubeDatastore.calicoObjects). */
  readonly objects: () => readonly CompactCalicoKind[];
  /** This node's Warning Events. */
  readonly events: Pick<WarningEventRecorder, 'report'>;
  readonly log: Logger;
  readonly send?: (req: JsonRequest) => Promise<string>;
  /** A kubeconfig file, when neither send nor kc is given (default as the datastore's). */
  readonly kubeConfig?: string;
  readonly kc?: KubeConfig;
  /** The GlobalNetworkPolicy writer's random wait before each run (default 1000 ms; see above). */
  readonly jitterMs?: number;
  readonly retryMs?: number;
  readonly now?: () => number;
}

export interface HostStatusReporter {
  /** What the node knows now (after a sync, or a check of its links): status and Events follow. Never throws. */
  report(r: HostReport): void;
  /** Resolves once no status write is scheduled or running (tests). */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

/** The event recorder's source for this node's host warnings. */
export const HOST_EVENTS_SOURCE = 'host';

const plural = (o: CompactCalicoKind) =>
  o.model.kind === 'GlobalNetworkPolicy' ? 'globalnetworkpolicies' : 'hostendpoints';
const apiVersion = (o: CompactCalicoKind) => CALICO_KINDS_API_VERSIONS[o.model.group];
const pathOf = (o: CompactCalicoKind) =>
  `/apis/${apiVersion(o)}/${plural(o)}/${encodeURIComponent(o.metadata.name)}`;
const involvedObject = (o: CompactCalicoKind) => ({
  apiVersion: apiVersion(o),
  kind: o.model.kind,
  name: o.metadata.name,
  ...(o.metadata.uid ? { uid: o.metadata.uid } : {}),
});

/** Host warnings as Events' warnings, on the objects they name (one no longer cached is left out). */
export function warningsOn(
  warnings: readonly HostWarning[],
  objects: readonly CompactCalicoKind[],
): Warning[] {
  const byKey = new Map(objects.map((o) => [hostObjectKey(o.model), o]));
  return warnings.flatMap((w) => {
    const o = byKey.get(w.object);
    return o ? [{ involvedObject: involvedObject(o), reason: w.reason, message: w.message }] : [];
  });
}

export function createHostStatusReporter(opts: HostStatusOptions): HostStatusReporter {
  const now = opts.now ?? Date.now;
  const kc = opts.send ? undefined : (opts.kc ?? loadKubeConfig(opts.kubeConfig));
  let latest: HostReport = { refusals: [] };
  /** Every HostEndpoint of the cluster, as of the GlobalNetworkPolicy writer's run (the same array while none changed). */
  let allHeps: readonly HostEndpoint[] = [];
  /**
   * Each policy's conditions, by its parsed version, while the endpoints are the same: a run after a sync that
   * changed neither (most syncs: pods come and go) decides nothing again. Selecting is a policy's selector on
   * every endpoint: 1000 endpoints and 100 host policies selecting none take ~40 ms.
   */
  const decided = new WeakMap<
    GlobalNetworkPolicy,
    { heps: readonly HostEndpoint[]; generation?: number; wanted: PolicyConditions }
  >();
  const policyConditions = (g: GlobalNetworkPolicy, generation: number | undefined): PolicyConditions => {
    const memo = decided.get(g);
    if (memo && memo.heps === allHeps && memo.generation === generation) return memo.wanted;
    const wanted = globalPolicyConditions(g, allHeps, generation);
    decided.set(g, { heps: allHeps, generation, wanted });
    return wanted;
  };
  const isHep = (o: CompactCalicoKind) => o.model.kind === 'HostEndpoint';
  const common: Omit<StatusWriterOptions<CompactCalicoKind>, 'kind' | 'component' | 'objects' | 'desired'> = {
    key: (o) => hostObjectKey(o.model),
    logged: (o) => ({ object: hostObjectKey(o.model) }),
    path: pathOf,
    reread: (json, before) => compactCalicoKind(`${plural(before)}.${before.model.group}`, json) ?? before,
    log: opts.log,
    ...(opts.send ? { send: opts.send } : {}),
    ...(kc ? { kc } : {}),
    ...(opts.retryMs !== undefined ? { retryMs: opts.retryMs } : {}),
    now,
  };

  const selectsNoneEvent = (o: CompactCalicoKind, stored: unknown) => {
    if (o.model.kind !== 'GlobalNetworkPolicy') return undefined;
    const wanted = policyConditions(o.model, o.metadata.generation).conditions;
    const selects = wanted.find((c) => c.type === SELECTS_HOST_ENDPOINTS);
    if (selects?.status !== 'False' || findCondition(stored, SELECTS_HOST_ENDPOINTS)?.status === 'False')
      return undefined;
    const { name, uid = '', resourceVersion } = o.metadata;
    const message = `GlobalNetworkPolicy selects no HostEndpoint: ${selects.message}`;
    return clusterObjectEvent({
      name: clusterPolicyEventName(name, uid, `${resourceVersion}\0${message}`),
      involvedObject: involvedObject(o),
      reason: 'SelectsNoHostEndpoint',
      message,
      node: opts.node,
      now: now(),
    });
  };

  const policies = createStatusWriter<CompactCalicoKind>({
    ...common,
    kind: 'GlobalNetworkPolicy',
    component: 'gnp-status',
    objects: () => {
      const all = opts.objects();
      const heps = all.filter(isHep).map((o) => o.model as HostEndpoint);
      if (heps.length !== allHeps.length || heps.some((h, i) => h !== allHeps[i])) allHeps = heps;
      return all.filter((o) => !isHep(o));
    },
    desired: (o) =>
      o.model.kind === 'GlobalNetworkPolicy' ? policyConditions(o.model, o.metadata.generation) : undefined,
    event: selectsNoneEvent,
    ...(opts.jitterMs !== undefined ? { jitterMs: opts.jitterMs } : {}),
  });

  const endpoints = createStatusWriter<CompactCalicoKind>({
    ...common,
    kind: 'HostEndpoint',
    component: 'hep-status',
    // This node's only: no other agent writes them, so no wait.
    objects: () =>
      opts.objects().filter((o) => o.model.kind === 'HostEndpoint' && o.model.node === opts.node),
    desired: (o) =>
      o.model.kind === 'HostEndpoint'
        ? hostEndpointConditions(o.model, opts.node, latest, o.metadata.generation)
        : undefined,
    jitterMs: 0,
  });

  return {
    report(r) {
      latest = r;
      policies.changed();
      endpoints.changed();
      const objects = opts.objects();
      const mine = objects.flatMap((o) =>
        o.model.kind === 'HostEndpoint' && o.model.node === opts.node ? [o.model] : [],
      );
      void opts.events.report(HOST_EVENTS_SOURCE, warningsOn(hostWarnings(opts.node, mine, r), objects));
    },
    async idle() {
      await Promise.all([policies.idle(), endpoints.idle()]);
    },
    async stop() {
      await Promise.all([policies.stop(), endpoints.stop()]);
    },
  };
}
