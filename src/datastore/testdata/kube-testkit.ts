// Helpers for the kubernetes datastore tests: API objects as the API server holds them, a fake API server with
// a datastore on it, polling with a deadline, a logger that keeps its records.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLineLogger, type Logger } from '../../util/log.js';
import { createKubeDatastore, type KubeDatastoreOptions } from '../kube.js';
import type { Datastore, DatastoreSnapshot } from '../types.js';
import { FakeApiServer, type Json } from './fake-apiserver.js';

export function makeNamespace(name: string, labels: Record<string, string> = {}): Json {
  return { metadata: { name, labels } };
}

export function makeNode(name: string, ...ips: string[]): Json {
  const addresses = [
    { type: 'Hostname', address: name },
    ...ips.map((address) => ({ type: 'InternalIP', address })),
  ];
  return { metadata: { name }, spec: {}, status: { addresses } };
}

export function makePod(
  ns: string,
  name: string,
  labels: Record<string, string> = {},
  ...tweaks: ((pod: Json & { spec: Json; status: Json }) => void)[]
): Json {
  const pod = {
    metadata: { namespace: ns, name, labels },
    spec: {
      nodeName: 'node-a',
      containers: [{ name: 'app', image: 'app', ports: [{ name: 'http', containerPort: 8080 }] }],
    },
    status: { phase: 'Pending' },
  };
  for (const t of tweaks) t(pod);
  return pod;
}

/** A pod tweak: running with these IPs. */
export const withIps =
  (...ips: string[]) =>
  (pod: { status: Json }) => {
    pod.status = { phase: 'Running', podIP: ips[0], podIPs: ips.map((ip) => ({ ip })) };
  };

export function makePolicy(ns: string, name: string, spec: Json = { podSelector: {} }): Json {
  return { metadata: { namespace: ns, name }, spec };
}

export interface LogRecord {
  readonly level: number;
  readonly msg: string;
  readonly [field: string]: unknown;
}

export function captureLogger(): { log: Logger; records: LogRecord[] } {
  const records: LogRecord[] = [];
  const log = createLineLogger({
    level: 'debug',
    write: (line) => records.push(JSON.parse(line) as LogRecord),
  });
  return { log, records };
}

/** Polls `check` until it returns without throwing; after `timeoutMs` rethrows its last error. */
export async function eventually<T>(check: () => T, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export interface Harness {
  readonly server: FakeApiServer;
  readonly datastore: Datastore;
  readonly records: LogRecord[];
  /** How many times onChange has fired. */
  changes(): number;
  snapshot(): DatastoreSnapshot;
  close(): Promise<void>;
}

/** A fake API server holding `seed`, and a started kubernetes datastore on it (fast backoff). */
export async function startHarness(
  seed: (server: FakeApiServer) => void,
  opts: Partial<KubeDatastoreOptions> = {},
): Promise<Harness> {
  const server = await FakeApiServer.create({ token: 'test-token' });
  seed(server);
  const dir = mkdtempSync(join(tmpdir(), 'palisade-kube-'));
  const { log, records } = captureLogger();
  const datastore = createKubeDatastore({
    kubeConfig: server.writeKubeconfig(dir),
    log,
    backoff: { initialMs: 20, maxMs: 200 },
    ...opts,
  });
  let changes = 0;
  await datastore.start(() => {
    changes += 1;
  });
  return {
    server,
    datastore,
    records,
    changes: () => changes,
    snapshot: () => datastore.snapshot(),
    async close() {
      await datastore.stop();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Names of a snapshot's objects, for compact comparisons. */
export function names(s: DatastoreSnapshot): Record<string, string[]> {
  const key = (o: { namespace?: string; name: string }) =>
    o.namespace ? `${o.namespace}/${o.name}` : o.name;
  return {
    namespaces: s.namespaces.map(key),
    pods: s.pods.map(key),
    nodes: s.nodes.map(key),
    policies: s.policies.map(key),
  };
}
