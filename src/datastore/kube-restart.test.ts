// How the kubernetes datastore restarts informers, with fake informers injected through makeInformer (no API
// server): backoff doubling to its cap and reset after a start that gets through, failures of every kind
// (error callback, a rejected start()), and a start() that resolves while its informers keep failing.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { ErrorCallback, KubernetesObject, ObjectCallback } from '@kubernetes/client-node';
import { createKubeDatastore, type KubeInformer, type MakeInformer } from './kube.js';
import { captureLogger, eventually, type LogRecord } from './testdata/kube-testkit.js';

const dir = mkdtempSync(join(tmpdir(), 'palisade-kube-restart-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const kubeConfig = join(dir, 'kubeconfig');
writeFileSync(
  kubeConfig,
  JSON.stringify({
    clusters: [{ name: 'c', cluster: { server: 'http://127.0.0.1:9', 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'u', user: {} }],
    contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
    'current-context': 'x',
  }),
);

type Callback = (arg: never) => void;

/** An informer whose n-th start() does what `behaviour(n)` says. */
class FakeInformer implements KubeInformer {
  starts = 0;
  stopped = false;
  private readonly callbacks = new Map<string, Callback[]>();
  constructor(private readonly behaviour: (n: number) => 'ok' | 'error' | 'reject') {}
  on(verb: 'add' | 'update' | 'delete' | 'change', cb: ObjectCallback<KubernetesObject>): void;
  on(verb: 'error' | 'connect', cb: ErrorCallback): void;
  on(verb: string, cb: Callback): void {
    this.callbacks.set(verb, [...(this.callbacks.get(verb) ?? []), cb]);
  }
  off(): void {}
  async start(): Promise<void> {
    this.starts += 1;
    this.stopped = false;
    const what = this.behaviour(this.starts);
    if (what === 'reject') throw new Error(`start ${this.starts} threw`);
    if (what === 'error') this.fail(new Error(`start ${this.starts} failed`));
  }
  async stop(): Promise<void> {
    this.stopped = true;
  }
  /** What ListWatch does when a watch or list fails: calls its error callbacks and goes idle. */
  fail(err: Error): void {
    for (const cb of this.callbacks.get('error') ?? []) (cb as ErrorCallback)(err);
  }
  get(): KubernetesObject | undefined {
    return undefined;
  }
  list(): readonly KubernetesObject[] {
    return [];
  }
}

function setup(podsBehaviour: (n: number) => 'ok' | 'error' | 'reject') {
  const informers = new Map<string, FakeInformer>();
  const makeInformer: MakeInformer = ({ path }) => {
    const inf = new FakeInformer(path === '/api/v1/pods' ? podsBehaviour : () => 'ok');
    informers.set(path, inf);
    return inf;
  };
  const { log, records } = captureLogger();
  const datastore = createKubeDatastore({
    kubeConfig,
    log,
    makeInformer,
    backoff: { initialMs: 5, maxMs: 40 },
  });
  const pods = () => informers.get('/api/v1/pods')!;
  return { datastore, pods, records };
}

const delays = (records: LogRecord[]) =>
  records.filter((r) => r.resource === 'pods' && typeof r.delayMs === 'number').map((r) => r.delayMs);

describe('kubernetes datastore restarts', () => {
  it('is empty and not synced before start', () => {
    const { datastore } = setup(() => 'ok');
    assert.deepEqual(datastore.snapshot(), {
      revision: '0',
      revisions: {},
      namespaces: [],
      pods: [],
      nodes: [],
      policies: [],
      clusterPolicies: [],
      globalPolicies: [],
      hostEndpoints: [],
      synced: false,
    });
  });

  it('backs off doubling to the cap, and resets once a start gets through', async () => {
    const { datastore, pods, records } = setup((n) => (n <= 5 ? 'error' : 'ok'));
    await datastore.start(() => {});
    await eventually(() => assert.equal(pods().starts, 6));
    assert.deepEqual(delays(records), [5, 10, 20, 40, 40]);

    pods().fail(new Error('connection reset'));
    await eventually(() => assert.equal(pods().starts, 7));
    assert.deepEqual(delays(records).slice(5), [5]);
    await datastore.stop();
    assert.equal(pods().stopped, true);
  });

  it('restarts an informer whose start() rejects', async () => {
    const { datastore, pods, records } = setup((n) => (n === 1 ? 'reject' : 'ok'));
    await datastore.start(() => {});
    await eventually(() => assert.equal(pods().starts, 2));
    const failure = records.find((r) => r.msg === 'informer start failed; restarting');
    assert.deepEqual(failure?.err, { type: 'Error', message: 'start 1 threw' });
    await datastore.stop();
  });

  it('start() resolves while an informer keeps failing; stop() ends the retries', async () => {
    const { datastore, pods } = setup(() => 'error');
    await datastore.start(() => {});
    assert.equal(datastore.snapshot().synced, false);
    await eventually(() => assert.ok(pods().starts >= 3, 'still retrying'));
    await datastore.stop();
    const starts = pods().starts;
    pods().fail(new Error('late failure after stop'));
    await datastore.stop(); // idempotent
    assert.equal(pods().starts, starts);
  });
});
