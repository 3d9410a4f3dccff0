// Plain REST calls on the API server through client-node's transport and authentication (client certificates,
// tokens, a token file re-read as it rotates): what the agent's event recorder and repair controller send, and
// what the lab's kubelet needs (its Node, Lease and pods' status). Objects travel as raw JSON, never through
// client-node's typed models, which drop fields they do not know.
import {
  HttpMethod,
  IsomorphicFetchHttpLibrary,
  type KubeConfig,
  RequestContext,
  Watch,
} from '@kubernetes/client-node';
import { isObject } from '../model/k8s.js';
import { apiStatusOf, authenticate, KubeApiError, loadKubeConfig, statusMessage } from './kube-client.js';

const REQUEST_TIMEOUT_MS = 10_000;

export { HttpMethod };

/** How a PATCH body is read: JSON merge patch (RFC 7386) or Kubernetes' strategic merge patch. */
export type PatchType = 'merge' | 'strategic';

const PATCH_CONTENT_TYPE: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
};

export interface JsonRequest {
  readonly method: HttpMethod;
  /** The path and query, e.g. /api/v1/namespaces/default/pods?fieldSelector=… */
  readonly path: string;
  readonly body?: object;
  readonly patch?: PatchType;
  readonly signal?: AbortSignal;
}

/** One request; resolves with the response body as text, rejects with a KubeApiError (path, code, message). */
export async function sendJson(kc: KubeConfig, req: JsonRequest): Promise<string> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new KubeApiError(req.path, 0, 'the kubeconfig has no current cluster');
  const request = new RequestContext(`${cluster.server}${req.path}`, req.method);
  request.setHeaderParam('Accept', 'application/json');
  if (req.body !== undefined) {
    const patch = req.method === HttpMethod.PATCH ? (req.patch ?? 'merge') : undefined;
    request.setHeaderParam('Content-Type', patch ? PATCH_CONTENT_TYPE[patch] : 'application/json');
    request.setBody(JSON.stringify(req.body));
  }
  const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
  request.setSignal(req.signal ? AbortSignal.any([req.signal, timeout]) : timeout);
  await authenticate(kc, request);
  let text: string;
  let code: number;
  try {
    const response = await new IsomorphicFetchHttpLibrary().send(request).toPromise();
    code = response.httpStatusCode;
    text = await response.body.text();
  } catch (err) {
    throw new KubeApiError(req.path, 0, err instanceof Error ? err.message : String(err), { cause: err });
  }
  if (code < 200 || code > 299) throw new KubeApiError(req.path, code, statusMessage(text));
  return text;
}

export type WatchEvent = { readonly type: string; readonly object: Readonly<Record<string, unknown>> };

/** A small REST client for one kubeconfig: requests decode JSON, GET of a missing object is undefined. */
export interface KubeRest {
  readonly server: string;
  request(req: JsonRequest): Promise<Record<string, unknown>>;
  get(path: string): Promise<Record<string, unknown> | undefined>;
  /** GET of a non-JSON endpoint (/readyz, /healthz). */
  text(path: string): Promise<string>;
  /**
   * Watches `path` (a collection) from `resourceVersion`; `onEvent` gets each event in order, `onDone` the end
   * (null when the server closed it). The caller lists again on a 410.
   */
  watch(
    path: string,
    query: Record<string, string>,
    onEvent: (e: WatchEvent) => void,
    onDone: (err: unknown) => void,
  ): Promise<AbortController>;
}

export function createKubeRest(kubeConfig: string): KubeRest {
  const kc = loadKubeConfig(kubeConfig);
  const request = async (req: JsonRequest): Promise<Record<string, unknown>> => {
    const text = await sendJson(kc, req);
    const out: unknown = text === '' ? {} : JSON.parse(text);
    if (!isObject(out)) throw new KubeApiError(req.path, 200, 'the answer is not a JSON object');
    return out;
  };
  return {
    server: kc.getCurrentCluster()?.server ?? '',
    request,
    async get(path) {
      try {
        return await request({ method: HttpMethod.GET, path });
      } catch (err) {
        if (apiStatusOf(err) === 404) return undefined;
        throw err;
      }
    },
    text(path) {
      return sendJson(kc, { method: HttpMethod.GET, path });
    },
    watch(path, query, onEvent, onDone) {
      return new Watch(kc).watch(
        path,
        { ...query, allowWatchBookmarks: 'true' },
        (type, object) => {
          if (isObject(object)) onEvent({ type, object });
        },
        onDone,
      );
    },
  };
}
