// The host endpoint controller's Kubernetes side against an in-memory API (its two seams: one request, and the
// two watched objects): what it sends, in what order, and when it sends nothing. The real API server, RBAC and
// garbage collector: test/kube-host-endpoint.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MANAGED_BY_AGENT, MANAGED_BY_LABEL } from '../agent/host-endpoint-desired.js';
import { createNullLogger } from '../util/log.js';
import { KubeApiError } from './kube-client.js';
import { createHostEndpointController, HOST_ENDPOINTS_PATH } from './kube-host-endpoint-controller.js';
import type { JsonRequest } from './kube-rest.js';
import type { WatchedObject } from './kube-watch-one.js';

type Json = Record<string, unknown>;
const HEP = `${HOST_ENDPOINTS_PATH}/node-a`;

function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out: Json =
    typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Json) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** One HostEndpoint and the events posted; every write is also delivered to the watch unless `held`. */
class FakeApi {
  hep: Json | undefined;
  rv = 10;
  held = false;
  readonly log: string[] = [];
  readonly events: Json[] = [];
  /** Status codes to answer the next requests with, before serving them. */
  readonly failures: number[] = [];
  readonly hepWatch = new FakeWatch();
  readonly nodeWatch = new FakeWatch();

  send = async (req: JsonRequest): Promise<string> => {
    const verb = `${req.method} ${req.path}`;
    const fail = this.failures.shift();
    const answer = (code: number, body?: Json) => {
      this.log.push(`${verb} ${code}`);
      if (code >= 300) throw new KubeApiError(req.path, code, `answered ${code}`);
      return JSON.stringify(body ?? {});
    };
    if (fail) return answer(fail);
    const body = (req.body ?? {}) as Json & { metadata?: Json };
    if (req.path === '/api/v1/namespaces/default/events') {
      if (this.events.some((e) => (e.metadata as Json).name === body.metadata?.name)) return answer(409);
      this.events.push(body);
      return answer(201, body);
    }
    if (req.method === 'POST' && req.path === HOST_ENDPOINTS_PATH) {
      if (this.hep) return answer(409);
      return answer(201, this.store(body));
    }
    if (req.path !== HEP) return answer(404);
    if (req.method === 'GET') return this.hep ? answer(200, this.hep) : answer(404);
    if (req.method === 'PATCH') {
      if (!this.hep) return answer(404);
      const rv = body.metadata?.resourceVersion;
      if (rv !== undefined && rv !== (this.hep.metadata as Json).resourceVersion) return answer(409);
      return answer(200, this.store(mergePatch(this.hep, body) as Json));
    }
    return answer(405);
  };

  /** Stores `o` as the server would (next resourceVersion) and tells the watch, unless held. */
  store(o: Json): Json {
    const meta = { uid: 'hep-uid', ...(o.metadata as Json), resourceVersion: String(++this.rv) };
    this.hep = { ...structuredClone(o), metadata: meta };
    if (!this.held) this.hepWatch.set(this.hep);
    return this.hep;
  }

  remove(): void {
    this.hep = undefined;
    this.hepWatch.set(undefined);
  }

  writes(): string[] {
    return this.log.filter((l) => !l.startsWith('GET'));
  }
}

class FakeWatch implements WatchedObject {
  private object: Json | undefined;
  private listed = false;
  onChange: () => void = () => {};
  current = () => this.object;
  synced = () => this.listed;
  start() {}
  async stop() {}
  /** Lists (the first time) or delivers an event. */
  set(o: Json | undefined): void {
    this.object = o && structuredClone(o);
    this.listed = true;
    setImmediate(() => this.onChange());
  }
}

/** The endpoint's metadata as the fake server holds it. */
function stored(api: FakeApi): Json {
  assert.ok(api.hep, 'no HostEndpoint stored');
  return api.hep.metadata as Json;
}

function makeNode(labels: Record<string, string>, uid = 'node-uid'): Json {
  return {
    metadata: { name: 'node-a', uid, labels },
    status: { addresses: [{ type: 'InternalIP', address: '198.18.0.10' }] },
  };
}

function start(api: FakeApi, extraLabels: Record<string, string> = {}, states: string[] = []) {
  const c = createHostEndpointController({
    node: 'node-a',
    extraLabels,
    log: createNullLogger(),
    retryMs: 5,
    send: api.send,
    watch: (collection, _name, onChange) => {
      const w = collection === HOST_ENDPOINTS_PATH ? api.hepWatch : api.nodeWatch;
      w.onChange = onChange;
      return w;
    },
  });
  c.start((s) => states.push(s.state));
  return c;
}

async function until(what: string, fn: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) assert.fail(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Lets every scheduled run finish. */
const settle = () => new Promise((r) => setTimeout(r, 30));

describe('the host endpoint controller', () => {
  it('creates nothing before both watches have listed, then creates once and writes no more', async () => {
    const api = new FakeApi();
    const c = start(api, { 'host-endpoint': 'ingress' });
    api.nodeWatch.set(makeNode({ zone: 'z1' }));
    await settle();
    assert.deepStrictEqual(api.log, []);
    api.hepWatch.set(undefined);
    await until('in place', () => c.status().state === 'in-place');
    await settle();
    api.nodeWatch.set(makeNode({ zone: 'z1' })); // an event with nothing that matters changed
    await settle();
    assert.deepStrictEqual(api.log, [`POST ${HOST_ENDPOINTS_PATH} 201`]);
    assert.deepStrictEqual(stored(api).labels, {
      zone: 'z1',
      'host-endpoint': 'ingress',
      [MANAGED_BY_LABEL]: MANAGED_BY_AGENT,
    });
    assert.deepStrictEqual(c.status(), { name: 'node-a', state: 'in-place', creates: 1, patches: 0 });
    await c.stop();
  });

  it('follows a Node label change with one patch, and recreates an endpoint someone deleted', async () => {
    const api = new FakeApi();
    const c = start(api);
    api.nodeWatch.set(makeNode({ zone: 'z1' }));
    api.hepWatch.set(undefined);
    await until('created', () => c.status().creates === 1);
    api.nodeWatch.set(makeNode({ zone: 'z2' }));
    await until('patched', () => c.status().patches === 1);
    assert.equal((stored(api).labels as Json).zone, 'z2');
    api.remove();
    await until('created again', () => c.status().creates === 2);
    await settle();
    assert.deepStrictEqual(api.writes(), [
      `POST ${HOST_ENDPOINTS_PATH} 201`,
      `PATCH ${HEP} 200`,
      `POST ${HOST_ENDPOINTS_PATH} 201`,
    ]);
    await c.stop();
  });

  it('planned from a stale cache: the patch is refused (409), the endpoint read again and planned again', async () => {
    const api = new FakeApi();
    const c = start(api);
    api.nodeWatch.set(makeNode({ zone: 'z1' }));
    api.hepWatch.set(undefined);
    await until('created', () => c.status().creates === 1);
    // Another writer changes the endpoint; its event has not reached the watch yet.
    api.held = true;
    api.store(mergePatch(api.hep, { metadata: { annotations: { note: 'theirs' } } }) as Json);
    api.nodeWatch.set(makeNode({ zone: 'z2' }));
    await until('patched', () => c.status().patches === 1);
    assert.deepStrictEqual(api.log.slice(1), [`PATCH ${HEP} 409`, `GET ${HEP} 200`, `PATCH ${HEP} 200`]);
    assert.deepStrictEqual(stored(api).annotations, { note: 'theirs' });
    await c.stop();
  });

  it("leaves someone else's endpoint alone and posts one Warning Event about it", async () => {
    const api = new FakeApi();
    const c = start(api);
    api.held = true;
    api.store({ metadata: { name: 'node-a', labels: { mine: 'yes' } }, spec: { node: 'node-a' } });
    api.nodeWatch.set(makeNode({ zone: 'z1' }));
    api.hepWatch.set(api.hep);
    await until('foreign', () => c.status().state === 'foreign');
    api.nodeWatch.set(makeNode({ zone: 'z2' }));
    await settle();
    assert.deepStrictEqual(api.writes(), ['POST /api/v1/namespaces/default/events 201']);
    const [event] = api.events;
    assert.ok(event);
    assert.deepStrictEqual(
      [event.reason, (event.involvedObject as Json).uid],
      ['HostEndpointNotManaged', 'hep-uid'],
    );
    assert.deepStrictEqual(stored(api).labels, { mine: 'yes' });
    await c.stop();
  });

  it('retries a failed create with backoff until it goes through', async () => {
    const api = new FakeApi();
    api.failures.push(500, 503);
    const states: string[] = [];
    const c = start(api, {}, states);
    api.nodeWatch.set(makeNode({}));
    api.hepWatch.set(undefined);
    await until('created', () => c.status().state === 'in-place');
    // The second failure changes the reason only: one 'failing' heard per message.
    assert.deepStrictEqual(states, ['failing', 'failing', 'in-place']);
    assert.deepStrictEqual(api.writes(), [
      `POST ${HOST_ENDPOINTS_PATH} 500`,
      `POST ${HOST_ENDPOINTS_PATH} 503`,
      `POST ${HOST_ENDPOINTS_PATH} 201`,
    ]);
    await c.stop();
  });

  it('writes nothing while its Node is missing or being deleted', async () => {
    const api = new FakeApi();
    const c = start(api);
    api.nodeWatch.set(undefined);
    api.hepWatch.set(undefined);
    await until('waiting', () => c.status().state === 'waiting');
    const going = makeNode({ zone: 'z9' });
    (going.metadata as Json).deletionTimestamp = '2026-12-07T00:00:00Z';
    api.nodeWatch.set(going);
    await settle();
    assert.deepStrictEqual(api.log, []);
    assert.deepStrictEqual(c.status().reason, 'Node node-a is being deleted');
    await c.stop();
  });
});
