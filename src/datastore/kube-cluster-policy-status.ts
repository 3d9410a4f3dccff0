// The status of every ClusterNetworkPolicy, written by the agents: status.conditions Accepted and Programmed
// (src/model/cluster-policy-conditions.ts decides them), and a Warning Event when a policy is rejected.
//
// Every agent may write: the conditions depend only on the object (its spec and generation), never on the node,
// so all agents want the same status, and a write by any of them is right for all. There is no leader (a lease
// would cost a write every few seconds forever); instead each agent writes only where the stored conditions
// differ, from the resourceVersion it read, after a random wait (kube-status-conditions.ts, shared with the
// GlobalNetworkPolicy and HostEndpoint status).
//
// The Event: the agent whose write turned a policy's conditions to rejected (a new problem list) posts one
// Warning Event (reason PolicyRejected, in namespace default as client-go does for cluster-scoped objects, with
// the policy's uid so that `kubectl describe clusternetworkpolicy` shows it), named after the uid and the
// message: a repeat of the same (policy, problems) is refused as existing and counts as posted. So a cluster
// gets one event per rejection, not one per node as for NetworkPolicies (kube-events.ts): the policy is
// cluster-scoped and its status already says the same on behalf of every agent.
//
// Failures (the API down, RBAC missing) are logged and retried after `retryMs`, doubling to a minute; they never
// reach the datastore.
import { createHash } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import { CLUSTER_NETWORK_POLICY_API_VERSION } from '../model/cluster-network-policy-parse.js';
import { clusterPolicyConditions } from '../model/cluster-policy-conditions.js';
import type { Logger } from '../util/log.js';
import { type CompactClusterPolicy, compactObject } from './kube-convert.js';
import { REPORTING_COMPONENT } from './kube-events.js';
import type { JsonRequest } from './kube-rest.js';
import { createStatusWriter, type StatusWriter, timestamp } from './kube-status-conditions.js';

export const CLUSTER_POLICIES_PATH = `/apis/${CLUSTER_NETWORK_POLICY_API_VERSION}/clusternetworkpolicies`;
const MAX_EVENT_MESSAGE = 1024;

export interface ClusterPolicyStatusOptions {
  /** The ClusterNetworkPolicies as the datastore has them now (read at each run). */
  readonly objects: () => readonly CompactClusterPolicy[];
  readonly log: Logger;
  /** Sends one request (default: sendJson with `kc`). */
  readonly send?: (req: JsonRequest) => Promise<string>;
  readonly kc?: KubeConfig;
  /** This agent's node, named in the Events it posts. */
  readonly node?: string;
  /** Each run first waits a random time below this (default 1000 ms); see above. */
  readonly jitterMs?: number;
  /** A failed run is tried again after this (default 2000 ms), doubling to a minute. */
  readonly retryMs?: number;
  readonly now?: () => number;
}

export type ClusterPolicyStatusWriter = StatusWriter;

export function clusterPolicyEventMessage(problems: readonly string[]): string {
  const text =
    'ClusterNetworkPolicy rejected; it fails closed (only denies: Accept rules dropped, Pass rules deny, ' +
    `rules that did not parse deny every peer): ${problems.join('; ')}`;
  return text.length <= MAX_EVENT_MESSAGE ? text : `${text.slice(0, MAX_EVENT_MESSAGE - 3)}...`;
}

/** The Event's name: the policy's name and a hash of (uid, message), a valid DNS subdomain. */
export function clusterPolicyEventName(name: string, uid: string, message: string): string {
  const hash = createHash('sha256').update(`${uid}\0${message}`).digest('hex').slice(0, 16);
  return `${name.slice(0, 253 - 26).replace(/[.-]+$/, '')}.palisade.${hash}`;
}

/** A cluster-scoped object's Warning Event as the status writers post it (namespace default, with the uid). */
export function clusterObjectEvent(args: {
  readonly name: string;
  readonly involvedObject: { apiVersion: string; kind: string; name: string; uid?: string };
  readonly reason: string;
  readonly message: string;
  readonly node?: string;
  readonly now: number;
}): Record<string, unknown> {
  const { node, involvedObject } = args;
  const t = timestamp(args.now);
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: args.name, namespace: 'default' },
    involvedObject: {
      apiVersion: involvedObject.apiVersion,
      kind: involvedObject.kind,
      name: involvedObject.name,
      ...(involvedObject.uid ? { uid: involvedObject.uid } : {}),
    },
    type: 'Warning',
    reason: args.reason,
    message: args.message,
    count: 1,
    firstTimestamp: t,
    lastTimestamp: t,
    source: { component: REPORTING_COMPONENT, ...(node ? { host: node } : {}) },
    reportingComponent: REPORTING_COMPONENT,
    ...(node ? { reportingInstance: node } : {}),
  };
}

export function createClusterPolicyStatusWriter(opts: ClusterPolicyStatusOptions): ClusterPolicyStatusWriter {
  const now = opts.now ?? Date.now;
  const event = (o: CompactClusterPolicy): Record<string, unknown> | undefined => {
    if (o.model.problems.length === 0) return undefined;
    const { name, uid = '' } = o.metadata;
    const message = clusterPolicyEventMessage(o.model.problems);
    return clusterObjectEvent({
      name: clusterPolicyEventName(name, uid, message),
      involvedObject: {
        apiVersion: CLUSTER_NETWORK_POLICY_API_VERSION,
        kind: 'ClusterNetworkPolicy',
        name,
        uid,
      },
      reason: 'PolicyRejected',
      message,
      ...(opts.node ? { node: opts.node } : {}),
      now: now(),
    });
  };
  return createStatusWriter<CompactClusterPolicy>({
    kind: 'ClusterNetworkPolicy',
    component: 'cnp-status',
    objects: opts.objects,
    key: (o) => o.metadata.name,
    path: (o) => `${CLUSTER_POLICIES_PATH}/${encodeURIComponent(o.metadata.name)}`,
    desired: (o) => ({ conditions: clusterPolicyConditions(o.model, o.metadata.generation) }),
    reread: (json) => compactObject('clusternetworkpolicies', json) as CompactClusterPolicy,
    event,
    logged: (o) => ({ policy: o.metadata.name, accepted: o.model.problems.length === 0 }),
    log: opts.log,
    ...(opts.send ? { send: opts.send } : {}),
    ...(opts.kc ? { kc: opts.kc } : {}),
    ...(opts.jitterMs !== undefined ? { jitterMs: opts.jitterMs } : {}),
    ...(opts.retryMs !== undefined ? { retryMs: opts.retryMs } : {}),
    now,
  });
}
