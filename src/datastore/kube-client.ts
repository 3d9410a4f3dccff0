// The two seams the informers use to reach the API server, built on @kubernetes/client-node:
// - listObjects: LIST as raw JSON. The generated API clients decode into typed models, which drop fields they
//   do not know and throw on a wrongly-typed one; the model's parsers must see the object as the server sent it
//   (an unknown NetworkPolicy field has to fail closed, not vanish), and watch events arrive raw anyway.
// - TrackingWatch: client-node's Watch with bookmarks requested, malformed events dropped, every event and every
//   (re)opened watch reported, and a stop that also closes watches opened after ListWatch.stop() (see stop()).

import { Agent } from 'node:https';
import {
  HttpMethod,
  IsomorphicFetchHttpLibrary,
  KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  RequestContext,
  Watch,
} from '@kubernetes/client-node';
import { isObject } from '../model/k8s.js';

/** A failed API request: the status code (0 when no response) and the server's Status message. */
export class KubeApiError extends Error {
  override readonly name = 'KubeApiError';
  constructor(
    readonly path: string,
    readonly statusCode: number,
    message: string,
    options?: ErrorOptions,
  ) {
    super(`${path}: ${message}`, options);
  }
}

/** The HTTP status of a failed API request (404 not found, 409 conflict, ...); undefined for other errors. */
export function apiStatusOf(err: unknown): number | undefined {
  return err instanceof KubeApiError ? err.statusCode : undefined;
}

/**
 * The kubeconfig at `path`, else client-node's default: $KUBECONFIG, ~/.kube/config, then the pod's service
 * account (in-cluster). Its last resort, an unauthenticated http://localhost:8080, is refused.
 */
export function loadKubeConfig(path: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (path) kc.loadFromFile(path);
    else kc.loadFromDefault();
  } catch (err) {
    throw new Error(
      `kubeconfig ${path ?? '(default)'}: ${err instanceof Error ? err.message : String(err)}`,
      {
        cause: err,
      },
    );
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error(`kubeconfig ${path ?? '(default)'}: no current cluster`);
  if (!path && cluster.name === 'cluster' && cluster.server === 'http://localhost:8080') {
    throw new Error(
      'no kubeconfig: KUBECONFIG is unset, there is no ~/.kube/config and no service account (not in a pod)',
    );
  }
  return kc;
}

/** What ListWatch needs of an object (metadata.name, or it throws inside the informer). */
function isNamedObject(o: unknown): o is KubernetesObject {
  return isObject(o) && isObject(o.metadata) && typeof o.metadata.name === 'string';
}

/** The message of the Status an API server answers with, else the start of the body. */
export function statusMessage(body: string): string {
  try {
    const status: unknown = JSON.parse(body);
    if (isObject(status) && typeof status.message === 'string') return status.message;
  } catch (_err) {
    // not a Status: the start of the body says more than nothing
  }
  return body.slice(0, 200);
}

/**
 * Objects per LIST request. Each page is decoded whole before its items are compacted, so the page size sets
 * the agent's peak while it lists: at 10k Pods of ~2.5 KB each, pages of 1000/500/100 left the agent at
 * 189/158/147 MB RSS (bench/agent-sync.ts). client-go uses 500; 100 costs 100 requests for 10k Pods.
 */
export const LIST_PAGE_SIZE = 100;

const keepAliveAgents = new WeakMap<KubeConfig, Agent>();

/**
 * client-node's authentication for one request, over one keep-alive connection pool per kubeconfig.
 * client-node builds a new https.Agent for every request, so each request paid a TLS handshake (18 ms a GET
 * against 3 ms on a kept connection, measured against the lab's API server); the first LIST of 10k pods is
 * 100 requests. The pool takes the TLS options of the first agent client-node builds (CA, client certificate,
 * server name): they come from the kubeconfig, which does not change under a running process. Headers
 * (a token re-read from its file) are still set on every request.
 */
export async function authenticate(kc: KubeConfig, request: RequestContext): Promise<void> {
  await kc.applySecurityAuthentication(request);
  const built = request.getAgent();
  if (!(built instanceof Agent)) return; // a proxy agent, or plain http: keep client-node's
  let pooled = keepAliveAgents.get(kc);
  if (!pooled) {
    pooled = new Agent({ ...built.options, keepAlive: true });
    keepAliveAgents.set(kc, pooled);
  }
  request.setAgent(pooled);
  built.destroy();
}

async function getJson(kc: KubeConfig, url: string, path: string, signal: AbortSignal): Promise<unknown> {
  const request = new RequestContext(url, HttpMethod.GET);
  request.setHeaderParam('Accept', 'application/json');
  request.setSignal(signal);
  await authenticate(kc, request);
  const response = await new IsomorphicFetchHttpLibrary().send(request).toPromise();
  const body = await response.body.text();
  if (response.httpStatusCode !== 200) {
    throw new KubeApiError(path, response.httpStatusCode, statusMessage(body));
  }
  try {
    return JSON.parse(body) as unknown;
  } catch (err) {
    throw new KubeApiError(path, 200, 'the list is not JSON', { cause: err });
  }
}

/**
 * LIST `path` across all namespaces, as raw JSON, in pages of `pageSize` (the server serves every page from the
 * first page's snapshot; an expired continue token is a 410 and the informer lists again). Items without
 * metadata.name are dropped; `transform` may slim each item before it is kept, so that a 10k-pod list is never
 * held whole (the informer's cache keeps what this returns).
 */
export async function listObjects(
  kc: KubeConfig,
  path: string,
  signal: AbortSignal,
  opts: { pageSize?: number; transform?: (o: KubernetesObject) => KubernetesObject } = {},
): Promise<KubernetesListObject<KubernetesObject>> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new KubeApiError(path, 0, 'the kubeconfig has no current cluster');
  const pageSize = opts.pageSize ?? LIST_PAGE_SIZE;
  const out: KubernetesObject[] = [];
  let resourceVersion: string | undefined;
  let token: string | undefined;
  do {
    const query = new URLSearchParams({ limit: String(pageSize), ...(token ? { continue: token } : {}) });
    const list = await getJson(kc, `${cluster.server}${path}?${query}`, path, signal);
    const items = isObject(list) && Array.isArray(list.items) ? list.items : undefined;
    const meta = isObject(list) && isObject(list.metadata) ? list.metadata : {};
    if (!items) throw new KubeApiError(path, 200, 'the list has no items array');
    resourceVersion ??= typeof meta.resourceVersion === 'string' ? meta.resourceVersion : '';
    for (const item of items) {
      if (isNamedObject(item)) out.push(opts.transform ? opts.transform(item) : item);
    }
    token = typeof meta.continue === 'string' && meta.continue !== '' ? meta.continue : undefined;
  } while (token);
  return { metadata: { resourceVersion }, items: out };
}

export interface WatchHooks {
  /** A watch is being opened from `resourceVersion` (right after a list, that list's version). */
  onOpen(resourceVersion: string): void;
  /** An event the informer is about to apply (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR). */
  onEvent(type: string, object: Readonly<Record<string, unknown>>): void;
  /** A watch ended: err null when the server closed it cleanly. */
  onClose(err: unknown): void;
  /**
   * The informer threw: applying an event (`event`: the watch goes on), or handling a watch's end (`end`: it
   * is left idle, neither listing nor watching, and needs a restart).
   */
  onFailure(err: unknown, during: 'event' | 'end'): void;
  /** A watch outlived its timeout and grace: it is being aborted as dead. */
  onDeadline?(): void;
  /**
   * Whether a watch that failed with `err` must make the informer list again, as after a 410 (its
   * resourceVersion is forgotten). For a 404: a resource whose CRD was removed answers every watch with 404, and
   * only a list can tell the datastore it is gone.
   */
  relistAfter?(err: unknown): boolean;
}

/** What ListWatch takes for "list again": an error with code 410, carrying the real one as its cause. */
function relistError(err: unknown): Error {
  return Object.assign(new Error('list again', { cause: err }), { statusCode: 410 });
}

type WatchParams = Record<string, string | number | boolean | undefined>;
type EventCallback = (phase: string, apiObj: unknown, watchObj?: unknown) => void;

const OBJECT_EVENTS = new Set(['ADDED', 'MODIFIED', 'DELETED']);

/** How long each watch may stay open: the server is asked to end it, and the client ends it a little later. */
export interface WatchTimeout {
  /** Each watch asks for a random timeoutSeconds in [min, 2 × min), as client-go does (min 300). */
  readonly minSeconds: number;
  /** If the server has not ended the watch this long after its timeout, the connection is taken as dead. */
  readonly graceMs: number;
}

export const DEFAULT_WATCH_TIMEOUT: WatchTimeout = { minSeconds: 300, graceMs: 30_000 };

export class TrackingWatch extends Watch {
  private stopped = false;
  private readonly open = new Set<AbortController>();
  private readonly pending = new Set<Promise<unknown>>();

  constructor(
    config: KubeConfig,
    private readonly hooks: WatchHooks,
    private readonly timeout: WatchTimeout = DEFAULT_WATCH_TIMEOUT,
    /** Applied to every object an ADDED or MODIFIED event carries, before the informer caches it. */
    private readonly transform?: (o: KubernetesObject) => KubernetesObject,
  ) {
    super(config);
  }

  override async watch(
    path: string,
    queryParams: WatchParams,
    callback: EventCallback,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    if (this.stopped) {
      const dead = new AbortController();
      dead.abort();
      return dead;
    }
    this.hooks.onOpen(String(queryParams.resourceVersion ?? ''));
    let controller: AbortController | undefined;
    // client-node 1.4 builds a 30 s timeout signal for the watch request and then overwrites it, so a watch on
    // a connection that died silently would wait for events forever (TCP keepalive takes ~11 min to notice).
    // Ask the server to end each watch, and end it here if the server does not: ListWatch then watches again
    // from its resourceVersion (or re-lists on 410).
    const seconds = this.timeout.minSeconds * (1 + Math.random());
    let deadline: NodeJS.Timeout | undefined;
    const onEnd = (err: unknown) => {
      clearTimeout(deadline);
      if (controller) this.open.delete(controller);
      this.hooks.onClose(err);
      const relist = err !== null && err !== undefined && this.hooks.relistAfter?.(err) === true;
      // ListWatch's done handler is async: a rejection there would otherwise be unhandled (a crash).
      const result: unknown = done(relist ? relistError(err) : err);
      if (result instanceof Promise) result.catch((e: unknown) => this.hooks.onFailure(e, 'end'));
    };
    const params = { ...queryParams, allowWatchBookmarks: true, timeoutSeconds: Math.floor(seconds) };
    const opening = super.watch(
      path,
      params,
      (type, obj, raw) => this.deliver(callback, type, obj, raw),
      onEnd,
    );
    this.pending.add(opening);
    try {
      controller = await opening;
    } finally {
      this.pending.delete(opening);
    }
    if (this.stopped) controller.abort();
    else if (!controller.signal.aborted) {
      this.open.add(controller);
      const c = controller;
      deadline = setTimeout(
        () => {
          this.hooks.onDeadline?.();
          c.abort();
        },
        seconds * 1000 + this.timeout.graceMs,
      );
      deadline.unref();
    }
    return controller;
  }

  private deliver(callback: EventCallback, type: string, obj: unknown, raw: unknown): void {
    if (this.stopped || !isObject(obj)) return;
    if (OBJECT_EVENTS.has(type) && !isNamedObject(obj)) return;
    const kept = this.transform && OBJECT_EVENTS.has(type) ? this.transform(obj as KubernetesObject) : obj;
    this.hooks.onEvent(type, kept as Readonly<Record<string, unknown>>);
    const result: unknown = callback(type, kept, raw);
    if (result instanceof Promise) result.catch((e: unknown) => this.hooks.onFailure(e, 'event'));
  }

  /**
   * Closes every watch and refuses new ones. Needed beside ListWatch.stop(): the informer checks its stopped
   * flag only before listing, so a stop() during a list or while a watch request is in flight would otherwise
   * leave a watch open for good. Waits (at most `graceMs`) for watch requests still waiting for headers.
   */
  async stop(graceMs = 2000): Promise<void> {
    this.stopped = true;
    for (const c of this.open) c.abort();
    this.open.clear();
    if (this.pending.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([Promise.allSettled([...this.pending]), grace]);
    clearTimeout(timer);
  }
}
