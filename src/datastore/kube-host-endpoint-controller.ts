// The host endpoint controller (issue 11 §3): keeps this node's automatic HostEndpoint (palisade.dev/v1, named
// after the node; what it holds is decided in src/agent/host-endpoint-desired.ts) in place.
//
// - Watch-driven: two informers field-selected by name (kube-watch-one.ts), on this node's Node and on its
//   HostEndpoint; no other node's objects are listed, watched or written.
// - Level-triggered and coalesced: an event only says "something changed"; a run reads both caches, plans, and
//   writes only when the endpoint differs from what it should be (create, or one merge patch of the differing
//   fields). Changes during a run make one more run after it. A resync every `resyncMs` runs once more.
// - Never fights a concurrent writer: a patch carries the resourceVersion it was planned from (409 if the
//   object changed meanwhile), a create fails with 409 if one appeared; either way the endpoint is read again
//   and planned again, at most MAX_ATTEMPTS times in a run.
// - A failed run is retried after `retryMs`, doubling to 30 s (a change brings the retry forward).
// - An endpoint of that name that is not this agent's is left alone: a warning in the log and one Warning
//   Event (reason HostEndpointNotManaged, namespace default as client-go does for cluster-scoped objects) per
//   such object (by uid), named from the uid so that a restart posts no second one.
// - Once the Node is gone nothing is written: the garbage collector deletes the endpoint through its owner
//   reference.
import { createHash } from 'node:crypto';
import { HttpMethod, type KubeConfig } from '@kubernetes/client-node';
import {
  HOST_ENDPOINT_API_VERSION,
  type HostEndpointController,
  type HostEndpointOptions,
  type HostEndpointPlan,
  type HostEndpointStatus,
  planHostEndpoint,
} from '../agent/host-endpoint-desired.js';
import { isObject } from '../model/k8s.js';
import type { Logger } from '../util/log.js';
import { apiStatusOf, loadKubeConfig } from './kube-client.js';
import { REPORTING_COMPONENT } from './kube-events.js';
import { type JsonRequest, sendJson } from './kube-rest.js';
import { type WatchedObject, watchOne } from './kube-watch-one.js';

type Json = Record<string, unknown>;

export const HOST_ENDPOINTS_PATH = `/apis/${HOST_ENDPOINT_API_VERSION}/hostendpoints`;
const NODES_PATH = '/api/v1/nodes';
const MAX_ATTEMPTS = 5;
const MAX_RETRY_MS = 30_000;

export interface HostEndpointControllerOptions extends HostEndpointOptions {
  readonly log: Logger;
  /** A kubeconfig file; default as the datastore's ($KUBECONFIG, ~/.kube/config, in-cluster). */
  readonly kubeConfig?: string;
  /** A failed run is tried again after this (default 1000 ms), doubling to 30 s. */
  readonly retryMs?: number;
  /** A run with nothing changed this often (default 5 min). */
  readonly resyncMs?: number;
  /** Restart backoff of the two informers (default 1 s doubling to 30 s). */
  readonly watchBackoff?: { readonly initialMs: number; readonly maxMs: number };
  readonly now?: () => number;
  /** Seams for tests: one request (default sendJson), and the two watched objects (default watchOne). */
  readonly send?: (req: JsonRequest) => Promise<string>;
  readonly watch?: (collection: string, name: string, onChange: () => void) => WatchedObject;
}

/** metav1.Time: RFC 3339 in whole seconds. */
const timestamp = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The HostEndpointNotManaged Event's name: the endpoint's name and a hash of its uid, a DNS subdomain. */
export function foreignEventName(name: string, uid: string): string {
  const hash = createHash('sha256').update(`hostendpoint\0${uid}`).digest('hex').slice(0, 16);
  return `${name.slice(0, 253 - 26).replace(/[.-]+$/, '')}.palisade.${hash}`;
}

export function createHostEndpointController(opts: HostEndpointControllerOptions): HostEndpointController {
  const log = opts.log.child({ component: 'host-endpoint', hostEndpoint: opts.node });
  const now = opts.now ?? Date.now;
  const retryMs = opts.retryMs ?? 1000;
  const stopping = new AbortController();
  let kc: KubeConfig | undefined;
  const kubeConfig = () => {
    kc ??= loadKubeConfig(opts.kubeConfig);
    return kc;
  };
  const send = opts.send ?? ((req: JsonRequest) => sendJson(kubeConfig(), req));
  const api = async (req: Omit<JsonRequest, 'signal'>): Promise<Json> => {
    const text = await send({ ...req, signal: stopping.signal });
    const out: unknown = text === '' ? {} : JSON.parse(text);
    return isObject(out) ? out : {};
  };
  const path = `${HOST_ENDPOINTS_PATH}/${encodeURIComponent(opts.node)}`;

  let status: HostEndpointStatus = { name: opts.node, state: 'starting', creates: 0, patches: 0 };
  let onStatus: (s: HostEndpointStatus) => void = () => {};
  const setStatus = (change: Partial<HostEndpointStatus>) => {
    const next: HostEndpointStatus = { ...status, reason: undefined, ...change };
    if (next.reason === undefined) delete (next as { reason?: string }).reason;
    const moved = next.state !== status.state || next.reason !== status.reason;
    const wrote = next.creates !== status.creates || next.patches !== status.patches;
    status = next;
    if (moved && next.state === 'in-place') log.info({}, 'host endpoint in place');
    else if (moved && next.state === 'waiting') log.info({ reason: next.reason }, 'host endpoint: waiting');
    else if (moved && next.state === 'foreign') log.warn({ reason: next.reason }, 'host endpoint not ours');
    if (moved || wrote) onStatus(status);
  };

  /** uids of foreign endpoints whose Event has been posted. */
  const reported = new Set<string>();
  const reportForeign = async (current: Json, reason: string): Promise<void> => {
    const meta = isObject(current.metadata) ? current.metadata : {};
    const uid = typeof meta.uid === 'string' ? meta.uid : '';
    if (reported.has(uid)) return;
    const t = timestamp(now());
    const body = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: foreignEventName(opts.node, uid), namespace: 'default' },
      involvedObject: {
        apiVersion: HOST_ENDPOINT_API_VERSION,
        kind: 'HostEndpoint',
        name: opts.node,
        ...(uid ? { uid } : {}),
      },
      type: 'Warning',
      reason: 'HostEndpointNotManaged',
      message: `${reason}; the agent keeps no automatic host endpoint for node ${opts.node} while it exists`,
      count: 1,
      firstTimestamp: t,
      lastTimestamp: t,
      source: { component: REPORTING_COMPONENT, host: opts.node },
      reportingComponent: REPORTING_COMPONENT,
      reportingInstance: opts.node,
    };
    await api({ method: HttpMethod.POST, path: '/api/v1/namespaces/default/events', body }).catch(
      (err: unknown) => {
        if (apiStatusOf(err) !== 409) throw err; // 409: posted before (by this agent, before a restart)
      },
    );
    reported.clear();
    reported.add(uid);
  };

  /** Carries out one plan; rejects with the API's error. */
  const carryOut = async (plan: HostEndpointPlan, current: Json | undefined): Promise<void> => {
    switch (plan.action) {
      case 'none':
        return setStatus({ state: 'in-place' });
      case 'wait':
        return setStatus({ state: 'waiting', reason: plan.reason });
      case 'foreign':
        setStatus({ state: 'foreign', reason: plan.reason });
        if (current) await reportForeign(current, plan.reason);
        return;
      case 'create':
        await api({ method: HttpMethod.POST, path: HOST_ENDPOINTS_PATH, body: plan.body });
        log.info({}, 'host endpoint created');
        return setStatus({ state: 'in-place', creates: status.creates + 1 });
      case 'patch':
        await api({ method: HttpMethod.PATCH, path, patch: 'merge', body: plan.body });
        log.info({ changed: plan.changed }, 'host endpoint updated');
        return setStatus({ state: 'in-place', patches: status.patches + 1 });
    }
  };

  let nodeWatch: WatchedObject | undefined;
  let hepWatch: WatchedObject | undefined;

  /** Plans from the caches, writes; on a conflict reads the endpoint again and plans again. */
  const reconcile = async (): Promise<void> => {
    if (!nodeWatch?.synced() || !hepWatch?.synced()) return;
    let current: Json | undefined = hepWatch.current();
    for (let attempt = 1; ; attempt++) {
      const plan = planHostEndpoint(nodeWatch.current(), current, opts);
      try {
        await carryOut(plan, current);
        return;
      } catch (err) {
        const code = apiStatusOf(err);
        // A patch refused as stale (409) or of an endpoint deleted meanwhile (404); a create of one that
        // appeared meanwhile (409).
        const raced =
          (plan.action === 'patch' && (code === 409 || code === 404)) ||
          (plan.action === 'create' && code === 409);
        if (!raced || attempt >= MAX_ATTEMPTS) throw err;
        log.debug(
          { action: plan.action, code, attempt },
          'host endpoint changed meanwhile; reading it again',
        );
      }
      current = await api({ method: HttpMethod.GET, path }).catch((err: unknown) => {
        if (apiStatusOf(err) === 404) return undefined;
        throw err;
      });
    }
  };

  let timer: NodeJS.Timeout | undefined;
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
      running = reconcile()
        .then(
          () => true,
          (err: unknown) => {
            if (stopping.signal.aborted) return true;
            const forbidden = apiStatusOf(err) === 403;
            log.warn(
              {
                err,
                retryMs: delayMs,
                ...(forbidden
                  ? { hint: 'palisade manifests --host-endpoint-controller grants the RBAC' }
                  : {}),
              },
              'host endpoint: run failed; retrying',
            );
            setStatus({ state: 'failing', reason: err instanceof Error ? err.message : String(err) });
            return false;
          },
        )
        .then((ok) => {
          running = undefined;
          if (!ok) {
            // A change meanwhile brings the retry forward (schedule), without resetting the backoff.
            dirty = false;
            schedule(delayMs, true);
            delayMs = Math.min(delayMs * 2, MAX_RETRY_MS);
            return;
          }
          delayMs = retryMs;
          if (dirty) {
            dirty = false;
            schedule(0, false);
          }
        });
    }, ms);
  };
  const changed = () => {
    if (running) dirty = true;
    else schedule(0, false);
  };

  let resync: NodeJS.Timeout | undefined;
  return {
    start(hook) {
      if (nodeWatch) throw new Error('host endpoint controller: started twice');
      if (hook) onStatus = hook;
      const watch =
        opts.watch ??
        ((collection: string, name: string, onChange: () => void) =>
          watchOne({
            kc: kubeConfig(),
            collection,
            name,
            onChange,
            log,
            ...(opts.watchBackoff ? { backoff: opts.watchBackoff } : {}),
          }));
      nodeWatch = watch(NODES_PATH, opts.node, changed);
      hepWatch = watch(HOST_ENDPOINTS_PATH, opts.node, changed);
      nodeWatch.start();
      hepWatch.start();
      resync = setInterval(changed, opts.resyncMs ?? 300_000);
      log.info({ extraLabels: opts.extraLabels }, 'host endpoint controller started');
    },
    status: () => status,
    async stop() {
      stopping.abort();
      clearInterval(resync);
      clearTimeout(timer);
      timer = undefined;
      await running;
      await Promise.all([nodeWatch?.stop(), hepWatch?.stop()]);
    },
  };
}
