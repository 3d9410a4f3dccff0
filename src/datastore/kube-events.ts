// Warning Events for rejected NetworkPolicies: `kubectl describe networkpolicy` shows why a policy fails closed.
//
// core/v1 Events (not events.k8s.io/v1): the two are one resource in storage and both show in describe, but the
// core/v1 shape has the count/firstTimestamp/lastTimestamp series that client-go's classic recorder keeps
// (events.k8s.io/v1 wants eventTime, action and a separate `series`), and it is the API group most RBAC already
// grants "create, patch" on.
//
// One event per (policy, node), named deterministically from both: every node's agent sees the same rejected
// policy, so a cluster holds at most one event per policy per node, each written at most once a minute, and an
// agent restart finds its own event again (POST answers 409, and the recorder patches it) instead of adding one.
// A leader (one reporter per policy) would cut that to one event, at the price of a lease or of agreeing on a
// node list; the per-node events also say which agents are enforcing the fail-closed rules.
//
// Only NetworkPolicies ("namespace/name"): the compiler's diagnostics also name ClusterNetworkPolicies
// ("cnp:NAME"), whose Event goes with their status, posted once per rejection by the agent that wrote it
// (kube-cluster-policy-status.ts); they are skipped here.
//
// Deduplication as client-go's recorder: the same (policy, message) is not written again on every sync; a
// repeat at least `intervalMs` after the last counted one bumps count and lastTimestamp (PATCH); a new message
// restarts the series at once. Policies no longer rejected are forgotten. Failures are logged and retried on a
// later sync, at most once per interval; they never reach the caller.
import { createHash } from 'node:crypto';
import { HttpMethod } from '@kubernetes/client-node';
import type { Logger } from '../util/log.js';
import { apiStatusOf, loadKubeConfig } from './kube-client.js';
import { sendJson } from './kube-rest.js';

/** A policy the compiler rejected: "namespace/name" and its problems, each naming field and value. */
export interface RejectedPolicy {
  readonly policy: string;
  readonly problems: readonly string[];
}

export interface PolicyEventRecorder {
  /** The rejected policies of one sync (all of them: one missing here is no longer rejected). Never rejects. */
  record(diagnostics: readonly RejectedPolicy[]): Promise<void>;
  /** Aborts requests in flight; later records do nothing. */
  stop(): void;
}

export interface PolicyEventRecorderOptions {
  /** A kubeconfig file; default as the datastore's ($KUBECONFIG, ~/.kube/config, in-cluster). */
  kubeConfig?: string;
  node: string;
  log: Logger;
  now?: () => number;
  /** The least time between two counted occurrences (writes) of one event; default 1 minute. */
  intervalMs?: number;
}

export const REPORTING_COMPONENT = 'palisade-agent';
/** The API server refuses longer messages in events.k8s.io; client-go's recorder truncates to this too. */
const MAX_MESSAGE = 1024;

interface Entry {
  message: string;
  count: number;
  firstMs: number;
  /** When the last counted occurrence was. */
  lastMs: number;
  /** When a write was last tried (succeeded or not). */
  attemptMs: number;
  /** The server holds count/message as here. */
  written: boolean;
  /** The event exists on the server (so a write is a PATCH). */
  exists: boolean;
}

/** The Event's name: the policy's name and a hash of (policy, node), a valid DNS subdomain. */
export function eventName(namespace: string, name: string, node: string): string {
  const hash = createHash('sha256').update(`${namespace}/${name}\0${node}`).digest('hex').slice(0, 16);
  const base = name.slice(0, 253 - 26).replace(/[.-]+$/, '');
  return `${base}.palisade.${hash}`;
}

export function eventMessage(problems: readonly string[]): string {
  const text = `NetworkPolicy rejected; it fails closed (isolates the pods it selects, allows nothing): ${problems.join('; ')}`;
  return text.length <= MAX_MESSAGE ? text : `${text.slice(0, MAX_MESSAGE - 3)}...`;
}

/** metav1.Time: RFC 3339 in whole seconds. */
const timestamp = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

function splitKey(key: string): { namespace: string; name: string } | undefined {
  const i = key.indexOf('/');
  if (i <= 0 || i === key.length - 1) return undefined;
  return { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

export function createPolicyEventRecorder(opts: PolicyEventRecorderOptions): PolicyEventRecorder {
  const log = opts.log.child({ component: 'events' });
  const kc = loadKubeConfig(opts.kubeConfig);
  const now = opts.now ?? Date.now;
  const intervalMs = opts.intervalMs ?? 60_000;
  const entries = new Map<string, Entry>();
  const stopping = new AbortController();
  const api = (method: HttpMethod, path: string, body: object) =>
    sendJson(kc, { method, path, body, signal: stopping.signal });

  const fields = (e: Entry) => ({
    message: e.message,
    count: e.count,
    firstTimestamp: timestamp(e.firstMs),
    lastTimestamp: timestamp(e.lastMs),
  });

  const write = async (key: string, e: Entry): Promise<void> => {
    const target = splitKey(key);
    if (!target) return; // apply() keeps only NetworkPolicies
    const { namespace, name } = target;
    const eName = eventName(namespace, name, opts.node);
    const collection = `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`;
    const one = `${collection}/${encodeURIComponent(eName)}`;
    const create = () =>
      api(HttpMethod.POST, collection, {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: eName, namespace },
        involvedObject: { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', namespace, name },
        type: 'Warning',
        reason: 'PolicyRejected',
        ...fields(e),
        source: { component: REPORTING_COMPONENT, host: opts.node },
        reportingComponent: REPORTING_COMPONENT,
        reportingInstance: opts.node,
      });
    const patch = () => api(HttpMethod.PATCH, one, fields(e));
    e.attemptMs = now();
    try {
      // 409: this node's event from before a restart; 404: it expired (events live an hour after a write).
      if (!e.exists)
        await create().catch((err: unknown) => (apiStatusOf(err) === 409 ? patch() : Promise.reject(err)));
      else await patch().catch((err: unknown) => (apiStatusOf(err) === 404 ? create() : Promise.reject(err)));
      e.exists = true;
      e.written = true;
    } catch (err) {
      if (stopping.signal.aborted) return;
      log.warn(
        { policy: key, event: eName, err },
        'could not write the PolicyRejected event; retrying later',
      );
    }
  };

  const apply = async (diagnostics: readonly RejectedPolicy[]): Promise<void> => {
    const t = now();
    const rejected = new Set<string>();
    const due: [string, Entry][] = [];
    for (const d of diagnostics) {
      if (rejected.has(d.policy) || d.problems.length === 0 || !splitKey(d.policy)) continue;
      rejected.add(d.policy);
      const message = eventMessage(d.problems);
      let e = entries.get(d.policy);
      if (!e || e.message !== message) {
        e = {
          message,
          count: 1,
          firstMs: t,
          lastMs: t,
          attemptMs: -Infinity,
          written: false,
          exists: !!e?.exists,
        };
        entries.set(d.policy, e);
      } else if (t - e.lastMs >= intervalMs) {
        e.count += 1;
        e.lastMs = t;
        e.written = false;
      }
      // A new message goes out at once; a failed write is retried once an interval has passed.
      if (!e.written && t - e.attemptMs >= intervalMs) due.push([d.policy, e]);
    }
    for (const key of entries.keys()) if (!rejected.has(key)) entries.delete(key);
    await Promise.all(due.map(([key, e]) => write(key, e)));
  };

  // Coalesced: records that arrive while one is being written collapse into one run of the latest.
  let running: Promise<void> = Promise.resolve();
  let queued: { diagnostics: readonly RejectedPolicy[]; done: Promise<void> } | undefined;
  const run = (q: { diagnostics: readonly RejectedPolicy[] }): Promise<void> => {
    queued = undefined;
    if (stopping.signal.aborted) return Promise.resolve();
    running = apply(q.diagnostics).catch((err: unknown) => log.error({ err }, 'event recorder failed'));
    return running;
  };
  return {
    record(diagnostics) {
      if (stopping.signal.aborted) return Promise.resolve();
      if (queued) {
        queued.diagnostics = diagnostics;
        return queued.done;
      }
      const q = { diagnostics, done: Promise.resolve() };
      q.done = running.then(() => run(q));
      queued = q;
      return q.done;
    },
    stop() {
      stopping.abort();
    },
  };
}
