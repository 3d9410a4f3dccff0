// Where chained mode learns about a pod and its namespace: the node agent's cache over its socket (no API
// connection, the normal case), else the API server with the kubeconfig install-cni wrote (seed 000's way),
// else neither: the SPEC's "try again later" (11), never a silent pass-through.
import { readFileSync } from 'node:fs';
import { type NamespaceFacts, type PodFacts, podFactsOf } from '../chained/selection.js';
import { toNamespaceInfo, toPodInfoWhole } from '../datastore/kube-convert.js';
import { isObject } from '../model/k8s.js';
import type { Logger } from '../util/log.js';
import { type AgentApi, AgentUnreachableError, agentFor } from './agent-client.js';
import { CniCode, CniError } from './errors.js';
import type { RedirectConf } from './redirect-config.js';

export interface Facts {
  readonly pod: PodFacts;
  readonly namespace: NamespaceFacts | undefined;
  readonly source: 'agent' | 'api';
}

/** A minimal kubeconfig as install-cni writes it (JSON, which is YAML too): one cluster, one user, a token. */
export interface MiniKubeconfig {
  readonly server: string;
  /** The cluster's CA, PEM (decoded once from certificate-authority-data). */
  readonly caPem?: string;
  readonly insecure: boolean;
  readonly token?: string;
}

/** Reads the current context's cluster and user; a problem names the file and the field. */
export function readMiniKubeconfig(path: string, text = readFileSync(path, 'utf8')): MiniKubeconfig {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error(`${path}: not JSON (install-cni writes the plugin's kubeconfig as JSON)`);
  }
  if (!isObject(doc)) throw new Error(`${path}: not a kubeconfig object`);
  const ctxName = doc['current-context'];
  const named = (list: unknown, name: unknown, key: string) => {
    const entries = Array.isArray(list) ? list.filter(isObject) : [];
    const hit = entries.find((e) => e.name === name) ?? (entries.length === 1 ? entries[0] : undefined);
    return hit && isObject(hit[key]) ? (hit[key] as Record<string, unknown>) : undefined;
  };
  const context = named(doc.contexts, ctxName, 'context');
  const cluster = named(doc.clusters, context?.cluster, 'cluster');
  const user = named(doc.users, context?.user, 'user') ?? {};
  if (!cluster || typeof cluster.server !== 'string')
    throw new Error(`${path}: clusters[].cluster.server missing`);
  const tokenFile = typeof user.tokenFile === 'string' ? user.tokenFile : undefined;
  return {
    server: cluster.server,
    caPem:
      typeof cluster['certificate-authority-data'] === 'string'
        ? Buffer.from(cluster['certificate-authority-data'], 'base64').toString('utf8')
        : undefined,
    insecure: cluster['insecure-skip-tls-verify'] === true,
    token:
      typeof user.token === 'string'
        ? user.token
        : tokenFile
          ? readFileSync(tokenFile, 'utf8').trim()
          : undefined,
  };
}

/** GET `path` from the API server as JSON; undefined for a 404. */
export async function getJson(kc: MiniKubeconfig, path: string, timeoutMs: number): Promise<unknown> {
  const url = new URL(path, kc.server);
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (kc.token) headers.Authorization = `Bearer ${kc.token}`;
  // Loaded only on this path: TLS start-up costs the plugin milliseconds it does not spend when the agent answers.
  const mod = url.protocol === 'https:' ? await import('node:https') : await import('node:http');
  return new Promise((resolve, reject) => {
    const req = mod.request(
      url,
      {
        headers,
        timeout: timeoutMs,
        ...(url.protocol === 'https:'
          ? {
              ca: kc.caPem,
              rejectUnauthorized: !kc.insecure,
            }
          : {}),
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => {
          if (res.statusCode === 404) resolve(undefined);
          else if (res.statusCode !== 200)
            reject(new Error(`GET ${path}: HTTP ${res.statusCode}: ${body.slice(0, 200)}`));
          else {
            try {
              resolve(JSON.parse(body) as unknown);
            } catch {
              reject(new Error(`GET ${path}: the answer is not JSON`));
            }
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

async function fromApi(conf: RedirectConf, namespace: string, name: string): Promise<Facts | undefined> {
  const kc = readMiniKubeconfig(conf.kubeconfig!);
  const ns = encodeURIComponent(namespace);
  const [pod, nsObj] = await Promise.all([
    getJson(kc, `/api/v1/namespaces/${ns}/pods/${encodeURIComponent(name)}`, conf.agentTimeoutMs),
    getJson(kc, `/api/v1/namespaces/${ns}`, conf.agentTimeoutMs),
  ]);
  if (pod === undefined) return undefined;
  return {
    // One pod for one decision: every annotation value whole (the agent's cache may leave long ones out).
    pod: podFactsOf(toPodInfoWhole(pod)),
    namespace: nsObj === undefined ? undefined : toNamespaceInfo(nsObj),
    source: 'api',
  };
}

function isFacts(v: unknown): v is PodFacts {
  return isObject(v) && typeof v.name === 'string' && isObject(v.annotations) && Array.isArray(v.containers);
}

/** The pod's facts, from the agent or else the API; a CniError 11 when neither can say. */
export async function podFacts(
  conf: RedirectConf,
  namespace: string,
  name: string,
  log: Logger,
  inProcess?: AgentApi,
): Promise<Facts> {
  let agentProblem: string;
  try {
    const doc = await agentFor(inProcess, conf.agentSocket, conf.agentTimeoutMs).facts(namespace, name);
    if (isFacts(doc.pod)) {
      const ns = isObject(doc.namespace) ? (doc.namespace as unknown as NamespaceFacts) : undefined;
      return { pod: doc.pod, namespace: ns, source: 'agent' };
    }
    agentProblem = `the agent does not know pod ${namespace}/${name}`;
  } catch (err) {
    if (!(err instanceof AgentUnreachableError)) throw err;
    agentProblem = err.message;
  }
  if (!conf.kubeconfig) {
    throw new CniError(
      CniCode.TryAgainLater,
      `cannot decide whether to redirect pod ${namespace}/${name}: ${agentProblem}, and no kubeconfig is configured for the API fallback`,
    );
  }
  log.warn({ reason: agentProblem }, 'asking the API server for the pod instead of the agent');
  try {
    const facts = await fromApi(conf, namespace, name);
    if (facts) return facts;
    throw new Error(`the API server has no pod ${namespace}/${name}`);
  } catch (err) {
    throw new CniError(
      CniCode.TryAgainLater,
      `cannot decide whether to redirect pod ${namespace}/${name}: ${agentProblem}; API server (${conf.kubeconfig}): ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}
