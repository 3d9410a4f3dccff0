// The PolicyRejected event recorder against the fake API server (testdata/fake-apiserver.ts): one Warning
// Event per rejected policy and node, deduplicated as client-go's recorder does, and failures only logged.
// The fake is here for what a real API server cannot be made to do: fail or refuse a write on demand, and
// show each write it received. The writes themselves (POST, then PATCH of count) run on the real API server
// in test/kube-datastore.test.ts, and the agent's events in the lab in test/kube-lab.test.ts.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { clusterPolicyOrderedKey } from '../policy/ordered.js';
import {
  createPolicyEventRecorder,
  eventMessage,
  eventName,
  type PolicyEventRecorder,
  type RejectedPolicy,
  type Warning,
} from './kube-events.js';
import { FakeApiServer, type Json } from './testdata/fake-apiserver.js';
import { captureLogger, type LogRecord } from './testdata/kube-testkit.js';

const T0 = Date.parse('2025-03-01T12:00:00Z');
const BAD_CIDR = 'spec.ingress[0].from[0].ipBlock.cidr: "10.0.0.0/33" is not a valid CIDR';
const BAD_PROTOCOL = 'spec.egress[0].ports[0].protocol: "ICMP" must be TCP, UDP or SCTP';
const rejected = (policy: string, ...problems: string[]): RejectedPolicy => ({ policy, problems });

interface Fixture {
  server: FakeApiServer;
  recorder: PolicyEventRecorder;
  records: LogRecord[];
  clock: { ms: number };
  close(): Promise<void>;
}

let fixture: Fixture | undefined;
async function open(node = 'node-a', server?: FakeApiServer): Promise<Fixture> {
  const s = server ?? (await FakeApiServer.create({ token: 'test-token' }));
  const dir = mkdtempSync(join(tmpdir(), 'palisade-events-'));
  const { log, records } = captureLogger();
  const clock = { ms: T0 };
  const recorder = createPolicyEventRecorder({
    kubeConfig: s.writeKubeconfig(dir),
    node,
    log,
    now: () => clock.ms,
  });
  fixture = {
    server: s,
    recorder,
    records,
    clock,
    async close() {
      recorder.stop();
      await s.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return fixture;
}
afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

const writes = (f: Fixture) => f.server.eventWrites.map((w) => `${w.verb} ${w.namespace}/${w.name}`);

describe('policy event recorder', () => {
  it('posts one Warning Event per rejected policy, on the policy', async () => {
    const f = await open();
    await f.recorder.record([rejected('prod/allow-web', BAD_CIDR, BAD_PROTOCOL)]);
    const name = eventName('prod', 'allow-web', 'node-a');
    assert.deepEqual(writes(f), [`create prod/${name}`]);
    const message = eventMessage([BAD_CIDR, BAD_PROTOCOL]);
    assert.deepEqual(f.server.eventWrites[0]?.body, {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace: 'prod' },
      involvedObject: {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        namespace: 'prod',
        name: 'allow-web',
      },
      type: 'Warning',
      reason: 'PolicyRejected',
      message,
      count: 1,
      firstTimestamp: '2025-03-01T12:00:00Z',
      lastTimestamp: '2025-03-01T12:00:00Z',
      source: { component: 'palisade-agent', host: 'node-a' },
      reportingComponent: 'palisade-agent',
      reportingInstance: 'node-a',
    });
    assert.match(message, /fails closed/);
    assert.ok(message.includes(BAD_CIDR) && message.includes(BAD_PROTOCOL), message);
  });

  it('leaves ClusterNetworkPolicies to their status writer (one event per rejection, with the uid)', async () => {
    const f = await open();
    const cnp = clusterPolicyOrderedKey({ name: 'deny-all' });
    await f.recorder.record([rejected(cnp, BAD_CIDR), rejected('prod/allow-web', BAD_CIDR)]);
    assert.deepEqual(writes(f), [`create prod/${eventName('prod', 'allow-web', 'node-a')}`]);
  });

  it('names events per (policy, node) as valid DNS subdomains', () => {
    const cases = [
      { ns: 'prod', name: 'allow-web', node: 'node-a' },
      { ns: 'prod', name: 'allow-web', node: 'node-b' },
      { ns: 'dev', name: 'allow-web', node: 'node-a' },
      { ns: 'prod', name: `${'a'.repeat(226)}-x`, node: 'node-a' },
    ];
    const got = cases.map((c) => eventName(c.ns, c.name, c.node));
    assert.equal(new Set(got).size, got.length, 'distinct');
    assert.equal(eventName('prod', 'allow-web', 'node-a'), got[0], 'deterministic');
    for (const n of got) {
      assert.ok(n.length <= 253, n);
      assert.match(n, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/);
    }
  });

  it('does not repost within a minute, then bumps count with a PATCH', async () => {
    const f = await open();
    const d = [rejected('prod/allow-web', BAD_CIDR)];
    await f.recorder.record(d);
    f.clock.ms += 30_000;
    await f.recorder.record(d);
    assert.equal(f.server.eventWrites.length, 1, 'no write within the minute');

    f.clock.ms = T0 + 61_000;
    await f.recorder.record(d);
    const name = eventName('prod', 'allow-web', 'node-a');
    assert.deepEqual(writes(f), [`create prod/${name}`, `patch prod/${name}`]);
    assert.equal(f.server.eventWrites[1]?.body.count, 2);
    const stored = f.server.events.get(`prod/${name}`) as Json;
    assert.equal(stored.count, 2);
    assert.equal(stored.firstTimestamp, '2025-03-01T12:00:00Z');
    assert.equal(stored.lastTimestamp, '2025-03-01T12:01:01Z');
    assert.equal(stored.reason, 'PolicyRejected');
  });

  it('restarts the series at once when the problems change', async () => {
    const f = await open();
    await f.recorder.record([rejected('prod/allow-web', BAD_CIDR)]);
    f.clock.ms += 5_000;
    await f.recorder.record([rejected('prod/allow-web', BAD_PROTOCOL)]);
    const stored = f.server.events.get(`prod/${eventName('prod', 'allow-web', 'node-a')}`) as Json;
    assert.equal(f.server.eventWrites.length, 2);
    assert.deepEqual(
      [stored.message, stored.count, stored.firstTimestamp],
      [eventMessage([BAD_PROTOCOL]), 1, '2025-03-01T12:00:05Z'],
    );
  });

  it('stops, and forgets, a policy once it is fixed', async () => {
    const f = await open();
    await f.recorder.record([rejected('prod/allow-web', BAD_CIDR), rejected('dev/deny', BAD_PROTOCOL)]);
    assert.equal(f.server.eventWrites.length, 2);
    for (let i = 1; i <= 3; i++) {
      f.clock.ms = T0 + i * 120_000;
      await f.recorder.record([rejected('dev/deny', BAD_PROTOCOL)]);
    }
    const onWeb = f.server.eventWrites.filter((w) => w.namespace === 'prod');
    assert.equal(onWeb.length, 1, 'the fixed policy gets no more writes');
    assert.equal(f.server.eventWrites.length, 2 + 3, 'the other one is still counted');
    // Broken again later: a new series, on the same event.
    await f.recorder.record([rejected('prod/allow-web', BAD_CIDR)]);
    const stored = f.server.events.get(`prod/${eventName('prod', 'allow-web', 'node-a')}`) as Json;
    assert.equal(stored.count, 1);
    assert.equal(stored.lastTimestamp, '2025-03-01T12:06:00Z');
  });

  it('writes one event per node, and finds its own again after a restart', async () => {
    const a = await open('node-a');
    await a.recorder.record([rejected('prod/allow-web', BAD_CIDR)]);
    a.recorder.stop();
    const server = a.server;
    // node-b's agent, and node-a's agent restarted (empty memory): same server.
    for (const node of ['node-b', 'node-a']) {
      const dir = mkdtempSync(join(tmpdir(), 'palisade-events-'));
      const r = createPolicyEventRecorder({
        kubeConfig: server.writeKubeconfig(dir),
        node,
        log: captureLogger().log,
        now: () => T0 + 90_000,
      });
      await r.record([rejected('prod/allow-web', BAD_CIDR)]);
      rmSync(dir, { recursive: true, force: true });
    }
    const nameA = eventName('prod', 'allow-web', 'node-a');
    const nameB = eventName('prod', 'allow-web', 'node-b');
    assert.deepEqual(writes(a), [`create prod/${nameA}`, `create prod/${nameB}`, `patch prod/${nameA}`]);
    assert.equal(server.events.size, 2);
    assert.equal((server.events.get(`prod/${nameB}`) as Json).reportingInstance, 'node-b');
  });

  it('logs a failing API and retries a minute later, never throwing', async () => {
    const f = await open();
    await f.server.stop();
    await f.recorder.record([rejected('prod/allow-web', BAD_CIDR)]);
    const warns = f.records.filter((r) => r.level === 40);
    assert.equal(warns.length, 1);
    assert.equal(warns[0]?.msg, 'could not write the PolicyRejected event; retrying later');
    assert.equal(warns[0]?.policy, 'prod/allow-web');
    assert.equal(warns[0]?.component, 'events');

    await f.server.start({ keepHistory: true });
    f.clock.ms += 10_000;
    await f.recorder.record([rejected('prod/allow-web', BAD_CIDR)]);
    assert.equal(f.server.eventWrites.length, 0, 'not retried within the minute');
    f.clock.ms = T0 + 60_000;
    await f.recorder.record([rejected('prod/allow-web', BAD_CIDR)]);
    assert.deepEqual(
      f.server.eventWrites.map((w) => [w.verb, w.body.count]),
      [['create', 2]],
    );
  });

  it('logs a refused write and goes on with the other policies', async () => {
    const f = await open();
    const dir = mkdtempSync(join(tmpdir(), 'palisade-events-'));
    // A wrong token: every write is refused (401), as one without the RBAC grant is (403).
    const kubeConfig = f.server.writeKubeconfig(dir);
    writeFileSync(kubeConfig, readFileSync(kubeConfig, 'utf8').replace('test-token', 'wrong-token'));
    const { log, records } = captureLogger();
    const refused = createPolicyEventRecorder({ kubeConfig, node: 'node-c', log, now: () => T0 });
    await refused.record([rejected('prod/a', BAD_CIDR), rejected('prod/b', BAD_CIDR)]);
    const warns = records.filter((r) => r.level === 40);
    assert.deepEqual(
      warns.map((r) => r.policy),
      ['prod/a', 'prod/b'],
    );
    assert.match(JSON.stringify(warns[0]?.err), /401|Unauthorized/);
    assert.equal(f.server.eventWrites.length, 0);
    refused.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('host warnings: cluster-scoped objects in namespace default, with their uid, one series per reason', async () => {
    const f = await open();
    const gnp = {
      apiVersion: 'crd.projectcalico.org/v1',
      kind: 'GlobalNetworkPolicy',
      name: 'edge',
      uid: 'u1',
    };
    const refused = {
      involvedObject: gnp,
      reason: 'HostPolicyRefused',
      message: 'refused on node-a: it would cut …',
    };
    const rejectedGnp = {
      involvedObject: gnp,
      reason: 'PolicyRejected',
      message: 'GlobalNetworkPolicy rejected',
    };
    await f.recorder.report('host', [refused, rejectedGnp]);
    const series = (w: Warning) => `${gnp.apiVersion}\0${gnp.kind}\0${w.reason}`;
    const names = [refused, rejectedGnp].map((w) => eventName('', 'edge', 'node-a', series(w)));
    assert.equal(new Set(names).size, 2);
    assert.deepEqual(
      writes(f),
      names.map((n) => `create default/${n}`),
    );
    const body = f.server.eventWrites[0]?.body as Json;
    assert.deepEqual(
      [body.involvedObject, body.reason, body.message],
      [gnp, 'HostPolicyRefused', refused.message],
    );
    // Another source's report leaves these alone; the same again within the minute writes nothing.
    await f.recorder.record([rejected('prod/allow-web', BAD_CIDR)]);
    await f.recorder.report('host', [refused, rejectedGnp]);
    assert.equal(f.server.eventWrites.length, 3);
    // A warning no longer reported is forgotten: reported again later, a new series.
    await f.recorder.report('host', [refused]);
    f.clock.ms += 120_000;
    await f.recorder.report('host', [refused, rejectedGnp]);
    const stored = f.server.events.get(`default/${names[1]}`) as Json;
    assert.deepEqual([stored.count, stored.lastTimestamp], [1, '2025-03-01T12:02:00Z']);
  });

  it('collapses records that arrive while one is written', async () => {
    const f = await open();
    const first = f.recorder.record([rejected('prod/a', BAD_CIDR)]);
    const second = f.recorder.record([rejected('prod/b', BAD_CIDR)]);
    const third = f.recorder.record([rejected('prod/c', BAD_CIDR)]);
    await Promise.all([first, second, third]);
    assert.deepEqual(
      f.server.eventWrites.map((w) => w.name.split('.')[0]),
      ['c'],
    );
  });
});
