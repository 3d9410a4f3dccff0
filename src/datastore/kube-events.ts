// Warning Events per node: `kubectl describe networkpolicy` shows why a policy fails closed, `kubectl describe
// hostendpoint` why it is not enforced as written.
//
// core/v1 Events (not events.k8s.io/v1): the two are one resource in storage and both show in describe, but the
// core/v1 shape has the count/firstTimestamp/lastTimestamp series that client-go's classic recorder keeps
// (events.k8s.io/v1 wants eventTime, action and a separate `series`), and it is the API group most RBAC already
// grants "create, patch" on.
//
// One event per (object, reason, node), named deterministically from them: every node's agent sees the same rejected
// policy, so a cluster holds at most one event per policy per node, each written at most once a minute, and an
// agent restart finds its own event again (POST answers 409, and the recorder patches it) instead of adding one.
// A leader (one reporter per policy) would cut that to one event, at the price of a lease or of agreeing on a
// node list; the per-node events also say which agents are enforcing the fail-closed rules.
//
// The recorder takes warnings about any object (`report(source, warnings)`): NetworkPolicies rejected
// (`record(diagnostics)`, reason PolicyRejected), and the host policy warnings of kube-host-status.ts
// (GlobalNetworkPolicies and HostEndpoints: rejected, not programmed, refused by lockout protection, rolled back,
// an interface not found). Each source reports all of its warnings each time; one no longer reported is
// forgotten. Cluster-scoped objects' events go in namespace default, as client-go's recorder puts them. The
// compiler's diagnostics also name ClusterNetworkPolicies ("cnp:NAME"), whose Event goes with their status,
// posted once per rejection by the agent that wrote it (kube-cluster-policy-status.ts); they are skipped here.
//
// Deduplication as client-go's recorder: the same (object, reason, message) is not written again on every sync; a
// repeat at least `intervalMs` after the last counted one bumps count and lastTimestamp (PATCH); a new message
// restarts the series at once. Warnings no longer reported are forgotten. Failures are logged and retried on a
// later sync, at most once per interval; they never reach the caller.
import { createHash } from 'node:crypto';
import { HttpMethod } from '@kubernetes/client-node';
import type { Logger } from '../util/log.js';
import { apiStatusOf, loadKubeConfig } from './kube-client.js';
import { type JsonRequest, sendJson } from './kube-rest.js';

/** A policy the compiler rejected: "namespace/name" and its problems, each naming field and value. */
export interface RejectedPolicy {
  readonly policy: string;
  readonly problems: readonly string[];
}

/** The object an Event is about (core/v1 ObjectReference); no namespace: cluster-scoped. */
export interface InvolvedObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace?: string;
  readonly name: string;
  /** `kubectl describe` finds an object's events by uid too. */
  readonly uid?: string;
}

/** One Warning Event's worth: about what, why (a CamelCase reason) and the message. */
export interface Warning {
  readonly involvedObject: InvolvedObject;
  readonly reason: string;
  readonly message: string;
}

export interface WarningEventRecorder {
  /**
   * The warnings of one source now (all of them: one missing here is no longer so). Never rejects. Reports of
   * one source that arrive while a write runs collapse into its latest.
   */
  report(source: string, warnings: readonly Warning[]): Promise<void>;
  /** Aborts requests in flight; later reports do nothing. */
  stop(): void;
}

export interface PolicyEventRecorder extends WarningEventRecorder {
  /** The rejected policies of one sync (all of them: one missing here is no longer rejected). Never rejects. */
  record(diagnostics: readonly RejectedPolicy[]): Promise<void>;
}

export interface PolicyEventRecorderOptions {
  /** A kubeconfig file; default as the datastore's ($KUBECONFIG, ~/.kube/config, in-cluster). */
  kubeConfig?: string;
  /** Sends one request (default: sendJson with the kubeconfig). */
  send?: (req: JsonRequest) => Promise<string>;
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
  readonly warning: Warning;
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

/**
 * The Event's name: the object's name and a hash of (object, node), a valid DNS subdomain. `series` tells apart
 * the events of one object and node (kind, reason); NetworkPolicies' PolicyRejected events go without it.
 */
export function eventName(namespace: string, name: string, node: string, series?: string): string {
  const key = `${namespace}/${name}\0${node}${series === undefined ? '' : `\0${series}`}`;
  const hash = createHash('sha256').update(key).digest('hex').slice(0, 16);
  const base = name.slice(0, 253 - 26).replace(/[.-]+$/, '');
  return `${base}.palisade.${hash}`;
}

function bounded(text: string): string {
  return text.length <= MAX_MESSAGE ? text : `${text.slice(0, MAX_MESSAGE - 3)}...`;
}

export function eventMessage(problems: readonly string[]): string {
  return bounded(
    `NetworkPolicy rejected; it fails closed (isolates the pods it selects, allows nothing): ${problems.join('; ')}`,
  );
}

/** metav1.Time: RFC 3339 in whole seconds. */
const timestamp = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

function splitKey(key: string): { namespace: string; name: string } | undefined {
  const i = key.indexOf('/');
  if (i <= 0 || i === key.length - 1 || key.includes(':')) return undefined;
  return { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

/** The PolicyRejected warnings of a sync's diagnostics: NetworkPolicies ("namespace/name") only. */
export function networkPolicyWarnings(diagnostics: readonly RejectedPolicy[]): Warning[] {
  const seen = new Set<string>();
  return diagnostics.flatMap((d) => {
    const target = splitKey(d.policy);
    if (!target || d.problems.length === 0 || seen.has(d.policy)) return [];
    seen.add(d.policy);
    return [
      {
        involvedObject: { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', ...target },
        reason: 'PolicyRejected',
        message: eventMessage(d.problems),
      },
    ];
  });
}

const isNetworkPolicyRejection = (w: Warning) =>
  w.involvedObject.kind === 'NetworkPolicy' && w.reason === 'PolicyRejected';

/** Where a warning's event goes: namespace (default for cluster-scoped objects) and name. */
function eventTarget(w: Warning, node: string): { namespace: string; name: string } {
  const o = w.involvedObject;
  const namespace = o.namespace ?? 'default';
  const series = isNetworkPolicyRejection(w) ? undefined : `${o.apiVersion}\0${o.kind}\0${w.reason}`;
  return { namespace, name: eventName(o.namespace ?? '', o.name, node, series) };
}

/** A series' identity within a source: the object and the reason. */
function seriesKey(w: Warning): string {
  const o = w.involvedObject;
  return [o.apiVersion, o.kind, o.namespace ?? '', o.name, w.reason].join('\0');
}

/** What log lines say of a warning's object. */
function logFields(w: Warning): Record<string, string> {
  const o = w.involvedObject;
  return o.kind === 'NetworkPolicy'
    ? { policy: `${o.namespace}/${o.name}` }
    : { object: `${o.kind}/${o.name}`, apiVersion: o.apiVersion };
}

export function createPolicyEventRecorder(opts: PolicyEventRecorderOptions): PolicyEventRecorder {
  const log = opts.log.child({ component: 'events' });
  const kc = opts.send ? undefined : loadKubeConfig(opts.kubeConfig);
  const send = opts.send ?? ((req: JsonRequest) => sendJson(kc!, req));
  const now = opts.now ?? Date.now;
  const intervalMs = opts.intervalMs ?? 60_000;
  /** By source, then series. */
  const entries = new Map<string, Map<string, Entry>>();
  const stopping = new AbortController();
  const api = (method: HttpMethod, path: string, body: object) =>
    send({ method, path, body, signal: stopping.signal });

  const fields = (e: Entry) => ({
    message: e.warning.message,
    count: e.count,
    firstTimestamp: timestamp(e.firstMs),
    lastTimestamp: timestamp(e.lastMs),
  });

  const write = async (e: Entry): Promise<void> => {
    const w = e.warning;
    const { namespace, name: eName } = eventTarget(w, opts.node);
    const collection = `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`;
    const one = `${collection}/${encodeURIComponent(eName)}`;
    const o = w.involvedObject;
    const create = () =>
      api(HttpMethod.POST, collection, {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: eName, namespace },
        involvedObject: {
          apiVersion: o.apiVersion,
          kind: o.kind,
          ...(o.namespace !== undefined ? { namespace: o.namespace } : {}),
          name: o.name,
          ...(o.uid ? { uid: o.uid } : {}),
        },
        type: 'Warning',
        reason: w.reason,
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
        { ...logFields(w), event: eName, err },
        `could not write the ${w.reason} event; retrying later`,
      );
    }
  };

  /** One source's warnings now: new ones and changed messages are due at once, repeats once an interval. */
  const applySource = (source: string, warnings: readonly Warning[], due: Entry[]): void => {
    const t = now();
    const mine = entries.get(source) ?? new Map<string, Entry>();
    entries.set(source, mine);
    const present = new Set<string>();
    for (const given of warnings) {
      const key = seriesKey(given);
      if (present.has(key)) continue;
      present.add(key);
      const warning = { ...given, message: bounded(given.message) };
      let e = mine.get(key);
      if (!e || e.warning.message !== warning.message) {
        e = {
          warning,
          count: 1,
          firstMs: t,
          lastMs: t,
          attemptMs: -Infinity,
          written: false,
          exists: !!e?.exists,
        };
        mine.set(key, e);
      } else if (t - e.lastMs >= intervalMs) {
        e.count += 1;
        e.lastMs = t;
        e.written = false;
      }
      // A new message goes out at once; a failed write is retried once an interval has passed.
      if (!e.written && t - e.attemptMs >= intervalMs) due.push(e);
    }
    for (const key of mine.keys()) if (!present.has(key)) mine.delete(key);
  };

  const apply = async (sources: ReadonlyMap<string, readonly Warning[]>): Promise<void> => {
    const due: Entry[] = [];
    for (const [source, warnings] of sources) applySource(source, warnings, due);
    await Promise.all(due.map(write));
  };

  // Coalesced: reports that arrive while one is being written collapse into one run of each source's latest.
  let running: Promise<void> = Promise.resolve();
  let queued: { sources: Map<string, readonly Warning[]>; done: Promise<void> } | undefined;
  const run = (q: { sources: Map<string, readonly Warning[]> }): Promise<void> => {
    queued = undefined;
    if (stopping.signal.aborted) return Promise.resolve();
    running = apply(q.sources).catch((err: unknown) => log.error({ err }, 'event recorder failed'));
    return running;
  };
  const report = (source: string, warnings: readonly Warning[]): Promise<void> => {
    if (stopping.signal.aborted) return Promise.resolve();
    if (queued) {
      queued.sources.set(source, warnings);
      return queued.done;
    }
    const q = { sources: new Map([[source, warnings]]), done: Promise.resolve() };
    q.done = running.then(() => run(q));
    queued = q;
    return q.done;
  };
  return {
    report,
    record: (diagnostics) => report('networkpolicies', networkPolicyWarnings(diagnostics)),
    stop() {
      stopping.abort();
    },
  };
}
