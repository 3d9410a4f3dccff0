// The status of every ClusterNetworkPolicy, written by the agents: status.conditions Accepted and Programmed
// (src/model/cluster-policy-conditions.ts decides them), and a Warning Event when a policy is rejected.
//
// Every agent may write: the conditions depend only on the object (its spec and generation), never on the node,
// so all agents want the same status, and a write by any of them is right for all. There is no leader (a lease
// would cost a write every few seconds forever); instead
// - an agent writes only when the stored conditions differ from the wanted ones (lastTransitionTime aside,
//   which is kept while a condition's status holds, as meta.SetStatusCondition does);
// - each write is a merge patch of the status subresource carrying the resourceVersion it was computed from, so
//   the API server refuses it (409) if the object changed meanwhile; the agent then reads the object again and
//   decides again (usually: another agent wrote the same, nothing to do), at most MAX_ATTEMPTS times;
// - each run waits a random time up to `jitterMs` first, so that of N agents seeing one change, most see the
//   first writer's status arrive through their watch before their own turn, instead of N writes and N - 1
//   conflicts.
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
import { HttpMethod } from '@kubernetes/client-node';
import { CLUSTER_NETWORK_POLICY_API_VERSION } from '../model/cluster-network-policy-parse.js';
import { clusterPolicyConditions, mergeConditions } from '../model/cluster-policy-conditions.js';
import { isObject } from '../model/k8s.js';
import type { Logger } from '../util/log.js';
import { apiStatusOf } from './kube-client.js';
import { type CompactClusterPolicy, compactObject } from './kube-convert.js';
import { REPORTING_COMPONENT } from './kube-events.js';
import { type JsonRequest, sendJson } from './kube-rest.js';

export const CLUSTER_POLICIES_PATH = `/apis/${CLUSTER_NETWORK_POLICY_API_VERSION}/clusternetworkpolicies`;
const MAX_ATTEMPTS = 5;
const MAX_RETRY_MS = 60_000;
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

export interface ClusterPolicyStatusWriter {
  /** Something about the ClusterNetworkPolicies changed: a run is scheduled (coalesced). Never throws. */
  changed(): void;
  /** Resolves once no run is scheduled or running (tests). */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

/** metav1.Time: RFC 3339 in whole seconds. */
const timestamp = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

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

export function createClusterPolicyStatusWriter(opts: ClusterPolicyStatusOptions): ClusterPolicyStatusWriter {
  const log = opts.log.child({ component: 'cnp-status' });
  const now = opts.now ?? Date.now;
  const jitterMs = opts.jitterMs ?? 1000;
  const retryMs = opts.retryMs ?? 2000;
  const stopping = new AbortController();
  const kc = opts.kc;
  const send =
    opts.send ??
    ((req: JsonRequest) => {
      if (!kc) throw new Error('cluster policy status: neither send nor kc given');
      return sendJson(kc, req);
    });
  const api = async (req: Omit<JsonRequest, 'signal'>): Promise<Record<string, unknown>> => {
    const text = await send({ ...req, signal: stopping.signal });
    const out: unknown = text === '' ? {} : JSON.parse(text);
    return isObject(out) ? out : {};
  };
  /** name → the resourceVersion this agent last wrote the status from (its write is on its way back). */
  const written = new Map<string, string>();
  /** The Event to post, by policy: set by a write that rejected it, kept until posted (or the policy is gone). */
  const pendingEvents = new Map<string, Record<string, unknown>>();

  const event = (o: CompactClusterPolicy): Record<string, unknown> => {
    const { name, uid = '' } = o.metadata;
    const message = clusterPolicyEventMessage(o.model.problems);
    const t = timestamp(now());
    return {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: clusterPolicyEventName(name, uid, message), namespace: 'default' },
      involvedObject: {
        apiVersion: CLUSTER_NETWORK_POLICY_API_VERSION,
        kind: 'ClusterNetworkPolicy',
        name,
        ...(uid ? { uid } : {}),
      },
      type: 'Warning',
      reason: 'PolicyRejected',
      message,
      count: 1,
      firstTimestamp: t,
      lastTimestamp: t,
      source: { component: REPORTING_COMPONENT, ...(opts.node ? { host: opts.node } : {}) },
      reportingComponent: REPORTING_COMPONENT,
      ...(opts.node ? { reportingInstance: opts.node } : {}),
    };
  };

  /** Posts the Event pending for `policy`; one that exists already (409) was posted before. */
  const postEvent = async (policy: string, body: Record<string, unknown>): Promise<void> => {
    await api({ method: HttpMethod.POST, path: '/api/v1/namespaces/default/events', body }).catch(
      (err: unknown) => {
        if (apiStatusOf(err) !== 409) throw err;
      },
    );
    if (pendingEvents.get(policy) === body) pendingEvents.delete(policy);
  };

  /** Writes one policy's status if it differs from the wanted one (and posts its Event if it is rejected). */
  const reconcile = async (first: CompactClusterPolicy): Promise<void> => {
    let o = first;
    for (let attempt = 1; ; attempt++) {
      const { name, resourceVersion, generation } = o.metadata;
      const desired = clusterPolicyConditions(o.model, generation);
      const conditions = mergeConditions(o.conditions, desired, timestamp(now()));
      if (!conditions || written.get(name) === resourceVersion) return;
      const path = `${CLUSTER_POLICIES_PATH}/${encodeURIComponent(name)}`;
      try {
        await api({
          method: HttpMethod.PATCH,
          path: `${path}/status`,
          patch: 'merge',
          body: { metadata: { resourceVersion }, status: { conditions } },
        });
        written.set(name, resourceVersion);
        log.info({ policy: name, accepted: o.model.problems.length === 0 }, 'status written');
        if (o.model.problems.length > 0) pendingEvents.set(name, event(o));
        return;
      } catch (err) {
        if (apiStatusOf(err) === 404) return; // deleted meanwhile
        if (apiStatusOf(err) !== 409 || attempt >= MAX_ATTEMPTS) throw err;
      }
      // Changed since it was read (often: another agent wrote the same status). Read it again, decide again.
      const fresh = await api({ method: HttpMethod.GET, path }).catch((err: unknown) => {
        if (apiStatusOf(err) === 404) return undefined;
        throw err;
      });
      if (!fresh) return;
      o = compactObject('clusternetworkpolicies', fresh) as CompactClusterPolicy;
    }
  };

  const run = async (): Promise<boolean> => {
    let ok = true;
    const objects = opts.objects();
    const names = new Set(objects.map((o) => o.metadata.name));
    for (const name of written.keys()) if (!names.has(name)) written.delete(name);
    for (const name of pendingEvents.keys()) if (!names.has(name)) pendingEvents.delete(name);
    for (const o of objects) {
      if (stopping.signal.aborted) return true;
      await reconcile(o).catch((err: unknown) => {
        if (stopping.signal.aborted) return;
        ok = false;
        log.warn(
          { policy: o.metadata.name, err },
          'could not write ClusterNetworkPolicy status; retrying later',
        );
      });
    }
    // Events of this run's writes, and those that failed before.
    for (const [policy, body] of [...pendingEvents]) {
      if (stopping.signal.aborted) return true;
      await postEvent(policy, body).catch((err: unknown) => {
        ok = false;
        log.warn({ err }, 'could not post a ClusterNetworkPolicy event; retrying later');
      });
    }
    return ok;
  };

  let timer: NodeJS.Timeout | undefined;
  /** The scheduled run is a retry after a failure (a change brings it forward). */
  let retrying = false;
  let running: Promise<void> | undefined;
  let dirty = false;
  let delayMs = retryMs;
  const schedule = (ms: number, retry: boolean) => {
    if (stopping.signal.aborted) return;
    if (timer && retrying && !retry) clearTimeout(timer);
    else if (timer) return;
    retrying = retry;
    timer = setTimeout(() => {
      timer = undefined;
      running = run().then((ok) => {
        running = undefined;
        if (dirty) {
          dirty = false;
          schedule(Math.random() * jitterMs, false);
        } else if (!ok) {
          schedule(delayMs, true);
          delayMs = Math.min(delayMs * 2, MAX_RETRY_MS);
        } else delayMs = retryMs;
      });
    }, ms);
  };

  return {
    changed() {
      if (running) dirty = true;
      else schedule(Math.random() * jitterMs, false);
    },
    async idle() {
      while (timer || running) {
        if (running) await running;
        else await new Promise((r) => setTimeout(r, 5));
      }
    },
    async stop() {
      stopping.abort();
      clearTimeout(timer);
      timer = undefined;
      await running;
    },
  };
}
