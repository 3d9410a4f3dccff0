// The kubernetes datastore: one client-node informer (ListWatch) per resource, all namespaces: Namespaces,
// Pods, Nodes, networking.k8s.io/v1 NetworkPolicies, policy.networking.k8s.io/v1alpha2 ClusterNetworkPolicies, and
// GlobalNetworkPolicies and HostEndpoints in palisade.dev/v1 and each of Calico's groups asked for (default:
// crd.projectcalico.org/v1 and projectcalico.org/v3). The informers' caches hold the objects as the API sent them,
// or their model (kube-convert.ts compactObject); snapshot() converts them to the model (memoised per object).
// snapshot().revision is the newest resourceVersion applied (of a list or of an object event; not of a bookmark),
// compared as integers (see isNewerResourceVersion); with a watch per resource, one may lag another, so it says
// "everything up to here that the datastore has seen", not "every resource is at this version".
//
// Recovery. ListWatch handles a 410 itself (an ERROR event with code 410, or an HTTP 410, empties its
// resourceVersion and the end of that watch re-lists), and re-watches when the server closes a watch cleanly.
// Any other failure (connection refused or dropped, a failed list) only reaches its 'error' callbacks and
// leaves it idle for good; here that schedules start() again after a backoff (1s doubling to 30s, reset once
// a start gets through). start() re-lists if the informer has no resourceVersion, else re-watches from it
// (a server that has compacted past it answers 410, and ListWatch re-lists). stop() has to do more than
// ListWatch.stop(): see TrackingWatch.stop().
//
// ClusterNetworkPolicies, GlobalNetworkPolicies and HostEndpoints are CRDs, which a cluster may not have installed
// (each kind in each group is a resource of its own). A list answering 404 means "not served": logged once, the
// resource counts as synced and delivers none, and the list is tried again on the restart backoff (at most every
// 30 s), so a CRD installed later is picked up within that. A watch answering 404 (the CRD removed) makes the
// informer list again, which finds it not served. A 403 is not treated so: a datastore that may not read the
// policies must not report that there are none (so an agent that may not read Calico's groups, where Calico owns
// them, is told not to watch them: calicoGroups).
//
// Each ClusterNetworkPolicy's status (conditions, and an Event when rejected) is written from here
// (kube-cluster-policy-status.ts), by every agent, only where it differs.
import type {
  Informer,
  KubeConfig,
  KubernetesObject,
  ListPromise,
  ObjectCache,
} from '@kubernetes/client-node';
import { ListWatch, type Watch } from '@kubernetes/client-node';
import type { CalicoGroup } from '../model/calico-groups.js';
import type { Logger } from '../util/log.js';
import { apiStatusOf, listObjects, loadKubeConfig, TrackingWatch, type WatchTimeout } from './kube-client.js';
import {
  CLUSTER_POLICIES_PATH,
  type ClusterPolicyStatusOptions,
  createClusterPolicyStatusWriter,
} from './kube-cluster-policy-status.js';
import { compactObject } from './kube-convert.js';
import { type CompactCalicoKind, calicoKindPath } from './kube-convert-calico.js';
import { HttpMethod, sendJson } from './kube-rest.js';
import { type KubeResource, KubeStore, kubeResources } from './kube-store.js';
import type { Datastore, DatastoreSnapshot } from './types.js';

export type KubeInformer = Informer<KubernetesObject> & ObjectCache<KubernetesObject>;

/**
 * Builds one informer, not started; the default is client-node's ListWatch, as its makeInformer builds it but
 * with this datastore's listFn and watch. An informer must open its watch through `watch` after each list
 * (ListWatch does): that is how the datastore knows a list has been applied.
 */
export type MakeInformer = (args: {
  path: string;
  listFn: ListPromise<KubernetesObject>;
  watch: Watch;
}) => KubeInformer;

export interface KubeDatastoreOptions {
  /** A kubeconfig file; default: $KUBECONFIG, ~/.kube/config, else in-cluster (the pod's service account). */
  kubeConfig?: string;
  log: Logger;
  /** When set, onChange also fires this often with nothing changed (client-go's resync period). */
  resyncMs?: number;
  makeInformer?: MakeInformer;
  /** Restart backoff after a failed list or watch; default 1s doubling to 30s. */
  backoff?: { initialMs: number; maxMs: number };
  /** How long a watch may stay open (default: 5–10 min asked of the server, dead 30 s after that). */
  watchTimeout?: WatchTimeout;
  /**
   * Writing ClusterNetworkPolicy status (default on, with the writer's defaults); false: never. `node` names
   * this agent in the Events it posts.
   */
  clusterPolicyStatus?: false | Pick<ClusterPolicyStatusOptions, 'node' | 'jitterMs' | 'retryMs'>;
  /** Calico's groups to read GlobalNetworkPolicies and HostEndpoints from besides palisade.dev (default: both). */
  calicoGroups?: readonly CalicoGroup[];
}

interface ResourceSpec {
  readonly resource: KubeResource;
  readonly path: string;
  /** A CRD's resource: a 404 means "not served" (none), not a failure. */
  readonly optional?: boolean;
}

const PATHS: Readonly<Record<string, string>> = {
  namespaces: '/api/v1/namespaces',
  pods: '/api/v1/pods',
  nodes: '/api/v1/nodes',
  networkpolicies: '/apis/networking.k8s.io/v1/networkpolicies',
  clusternetworkpolicies: CLUSTER_POLICIES_PATH,
};

/** Where a resource is listed; the CRDs' (all but the built-in four) are optional. */
function resourceSpec(resource: KubeResource): ResourceSpec {
  const calico = calicoKindPath(resource);
  if (calico) return { resource, path: calico, optional: true };
  return { resource, path: PATHS[resource] ?? '', optional: resource === 'clusternetworkpolicies' };
}

/** A list of an optional resource answered 404: not served. */
class NotServedError extends Error {
  override readonly name = 'NotServedError';
}

const statusCodeOf = (err: unknown): unknown =>
  typeof err === 'object' && err !== null ? (err as { statusCode?: unknown }).statusCode : undefined;
const isWatchNotFound = (err: unknown): boolean => statusCodeOf(err) === 404;

/** ListWatch's own test for "resourceVersion too old": it re-lists on these by itself. */
function isGone(err: unknown): boolean {
  return (
    typeof err === 'object' &&
    err !== null &&
    ((err as { statusCode?: unknown }).statusCode === 410 || (err as { code?: unknown }).code === 410)
  );
}

/** A list slower than this is abandoned (and retried): a server that never answers must not hang start(). */
const LIST_TIMEOUT_MS = 60_000;

const defaultMakeInformer: MakeInformer = ({ path, listFn, watch }) =>
  new ListWatch(path, watch, listFn, false);

interface Source {
  readonly resource: KubeResource;
  readonly informer: KubeInformer;
  readonly watch: TrackingWatch;
  /** A list has returned and the informer has not opened its watch yet (so not yet applied it either). */
  listed: boolean;
  backoffMs: number;
  /** Set by an error during the current start() attempt. */
  failed: boolean;
  timer?: NodeJS.Timeout;
  attempt?: Promise<void>;
}

/** The kubernetes datastore, and the cached objects the host policy status writers read (kube-host-status.ts). */
export interface KubeDatastore extends Datastore {
  /** GlobalNetworkPolicies and HostEndpoints of every group served, parsed, with uid, generation, conditions. */
  calicoObjects(): readonly CompactCalicoKind[];
}

export function createKubeDatastore(opts: KubeDatastoreOptions): KubeDatastore {
  const log = opts.log.child({ component: 'datastore', datastore: 'kubernetes' });
  const kc: KubeConfig = loadKubeConfig(opts.kubeConfig);
  const backoff = opts.backoff ?? { initialMs: 1000, maxMs: 30_000 };
  const makeInformer = opts.makeInformer ?? defaultMakeInformer;
  const lists = new AbortController();
  const resources = kubeResources(opts.calicoGroups);
  const store = new KubeStore(resources);
  let notify: () => void = () => {};
  const changed = () => {
    try {
      notify();
    } catch (err) {
      log.error({ err }, 'onChange threw');
    }
  };
  let state: 'new' | 'started' | 'stopped' = 'new';
  let resync: NodeJS.Timeout | undefined;
  const status =
    opts.clusterPolicyStatus === false
      ? undefined
      : createClusterPolicyStatusWriter({
          objects: () => store.clusterPolicyObjects(),
          log,
          kc,
          ...opts.clusterPolicyStatus,
        });
  /** Called on every change a resource's informer applies (and after each list). */
  const onResourceChange = (resource: KubeResource) => {
    if (resource === 'clusternetworkpolicies') status?.changed();
  };

  const restart = (s: Source, err: unknown, why: string) => {
    if (state === 'stopped') return;
    s.failed = true;
    if (s.timer) return;
    const delayMs = s.backoffMs;
    s.backoffMs = Math.min(delayMs * 2, backoff.maxMs);
    if (err instanceof NotServedError)
      log.debug({ resource: s.resource, delayMs }, 'not served; listing again later');
    // "Retry later": what a CRD's watch cache answers while it initialises, just after the CRD is installed.
    else if (statusCodeOf(err) === 429 || apiStatusOf(err) === 429)
      log.info({ resource: s.resource, err, delayMs }, 'too many requests; retrying');
    else log.warn({ resource: s.resource, err, delayMs }, why);
    s.timer = setTimeout(() => {
      s.timer = undefined;
      void begin(s);
    }, delayMs);
  };

  const begin = (s: Source): Promise<void> => {
    s.failed = false;
    s.attempt = s.informer.start().then(
      () => {
        if (!s.failed) s.backoffMs = backoff.initialMs;
      },
      (err: unknown) => restart(s, err, 'informer start failed; restarting'),
    );
    return s.attempt;
  };

  const makeSource = ({ resource, path, optional }: ResourceSpec): Source => {
    // The informer caches the model, not the object (kube-convert.ts compactObject).
    const slim = (o: KubernetesObject) => compactObject(resource, o) as KubernetesObject;
    // The hooks and listFn run only once the informer does, so after `s` below is initialised.
    const watch = new TrackingWatch(
      kc,
      {
        onOpen: (resourceVersion) => {
          if (!s.listed) return;
          s.listed = false;
          if (store.applyList(resource, resourceVersion)) log.info({ resource, resourceVersion }, 'synced');
          changed();
          onResourceChange(resource);
        },
        onEvent: (type, object) => {
          if (type !== 'ERROR') store.applyEvent(resource, type, object);
          else if (object.code === 410) log.info({ resource, status: object }, 'watch expired; relisting');
          else log.warn({ resource, status: object }, 'watch error event');
        },
        onClose: (err) => {
          // Other errors reach the informer's error callback, which logs them and restarts it.
          if (err === null) log.debug({ resource }, 'watch closed by the server; watching again');
          else if (isGone(err)) log.info({ resource, err }, 'watch expired; relisting');
          else if (optional && isWatchNotFound(err)) log.info({ resource }, 'no longer served; relisting');
        },
        ...(optional ? { relistAfter: isWatchNotFound } : {}),
        onFailure: (err, during) => {
          if (during === 'end') restart(s, err, 'informer failed; restarting');
          else log.error({ resource, err }, 'informer failed applying an event');
        },
        onDeadline: () =>
          log.warn({ resource }, 'watch outlived its timeout (connection dead?); watching again'),
      },
      opts.watchTimeout,
      slim,
    );
    const listFn = async () => {
      const signal = AbortSignal.any([lists.signal, AbortSignal.timeout(LIST_TIMEOUT_MS)]);
      const list = await listObjects(kc, path, signal, { transform: slim }).catch((err: unknown) => {
        if (!optional || apiStatusOf(err) !== 404) throw err;
        if (store.applyNotServed(resource)) {
          log.info(
            { resource, path },
            'not served (CRD not installed?): none delivered; listing again later',
          );
          changed();
          onResourceChange(resource);
        }
        throw new NotServedError(`${path}: not served`, { cause: err });
      });
      s.listed = true;
      return list;
    };
    const informer = makeInformer({ path, listFn, watch });
    const s: Source = {
      resource,
      informer,
      watch,
      listed: false,
      backoffMs: backoff.initialMs,
      failed: false,
    };
    store.setCache(resource, informer);
    for (const verb of ['add', 'update', 'delete'] as const) {
      informer.on(verb, () => {
        changed();
        onResourceChange(resource);
      });
    }
    informer.on('error', (err) => restart(s, err, 'list or watch failed; restarting'));
    return s;
  };

  const sources = resources.map(resourceSpec).map(makeSource);

  return {
    async start(onChange) {
      if (state !== 'new') throw new Error(`kubernetes datastore: start() when ${state}`);
      state = 'started';
      notify = onChange;
      log.info({ server: kc.getCurrentCluster()?.server }, 'starting informers');
      await Promise.all(sources.map(begin));
      if (opts.resyncMs && state === 'started') resync = setInterval(changed, opts.resyncMs);
    },
    snapshot(): DatastoreSnapshot {
      return store.snapshot();
    },
    calicoObjects: () => store.calicoObjects(),
    async annotateNode(node, key, value) {
      await sendJson(kc, {
        method: HttpMethod.PATCH,
        path: `/api/v1/nodes/${encodeURIComponent(node)}`,
        patch: 'merge',
        body: { metadata: { annotations: { [key]: value } } },
      });
    },
    async stop() {
      if (state === 'stopped') return;
      state = 'stopped';
      notify = () => {};
      clearInterval(resync);
      lists.abort();
      for (const s of sources) clearTimeout(s.timer);
      await Promise.all(sources.map((s) => s.informer.stop()));
      await Promise.all(sources.map((s) => s.watch.stop()));
      await Promise.allSettled(sources.map((s) => s.attempt));
      await status?.stop();
      // A start() that was listing when stopped goes on to open a watch: TrackingWatch refuses it or closes it.
      await Promise.all(sources.map((s) => s.watch.stop()));
    },
  };
}
