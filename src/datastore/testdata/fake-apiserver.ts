// A fake Kubernetes API server for the kubernetes datastore's tests: plain http on 127.0.0.1, the real list and
// watch protocol for pods, namespaces, nodes and networking.k8s.io/v1 networkpolicies (all namespaces).
// - One global resourceVersion counter, as etcd's revision. Every write takes the next value.
// - LIST: {kind: XList, apiVersion, metadata: {resourceVersion}, items}; items without kind/apiVersion, as the
//   real server serialises lists.
// - WATCH (?watch=true&resourceVersion=N): every event after N, then live ones, newline-delimited
//   {type, object}. No resourceVersion (or "0"): synthetic ADDED events for the current objects first. N older
//   than the compaction point: one ERROR event carrying a 410 "Expired" Status, then the response ends, as
//   the real server does (ListWatch then empties its resourceVersion and re-lists when the watch ends).
//   BOOKMARKs ({kind, apiVersion, metadata: {resourceVersion}}) go only to watches that asked for them.
// - stop()/start() on the same port; a restarted server remembers no history (its watch cache is new), so a
//   watch from before the restart gets 410, unless start({ keepHistory: true }).
// - With a token, requests without "Authorization: Bearer <token>" get 401.
// - core/v1 Events: POST /api/v1/namespaces/NS/events (409 AlreadyExists for a taken name) and PATCH
//   .../events/NAME (merge patch; 404 when missing) are applied and recorded in eventWrites; not watchable.
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export type Json = Record<string, unknown>;
export type FakeResource = 'pods' | 'namespaces' | 'nodes' | 'networkpolicies';
type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

const RESOURCES: Record<FakeResource, { path: string; kind: string; apiVersion: string }> = {
  pods: { path: '/api/v1/pods', kind: 'Pod', apiVersion: 'v1' },
  namespaces: { path: '/api/v1/namespaces', kind: 'Namespace', apiVersion: 'v1' },
  nodes: { path: '/api/v1/nodes', kind: 'Node', apiVersion: 'v1' },
  networkpolicies: {
    path: '/apis/networking.k8s.io/v1/networkpolicies',
    kind: 'NetworkPolicy',
    apiVersion: 'networking.k8s.io/v1',
  },
};

interface HistoryEvent {
  readonly resource: FakeResource;
  readonly type: EventType;
  readonly object: Json;
  readonly rv: number;
}

interface Watcher {
  readonly resource: FakeResource;
  readonly res: ServerResponse;
  readonly bookmarks: boolean;
  stalled?: boolean;
}

export interface RequestRecord {
  readonly resource: FakeResource;
  readonly verb: 'list' | 'watch';
  readonly resourceVersion: string | null;
  /** A LIST's page size (?limit) and continue token, when it asked for pages. */
  readonly limit?: number;
  readonly continue?: string;
}

export interface EventWrite {
  readonly verb: 'create' | 'patch';
  readonly namespace: string;
  readonly name: string;
  /** The request body: the whole Event (create) or the merge patch. */
  readonly body: Json;
}

const EVENTS_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/events(?:\/([^/]+))?$/;

const metaOf = (o: Json): Json => (o.metadata ?? {}) as Json;
const keyOf = (o: Json): string => `${metaOf(o).namespace ?? ''}/${metaOf(o).name}`;
const clone = (o: Json): Json => structuredClone(o);

function status(code: number, reason: string, message: string): Json {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

export class FakeApiServer {
  readonly requests: RequestRecord[] = [];
  /** Every PATCH or DELETE of a pod that found it, in order. */
  readonly podWrites: { verb: 'patch' | 'delete'; key: string; body: Json }[] = [];
  /** Every accepted create or patch of an Event, in order. */
  readonly eventWrites: EventWrite[] = [];
  /** Events as stored, by "namespace/name". */
  readonly events = new Map<string, Json>();
  private readonly objects = new Map<FakeResource, Map<string, Json>>();
  private readonly watchers = new Set<Watcher>();
  private history: HistoryEvent[] = [];
  private rv = 100;
  private listDelayMs = 0;
  private compactedRv = 0;
  private server: Server | undefined;
  /** Snapshots of lists being paged, by continue token. */
  private readonly pages = new Map<string, { items: Json[]; rv: string }>();
  private pageSeq = 0;
  private port = 0;

  private constructor(private readonly token: string | undefined) {
    for (const r of Object.keys(RESOURCES) as FakeResource[]) this.objects.set(r, new Map());
  }

  static async create(opts: { token?: string } = {}): Promise<FakeApiServer> {
    const s = new FakeApiServer(opts.token);
    await s.start({ keepHistory: true });
    return s;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get resourceVersion(): string {
    return String(this.rv);
  }

  /** A kubeconfig for this server (insecure-skip-tls-verify: client-node refuses http:// without it). */
  writeKubeconfig(dir: string): string {
    const file = join(dir, 'kubeconfig');
    const user = this.token ? { token: this.token } : {};
    const config = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'fake', cluster: { server: this.url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'fake', user }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'fake' } }],
      'current-context': 'fake',
    };
    writeFileSync(file, JSON.stringify(config, null, 2));
    return file;
  }

  /** Creates an object; returns it as stored (resourceVersion, uid, ...). */
  add(resource: FakeResource, object: Json): Json {
    const o = clone(object);
    const meta: Json = { ...metaOf(o), uid: randomUUID(), creationTimestamp: new Date().toISOString() };
    if (resource === 'namespaces') {
      meta.labels = { ...(meta.labels as Json), 'kubernetes.io/metadata.name': meta.name };
    }
    o.metadata = meta;
    const objects = this.objects.get(resource)!;
    if (objects.has(keyOf(o))) throw new Error(`${resource} ${keyOf(o)} already exists`);
    return this.write(resource, 'ADDED', o);
  }

  /** Changes an object ("ns/name", or "name" for cluster-scoped ones) in place through `mutate`. */
  modify(resource: FakeResource, key: string, mutate: (o: Json) => void): Json {
    const current = this.get(resource, key);
    const o = clone(current);
    mutate(o);
    return this.write(resource, 'MODIFIED', o);
  }

  remove(resource: FakeResource, key: string): Json {
    const o = clone(this.get(resource, key));
    return this.write(resource, 'DELETED', o);
  }

  /** Sends a BOOKMARK at the current resourceVersion to every watch that allowed bookmarks; how many got one. */
  bookmark(): number {
    let sent = 0;
    for (const w of this.watchers) {
      if (!w.bookmarks || w.stalled) continue;
      const { kind, apiVersion } = RESOURCES[w.resource];
      w.res.write(
        `${JSON.stringify({ type: 'BOOKMARK', object: { kind, apiVersion, metadata: { resourceVersion: this.resourceVersion } } })}\n`,
      );
      sent += 1;
    }
    return sent;
  }

  /** Forgets all history up to now, as etcd compaction does: older watches get 410 Expired. */
  compact(): void {
    this.compactedRv = this.rv;
    this.history = [];
  }

  /** Answers every LIST this much later (to catch a client in the middle of one). */
  delayLists(ms: number): void {
    this.listDelayMs = ms;
  }

  /**
   * Open watches go silent but stay open, as over a connection that died without a FIN or RST: nothing more
   * reaches them. Watches opened later are served normally.
   */
  stallWatches(): void {
    for (const w of this.watchers) w.stalled = true;
  }

  /** The timeoutSeconds each watch asked for, in order. */
  readonly watchTimeouts: (number | undefined)[] = [];

  /** Ends every watch response cleanly, as the server does when a watch's timeout expires. */
  endWatches(): void {
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
  }

  watchCount(resource?: FakeResource): number {
    return [...this.watchers].filter((w) => !resource || w.resource === resource).length;
  }

  /** Stops listening and drops every connection. Objects can still be changed while it is down. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.watchers.clear();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  /** Listens again, on the same port once it has one. */
  async start(opts: { keepHistory?: boolean } = {}): Promise<void> {
    if (this.server) throw new Error('fake API server already running');
    if (!opts.keepHistory) this.compact();
    const server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  private get(resource: FakeResource, key: string): Json {
    const k = key.includes('/') ? key : `/${key}`;
    const o = this.objects.get(resource)!.get(k);
    if (!o) throw new Error(`${resource} ${key} not found`);
    return o;
  }

  private write(resource: FakeResource, type: EventType, o: Json): Json {
    this.rv += 1;
    o.metadata = { ...metaOf(o), resourceVersion: String(this.rv) };
    const objects = this.objects.get(resource)!;
    if (type === 'DELETED') objects.delete(keyOf(o));
    else objects.set(keyOf(o), o);
    const event: HistoryEvent = { resource, type, object: clone(o), rv: this.rv };
    this.history.push(event);
    for (const w of this.watchers) if (w.resource === resource && !w.stalled) this.send(w.res, event);
    return clone(o);
  }

  private send(res: ServerResponse, e: HistoryEvent): void {
    const { kind, apiVersion } = RESOURCES[e.resource];
    res.write(`${JSON.stringify({ type: e.type, object: { kind, apiVersion, ...e.object } })}\n`);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', this.url);
    const reply = (code: number, body: Json) => {
      res.writeHead(code, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (this.token && req.headers.authorization !== `Bearer ${this.token}`) {
      reply(401, status(401, 'Unauthorized', 'Unauthorized'));
      return;
    }
    // PATCH (merge patch of metadata.labels) and DELETE (with an optional uid precondition) of a pod.
    const podPath = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/.exec(url.pathname);
    if (podPath && (req.method === 'PATCH' || req.method === 'DELETE')) {
      const key = `${podPath[1]}/${podPath[2]}`;
      void readJson(req).then((body) => {
        const o = this.objects.get('pods')!.get(key);
        if (!o) {
          reply(404, status(404, 'NotFound', `pods "${podPath[2]}" not found`));
          return;
        }
        this.podWrites.push({
          verb: req.method === 'PATCH' ? 'patch' : 'delete',
          key,
          body: clone(body ?? {}),
        });
        if (req.method === 'DELETE') {
          const uid = (body?.preconditions as Json | undefined)?.uid;
          if (uid !== undefined && uid !== metaOf(o).uid) {
            reply(409, status(409, 'Conflict', `Precondition failed: UID in precondition: ${String(uid)}`));
            return;
          }
          reply(200, this.remove('pods', key));
          return;
        }
        const labels = ((body?.metadata as Json | undefined)?.labels ?? {}) as Json;
        reply(
          200,
          this.modify('pods', key, (x) => {
            const meta = x.metadata as Json;
            meta.labels = { ...((meta.labels as Json | undefined) ?? {}), ...labels };
          }),
        );
      });
      return;
    }
    const eventPath = EVENTS_PATH.exec(url.pathname);
    if (eventPath && (req.method === 'POST' || req.method === 'PATCH')) {
      void readJson(req).then((body) => {
        if (!body) reply(400, status(400, 'BadRequest', 'the body is not a JSON object'));
        else if (req.method === 'PATCH' && !eventPath[2]) {
          reply(405, status(405, 'MethodNotAllowed', 'PATCH of the event collection'));
        } else {
          const [, namespace = '', name] = eventPath;
          const [code, out] = this.writeEvent(
            namespace,
            name,
            req.method === 'POST' ? undefined : name,
            body,
          );
          reply(code, out);
        }
      });
      return;
    }
    // GET of one object: /api/v1/namespaces/NS/pods/NAME, /api/v1/namespaces/NAME, /api/v1/nodes/NAME.
    const one =
      /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/.exec(url.pathname) ??
      /^\/api\/v1\/(namespaces|nodes)\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'GET' && one) {
      const [resource, key] = url.pathname.includes('/pods/')
        ? (['pods', `${one[1]}/${one[2]}`] as const)
        : ([one[1] as FakeResource, `/${one[2]}`] as const);
      const { kind, apiVersion } = RESOURCES[resource];
      const o = this.objects.get(resource)!.get(key);
      if (o) reply(200, { kind, apiVersion, ...clone(o) });
      else reply(404, status(404, 'NotFound', `${resource} "${key}" not found`));
      return;
    }
    const entry = Object.entries(RESOURCES).find(([, r]) => r.path === url.pathname);
    if (req.method !== 'GET' || !entry) {
      reply(404, status(404, 'NotFound', `the server could not find the requested resource ${url.pathname}`));
      return;
    }
    const resource = entry[0] as FakeResource;
    const watch = url.searchParams.get('watch');
    const resourceVersion = url.searchParams.get('resourceVersion');
    if (watch === 'true' || watch === '1') {
      this.requests.push({ resource, verb: 'watch', resourceVersion });
      const timeout = url.searchParams.get('timeoutSeconds');
      this.watchTimeouts.push(timeout === null ? undefined : Number(timeout));
      this.watch(resource, resourceVersion, url.searchParams.get('allowWatchBookmarks') === 'true', res);
      return;
    }
    const limit = Number(url.searchParams.get('limit') ?? 0);
    const token = url.searchParams.get('continue') ?? undefined;
    this.requests.push({
      resource,
      verb: 'list',
      resourceVersion,
      ...(limit > 0 ? { limit } : {}),
      ...(token ? { continue: token } : {}),
    });
    const { kind, apiVersion } = RESOURCES[resource];
    // Pages of one list come from one snapshot, as the real server serves them (at the first page's version).
    const snap = token
      ? this.pages.get(token)
      : { items: [...this.objects.get(resource)!.values()].map(clone), rv: this.resourceVersion };
    if (!snap) {
      reply(410, status(410, 'Expired', 'the provided continue parameter is too old'));
      return;
    }
    const offset = token ? Number(token.split(':')[1]) : 0;
    const end = limit > 0 ? Math.min(offset + limit, snap.items.length) : snap.items.length;
    const metadata: Json = { resourceVersion: snap.rv };
    if (end < snap.items.length) {
      const next = `${++this.pageSeq}:${end}`;
      this.pages.set(next, snap);
      metadata.continue = next;
    }
    const list = { kind: `${kind}List`, apiVersion, metadata, items: snap.items.slice(offset, end) };
    if (this.listDelayMs === 0) reply(200, list);
    else {
      const timer = setTimeout(() => reply(200, list), this.listDelayMs);
      res.on('close', () => clearTimeout(timer));
    }
  }

  /** A POST (patchName undefined; the name is the body's) or a merge PATCH of patchName, as the server answers it. */
  private writeEvent(
    namespace: string,
    pathName: string | undefined,
    patchName: string | undefined,
    body: Json,
  ): [number, Json] {
    if (patchName === undefined) {
      const name = metaOf(body).name;
      if (pathName !== undefined) return [405, status(405, 'MethodNotAllowed', 'POST to a named event')];
      if (typeof name !== 'string' || name === '') {
        return [422, status(422, 'Invalid', 'metadata.name: Required value')];
      }
      if (metaOf(body).namespace !== undefined && metaOf(body).namespace !== namespace) {
        return [400, status(400, 'BadRequest', 'the namespace of the object does not match the request')];
      }
      const key = `${namespace}/${name}`;
      if (this.events.has(key)) {
        return [409, status(409, 'AlreadyExists', `events "${name}" already exists`)];
      }
      this.rv += 1;
      const stored = {
        ...clone(body),
        metadata: { ...metaOf(body), namespace, resourceVersion: this.resourceVersion },
      };
      this.events.set(key, stored);
      this.eventWrites.push({ verb: 'create', namespace, name, body: clone(body) });
      return [201, clone(stored)];
    }
    const key = `${namespace}/${patchName}`;
    const current = this.events.get(key);
    if (!current) return [404, status(404, 'NotFound', `events "${patchName}" not found`)];
    this.rv += 1;
    const stored = mergePatch(current, body);
    stored.metadata = { ...metaOf(stored), resourceVersion: this.resourceVersion };
    this.events.set(key, stored);
    this.eventWrites.push({ verb: 'patch', namespace, name: patchName, body: clone(body) });
    return [200, clone(stored)];
  }

  private watch(resource: FakeResource, from: string | null, bookmarks: boolean, res: ServerResponse): void {
    const fromStart = from === null || from === '' || from === '0';
    const n = fromStart ? 0 : Number(from);
    if (!Number.isSafeInteger(n) || n < 0) {
      res.writeHead(400, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(status(400, 'BadRequest', `invalid resource version: ${from}`)));
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    if (fromStart) {
      for (const o of this.objects.get(resource)!.values()) {
        this.send(res, { resource, type: 'ADDED', object: o, rv: 0 });
      }
    } else if (n < this.compactedRv) {
      const message = `too old resource version: ${from} (${this.compactedRv})`;
      res.end(`${JSON.stringify({ type: 'ERROR', object: status(410, 'Expired', message) })}\n`);
      return;
    } else {
      for (const e of this.history) if (e.resource === resource && e.rv > n) this.send(res, e);
    }
    const w: Watcher = { resource, res, bookmarks };
    this.watchers.add(w);
    res.on('close', () => this.watchers.delete(w));
  }
}

async function readJson(req: IncomingMessage): Promise<Json | undefined> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  try {
    const body: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    return typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Json) : undefined;
  } catch (_err) {
    return undefined; // answered as 400 by the caller
  }
}

/** RFC 7386 JSON merge patch: objects merge, null deletes, anything else replaces. */
function mergePatch(target: Json, patch: Json): Json {
  const out = clone(target);
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else if (typeof v === 'object' && !Array.isArray(v) && typeof out[k] === 'object' && out[k] !== null) {
      out[k] = mergePatch(out[k] as Json, v as Json);
    } else out[k] = structuredClone(v);
  }
  return out;
}
