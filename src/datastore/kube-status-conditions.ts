// Writes status.conditions of cluster-scoped objects that the agents report on (ClusterNetworkPolicies,
// GlobalNetworkPolicies, HostEndpoints), and the Event a write calls for. The kind-specific parts (which
// objects, which conditions, which Event) are the caller's: kube-cluster-policy-status.ts, kube-host-status.ts.
//
// Several agents may write one object: each writes only when the stored conditions differ from the wanted ones
// (lastTransitionTime aside, kept while a condition's status holds, as meta.SetStatusCondition does), with a
// merge patch of the status subresource that carries the resourceVersion it decided from, so the API server
// refuses it (409) if the object changed meanwhile; the writer then reads the object again and decides again
// (usually: another agent wrote the same, nothing to do), at most MAX_ATTEMPTS times. Each run first waits a
// random time up to `jitterMs`, so that of N agents seeing one change most see the first writer's status arrive
// through their watch before their own turn. Conditions of types the caller does not decide (another
// controller's) stay as stored; `remove` drops types that no longer apply.
//
// A status subresource that is not served (404: the object is gone, or its CRD has no status, as Calico's own)
// is not tried again until the object changes. Failures (the API down, RBAC missing) are logged and retried
// after `retryMs`, doubling to a minute; they never reach the caller.
import type { KubeConfig } from '@kubernetes/client-node';
import { HttpMethod } from '@kubernetes/client-node';
import { type DesiredCondition, mergeConditions } from '../model/cluster-policy-conditions.js';
import { isObject } from '../model/k8s.js';
import type { Logger } from '../util/log.js';
import { apiStatusOf } from './kube-client.js';
import { type JsonRequest, sendJson } from './kube-rest.js';

const MAX_ATTEMPTS = 5;
const MAX_RETRY_MS = 60_000;

/** What a status writer reads of an object, as the informer caches it. */
export interface StatusObject {
  readonly metadata: { name: string; uid?: string; resourceVersion: string; generation?: number };
  readonly conditions?: unknown;
}

/** The conditions an object should have; those of `remove` types are dropped. */
export interface WantedConditions {
  readonly conditions: readonly DesiredCondition[];
  readonly remove?: readonly string[];
}

export interface StatusWriterOptions<T extends StatusObject> {
  /** The kind, in log messages ("could not write ClusterNetworkPolicy status"). */
  readonly kind: string;
  /** The logger's component. */
  readonly component: string;
  /** The objects as the datastore has them now (read once at each run). */
  readonly objects: () => readonly T[];
  /** An object's identity among objects() (e.g. its name, or group and name). */
  readonly key: (o: T) => string;
  /** The object's path on the API server (its status is at `${path}/status`). */
  readonly path: (o: T) => string;
  /** Its conditions now; undefined: nothing to say yet. */
  readonly desired: (o: T) => WantedConditions | undefined;
  /** The object as a GET answers it, made into a T (after a conflict). */
  readonly reread: (json: Record<string, unknown>, before: T) => T;
  /** The Event a successful write calls for (posted once; 409 counts as posted), given the stored conditions. */
  readonly event?: (o: T, stored: unknown) => Record<string, unknown> | undefined;
  /** What log lines say of an object (default: its name). */
  readonly logged?: (o: T) => Record<string, unknown>;
  readonly log: Logger;
  /** Sends one request (default: sendJson with `kc`). */
  readonly send?: (req: JsonRequest) => Promise<string>;
  readonly kc?: KubeConfig;
  /** Each run first waits a random time below this (default 1000 ms). */
  readonly jitterMs?: number;
  /** A failed run is tried again after this (default 2000 ms), doubling to a minute. */
  readonly retryMs?: number;
  readonly now?: () => number;
}

export interface StatusWriter {
  /** Something changed: a run is scheduled (coalesced). Never throws. */
  changed(): void;
  /** Resolves once no run is scheduled or running (tests). */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

/** metav1.Time: RFC 3339 in whole seconds. */
export const timestamp = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** `stored` without conditions of the `remove` types, and whether that dropped any. */
function withoutTypes(stored: unknown, remove: readonly string[] | undefined): [unknown, boolean] {
  if (!remove || remove.length === 0 || !Array.isArray(stored)) return [stored, false];
  const kept = stored.filter((c) => !(isObject(c) && typeof c.type === 'string' && remove.includes(c.type)));
  return [kept, kept.length !== stored.length];
}

/** The conditions to write, or undefined when the stored ones are as wanted. */
export function nextConditions(
  stored: unknown,
  wanted: WantedConditions,
  now: string,
): unknown[] | undefined {
  const [kept, dropped] = withoutTypes(stored, wanted.remove);
  const merged = mergeConditions(kept, wanted.conditions, now);
  return merged ?? (dropped ? (kept as unknown[]) : undefined);
}

export function createStatusWriter<T extends StatusObject>(opts: StatusWriterOptions<T>): StatusWriter {
  const log = opts.log.child({ component: opts.component });
  const fields = opts.logged ?? ((o: T) => ({ name: o.metadata.name }));
  const now = opts.now ?? Date.now;
  const jitterMs = opts.jitterMs ?? 1000;
  const retryMs = opts.retryMs ?? 2000;
  const stopping = new AbortController();
  const kc = opts.kc;
  const send =
    opts.send ??
    ((req: JsonRequest) => {
      if (!kc) throw new Error(`${opts.kind} status: neither send nor kc given`);
      return sendJson(kc, req);
    });
  const api = async (req: Omit<JsonRequest, 'signal'>): Promise<Record<string, unknown>> => {
    const text = await send({ ...req, signal: stopping.signal });
    const out: unknown = text === '' ? {} : JSON.parse(text);
    return isObject(out) ? out : {};
  };
  /** key → the resourceVersion this agent last wrote the status from (its write is on its way back). */
  const written = new Map<string, string>();
  /** The Event to post, by key: set by a write that called for one, kept until posted (or the object is gone). */
  const pendingEvents = new Map<string, Record<string, unknown>>();

  /** Posts the Event pending for `key`; one that exists already (409) was posted before. */
  const postEvent = async (key: string, body: Record<string, unknown>): Promise<void> => {
    const namespace = isObject(body.metadata) ? String(body.metadata.namespace ?? 'default') : 'default';
    await api({ method: HttpMethod.POST, path: `/api/v1/namespaces/${namespace}/events`, body }).catch(
      (err: unknown) => {
        if (apiStatusOf(err) !== 409) throw err;
      },
    );
    if (pendingEvents.get(key) === body) pendingEvents.delete(key);
  };

  /** Writes one object's status if it differs from the wanted one (and keeps the Event the write calls for). */
  const reconcile = async (first: T): Promise<void> => {
    let o = first;
    const key = opts.key(o);
    for (let attempt = 1; ; attempt++) {
      const { resourceVersion } = o.metadata;
      const wanted = opts.desired(o);
      const conditions = wanted && nextConditions(o.conditions, wanted, timestamp(now()));
      if (!conditions || written.get(key) === resourceVersion) return;
      const path = opts.path(o);
      try {
        await api({
          method: HttpMethod.PATCH,
          path: `${path}/status`,
          patch: 'merge',
          body: { metadata: { resourceVersion }, status: { conditions } },
        });
        written.set(key, resourceVersion);
        log.info(fields(o), 'status written');
        const event = opts.event?.(o, o.conditions);
        if (event) pendingEvents.set(key, event);
        return;
      } catch (err) {
        // Deleted meanwhile, or no status subresource: not again until the object changes.
        if (apiStatusOf(err) === 404) {
          written.set(key, resourceVersion);
          return;
        }
        if (apiStatusOf(err) !== 409 || attempt >= MAX_ATTEMPTS) throw err;
      }
      // Changed since it was read (often: another agent wrote the same status). Read it again, decide again.
      const fresh = await api({ method: HttpMethod.GET, path }).catch((err: unknown) => {
        if (apiStatusOf(err) === 404) return undefined;
        throw err;
      });
      if (!fresh) return;
      o = opts.reread(fresh, o);
    }
  };

  const run = async (): Promise<boolean> => {
    let ok = true;
    const objects = opts.objects();
    const keys = new Set(objects.map(opts.key));
    for (const key of written.keys()) if (!keys.has(key)) written.delete(key);
    for (const key of pendingEvents.keys()) if (!keys.has(key)) pendingEvents.delete(key);
    for (const o of objects) {
      if (stopping.signal.aborted) return true;
      await reconcile(o).catch((err: unknown) => {
        if (stopping.signal.aborted) return;
        ok = false;
        log.warn({ ...fields(o), err }, `could not write ${opts.kind} status; retrying later`);
      });
    }
    // Events of this run's writes, and those that failed before.
    for (const [key, body] of [...pendingEvents]) {
      if (stopping.signal.aborted) return true;
      await postEvent(key, body).catch((err: unknown) => {
        ok = false;
        log.warn({ err }, `could not post a ${opts.kind} event; retrying later`);
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
