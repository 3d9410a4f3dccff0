// One named object, kept current by an informer field-selected by name (metadata.name=NAME): client-node's
// ListWatch over the datastore's TrackingWatch (bookmarks, a deadline on dead watches, a stop that holds).
// What the host endpoint controller watches: its own Node and its own HostEndpoint, never the whole collection.
//
// Recovery as the datastore's informers (kube.ts): ListWatch re-lists by itself on a 410 and re-watches when
// the server ends a watch cleanly; any other failure (a failed list, a dropped connection, a 404 because the
// CRD is not installed) leaves it idle, so it is started again after a backoff (1 s doubling to 30 s, reset
// once a start gets through). A watch answering 404 (the CRD removed) makes it list again.
import { HttpMethod, type KubeConfig, type KubernetesObject, ListWatch } from '@kubernetes/client-node';
import { isObject } from '../model/k8s.js';
import type { Logger } from '../util/log.js';
import { apiStatusOf, KubeApiError, TrackingWatch, type WatchTimeout } from './kube-client.js';
import { sendJson } from './kube-rest.js';

export interface WatchedObject {
  /** The object as last listed or watched; undefined when it does not exist (or before the first list). */
  current(): Readonly<Record<string, unknown>> | undefined;
  /** A list has been applied: from now on current() says whether the object exists. */
  synced(): boolean;
  /** Starts listing and watching; failures are retried, never thrown. */
  start(): void;
  stop(): Promise<void>;
}

export interface WatchOneOptions {
  readonly kc: KubeConfig;
  /** The collection's path, e.g. /api/v1/nodes. */
  readonly collection: string;
  readonly name: string;
  /** Hears every change of current() and the first sync (coalesce behind it: it runs inside the informer). */
  readonly onChange: () => void;
  readonly log: Logger;
  /** Restart backoff after a failed list or watch; default 1 s doubling to 30 s. */
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
  readonly watchTimeout?: WatchTimeout;
}

const statusCodeOf = (err: unknown): unknown =>
  typeof err === 'object' && err !== null ? (err as { statusCode?: unknown }).statusCode : undefined;

export function watchOne(opts: WatchOneOptions): WatchedObject {
  const log = opts.log.child({ watch: opts.collection, name: opts.name });
  const backoff = opts.backoff ?? { initialMs: 1000, maxMs: 30_000 };
  const fieldSelector = `metadata.name=${opts.name}`;
  const lists = new AbortController();
  let listed = false;
  let isSynced = false;
  let stopped = false;
  let failed = false;
  let backoffMs = backoff.initialMs;
  let timer: NodeJS.Timeout | undefined;
  let attempt: Promise<void> | undefined;

  const restart = (err: unknown, why: string) => {
    if (stopped) return;
    failed = true;
    if (timer) return;
    const delayMs = backoffMs;
    backoffMs = Math.min(delayMs * 2, backoff.maxMs);
    log.warn({ err, delayMs }, why);
    timer = setTimeout(() => {
      timer = undefined;
      begin();
    }, delayMs);
  };

  const watch = new TrackingWatch(
    opts.kc,
    {
      onOpen: () => {
        // The informer applied a list and now watches from it.
        if (!listed) return;
        listed = false;
        if (!isSynced) log.debug({}, 'synced');
        isSynced = true;
        opts.onChange();
      },
      onEvent: (type, object) => {
        if (type === 'ERROR' && object.code !== 410) log.warn({ status: object }, 'watch error event');
      },
      onClose: (err) => {
        if (err === null) log.debug({}, 'watch closed by the server; watching again');
      },
      relistAfter: (err) => statusCodeOf(err) === 404,
      onFailure: (err, during) => {
        if (during === 'end') restart(err, 'informer failed; restarting');
        else log.error({ err }, 'informer failed applying an event');
      },
      onDeadline: () => log.warn({}, 'watch outlived its timeout (connection dead?); watching again'),
    },
    opts.watchTimeout,
  );

  const listFn = async () => {
    const path = `${opts.collection}?${new URLSearchParams({ fieldSelector })}`;
    const text = await sendJson(opts.kc, { method: HttpMethod.GET, path, signal: lists.signal });
    const list: unknown = JSON.parse(text);
    if (!isObject(list) || !Array.isArray(list.items))
      throw new KubeApiError(path, 200, 'the list has no items array');
    const meta = isObject(list.metadata) ? list.metadata : {};
    const items = list.items.filter(
      (o): o is KubernetesObject => isObject(o) && isObject(o.metadata) && o.metadata.name === opts.name,
    );
    listed = true;
    return {
      metadata: { resourceVersion: typeof meta.resourceVersion === 'string' ? meta.resourceVersion : '' },
      items,
    };
  };

  const informer = new ListWatch(opts.collection, watch, listFn, false, undefined, fieldSelector);
  for (const verb of ['add', 'update', 'delete'] as const) informer.on(verb, () => opts.onChange());
  informer.on('error', (err) => {
    if (apiStatusOf(err) === 404) log.info({}, 'not served (CRD not installed?); listing again later');
    restart(err, 'list or watch failed; restarting');
  });

  const begin = () => {
    failed = false;
    attempt = informer.start().then(
      () => {
        if (!failed) backoffMs = backoff.initialMs;
      },
      (err: unknown) => restart(err, 'informer start failed; restarting'),
    );
  };

  return {
    current: () => informer.get(opts.name) as Readonly<Record<string, unknown>> | undefined,
    synced: () => isSynced,
    start: begin,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearTimeout(timer);
      lists.abort();
      await informer.stop();
      await watch.stop();
      await attempt?.catch(() => undefined);
      // A start that was listing when stopped goes on to open a watch: TrackingWatch refuses it or closes it.
      await watch.stop();
    },
  };
}
