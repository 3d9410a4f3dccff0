// The kubernetes datastore against a fake API server speaking the real list/watch protocol
// (testdata/fake-apiserver.ts), for what a real API server cannot be made to do: a watch that stalls on a dead
// connection, a bookmark on demand, objects changed while the server is down, a restart that keeps its watch
// history, an object the real server would refuse (a malformed policy), and the exact requests made. Listing
// in pages, watch events, an API server restart and a 410 after etcd compaction run on the real API server
// in test/kube-datastore.test.ts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { LIST_PAGE_SIZE } from './kube-client.js';
import type { FakeApiServer, Json } from './testdata/fake-apiserver.js';
import {
  eventually,
  type Harness,
  makeNamespace,
  makeNode,
  makePod,
  makePolicy,
  names,
  startHarness,
  withIps,
} from './testdata/kube-testkit.js';

const ALLOW_WEB = {
  podSelector: { matchLabels: { app: 'db' } },
  ingress: [{ from: [{ podSelector: { matchLabels: { app: 'web' } } }], ports: [{ port: 5432 }] }],
};

function seed(s: FakeApiServer): void {
  s.add('namespaces', makeNamespace('default'));
  s.add('namespaces', makeNamespace('prod', { env: 'prod' }));
  s.add('nodes', makeNode('node-a', '192.168.1.10'));
  s.add('pods', makePod('prod', 'web', { app: 'web' }, withIps('10.244.0.5', 'fd00::5')));
  s.add('pods', makePod('prod', 'db', { app: 'db' }));
  s.add('networkpolicies', makePolicy('prod', 'allow-web', ALLOW_WEB));
}

const lists = (s: FakeApiServer) => s.requests.filter((r) => r.verb === 'list').length;
const labelsOf = (o: Json) => ((o.metadata as Json).labels ?? {}) as Json;
const pod = (h: Harness, name: string) => h.snapshot().pods.find((p) => p.name === name);
// Polled checks throw with a message of their own: a bare assert.ok(x) makes node:assert parse the test's
// source to describe x, which under tsx costs seconds per failed poll.
const policy = (h: Harness, name: string) => {
  const p = h.snapshot().policies.find((x) => x.name === name);
  if (!p) throw new Error(`no policy ${name} yet`);
  return p;
};

let harness: Harness | undefined;
async function open(seedWith: (s: FakeApiServer) => void): Promise<Harness> {
  harness = await startHarness(seedWith);
  return harness;
}
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

describe('kubernetes datastore', () => {
  it('converges on the initial list', async () => {
    const h = await open(seed);
    const s = await eventually(() => {
      const s = h.snapshot();
      assert.equal(s.synced, true);
      return s;
    });
    assert.equal(s.revision, h.server.resourceVersion);
    assert.ok(h.changes() >= 4, 'onChange fires for the initial sync');
    assert.deepEqual(s.namespaces, [
      { name: 'default', labels: { 'kubernetes.io/metadata.name': 'default' } },
      { name: 'prod', labels: { env: 'prod', 'kubernetes.io/metadata.name': 'prod' } },
    ]);
    assert.deepEqual(s.nodes, [{ name: 'node-a', ips: ['192.168.1.10'], labels: {} }]);
    const ports = [{ name: 'http', containerPort: 8080, protocol: 'TCP' }];
    assert.deepEqual(
      s.pods.map(({ workload: _, ...p }) => p),
      [
        { namespace: 'prod', name: 'db', node: 'node-a', ips: [], labels: { app: 'db' }, ports },
        {
          namespace: 'prod',
          name: 'web',
          node: 'node-a',
          ips: ['10.244.0.5', 'fd00::5'],
          labels: { app: 'web' },
          ports,
        },
      ],
    );
    assert.equal(s.policies.length, 1);
    assert.deepEqual(s.policies[0]?.problems, []);
    assert.deepEqual(s.policies[0]?.ingress[0]?.ports, [{ protocol: 'TCP', port: 5432 }]);
  });

  it('without the CRDs (404): synced, none delivered, said once per resource, listed again later', async () => {
    const h = await open(seed);
    await eventually(() => assert.equal(h.snapshot().synced, true));
    assert.deepEqual(h.snapshot().clusterPolicies, []);
    assert.deepEqual(h.snapshot().globalPolicies, []);
    assert.deepEqual(h.snapshot().hostEndpoints, []);
    // The fast harness backoff (20 ms doubling to 200 ms) lists several times meanwhile.
    await eventually(() => {
      const retries = h.records.filter((r) => r.msg === 'not served; listing again later');
      assert.ok(retries.length >= 3, `${retries.length} retries`);
    });
    const notServed = h.records.filter((r) => r.msg.startsWith('not served (CRD not installed?)'));
    const calicoKinds = ['palisade.dev', 'crd.projectcalico.org', 'projectcalico.org'].flatMap((g) => [
      `globalnetworkpolicies.${g}`,
      `hostendpoints.${g}`,
    ]);
    assert.deepEqual(
      notServed.map((r) => [r.level, r.resource]).sort(),
      ['clusternetworkpolicies', ...calicoKinds].sort().map((r) => [30, r]),
    );
    assert.deepEqual(
      h.records.filter((r) => r.level >= 40),
      [],
      'a cluster without the CRD is not a failure',
    );
    assert.equal(h.server.watchCount(), 4, 'no watch for a resource not served');
  });

  it('refuses a second start()', async () => {
    const h = await open(seed);
    await assert.rejects(
      h.datastore.start(() => {}),
      /start\(\) when started/,
    );
  });

  it('accepts a BOOKMARK: nothing visible changes, and the next watch starts from it', async () => {
    const h = await open(seed);
    await eventually(() => assert.equal(h.server.watchCount(), 4));
    h.server.modify('namespaces', 'default', (o) => {
      (o.metadata as Json).labels = { ...labelsOf(o), team: 'a' };
    });
    const newest = h.server.resourceVersion;
    await eventually(() => assert.equal(h.snapshot().revision, newest));
    const snapshot = h.snapshot();
    const changes = h.changes();

    assert.equal(h.server.bookmark(), 4, 'every informer asked for bookmarks');
    h.server.endWatches(); // as the server does when a watch times out
    await eventually(() => assert.equal(h.server.watchCount(), 4));

    const rewatch = h.server.requests.slice(8);
    assert.ok(
      rewatch.every((r) => r.verb === 'watch' && r.resourceVersion === newest),
      JSON.stringify(rewatch),
    );
    assert.deepEqual(h.snapshot(), snapshot);
    assert.equal(h.changes(), changes);
  });

  it('lists in pages from one snapshot, and keeps only what the model reads', async () => {
    const h = await open((s) => {
      seed(s);
      for (let i = 0; i < 1200; i++) {
        const ip = `10.245.${i >> 8}.${i & 255}`;
        s.add('pods', makePod('prod', `bulk-${i}`, { app: 'bulk' }, withIps(ip)));
      }
    });
    await eventually(() => assert.equal(h.server.watchCount(), 4));
    assert.equal(h.snapshot().pods.length, 1202);
    const pages = h.server.requests.filter((r) => r.resource === 'pods' && r.verb === 'list');
    // 1202 pods in pages of LIST_PAGE_SIZE: the first page, then one continue per further page.
    assert.equal(pages.length, Math.ceil(1202 / LIST_PAGE_SIZE));
    assert.ok(pages.every((r) => r.limit === LIST_PAGE_SIZE));
    assert.deepEqual(
      pages.map((r) => r.continue !== undefined),
      pages.map((_, i) => i > 0),
    );
    const bulk = pod(h, 'bulk-7');
    assert.deepEqual(bulk?.ips, ['10.245.0.7']);
    assert.deepEqual(bulk?.ports, [{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
  });

  it('asks the server to end each watch after 5-10 min, as client-go does', async () => {
    const h = await open(seed);
    await eventually(() => assert.equal(h.server.watchCount(), 4));
    assert.equal(h.server.watchTimeouts.length, 4);
    for (const t of h.server.watchTimeouts) {
      if (t === undefined || t < 300 || t >= 600) throw new Error(`timeoutSeconds ${t}`);
    }
  });

  it('a watch that went silent (dead connection) is ended after its timeout, and what it missed arrives', async () => {
    harness = await startHarness(seed, { watchTimeout: { minSeconds: 1, graceMs: 200 } });
    const h = harness;
    await eventually(() => assert.equal(h.server.watchCount(), 4));
    h.server.stallWatches();
    h.server.modify('pods', 'prod/web', (o) => {
      (o.metadata as Json).labels = { app: 'web', moved: 'yes' };
    });
    const t0 = Date.now();
    await eventually(() => {
      if (pod(h, 'web')?.labels.moved !== 'yes') throw new Error('the change has not arrived');
    }, 5000);
    const took = Date.now() - t0;
    // Not before the watch's own timeout (1-2 s) plus grace: the stalled watch really delivered nothing.
    assert.ok(took >= 1000, `arrived after ${took} ms`);
    assert.ok(
      h.records.some((r) => r.msg.includes('outlived its timeout')),
      'the dead watch is logged',
    );
  });

  it('converges after the API server restarts with objects changed while it was down', async () => {
    const h = await open(seed);
    await eventually(() => assert.equal(h.snapshot().synced, true));
    await h.server.stop();
    h.server.add('pods', makePod('prod', 'cache', { app: 'cache' }, withIps('10.244.0.7')));
    h.server.remove('networkpolicies', 'prod/allow-web');
    h.server.modify('namespaces', 'prod', (o) => {
      (o.metadata as Json).labels = { ...labelsOf(o), env: 'dr' };
    });
    await new Promise((resolve) => setTimeout(resolve, 100)); // long enough for the informers to fail
    const listsBefore = lists(h.server);
    await h.server.start(); // a new watch cache: older versions get 410 Expired, so the informers re-list

    await eventually(() => {
      const s = h.snapshot();
      assert.deepEqual(names(s).pods, ['prod/cache', 'prod/db', 'prod/web']);
      assert.deepEqual(names(s).policies, []);
      assert.equal(s.namespaces[1]?.labels.env, 'dr');
      assert.equal(s.revision, h.server.resourceVersion);
    });
    assert.equal(lists(h.server), listsBefore + 4);
    assert.ok(
      h.records.some((r) => r.msg === 'list or watch failed; restarting'),
      'the failures were logged',
    );
  });

  it('converges after a restart that kept its history, by replaying the watch', async () => {
    const h = await open(seed);
    await eventually(() => assert.equal(h.server.watchCount(), 4));
    await h.server.stop();
    h.server.remove('pods', 'prod/db');
    h.server.add('networkpolicies', makePolicy('default', 'deny-all'));
    await h.server.start({ keepHistory: true });
    await eventually(() => {
      assert.deepEqual(names(h.snapshot()).pods, ['prod/web']);
      assert.deepEqual(names(h.snapshot()).policies, ['default/deny-all', 'prod/allow-web']);
      assert.equal(h.snapshot().revision, h.server.resourceVersion);
    });
    assert.equal(lists(h.server), 4, 'no re-list needed');
  });

  it('turns a malformed NetworkPolicy into a policy with problems (fail closed), from list and watch', async () => {
    const broken = {
      podSelector: { matchLabels: { app: 'db' } },
      ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.1/8' } }] }],
      futureField: true,
    };
    const h = await open((s) => {
      seed(s);
      s.add('networkpolicies', makePolicy('prod', 'broken', broken));
    });
    const listed = await eventually(() => policy(h, 'broken'));
    assert.deepEqual(listed.ingress, [], 'allows nothing');
    assert.deepEqual(listed.podSelector.matchLabels, { app: 'db' }, 'still isolates what it selects');
    assert.ok(
      listed.problems.some((m) => m.startsWith('spec.futureField')),
      'unknown fields survive the list',
    );
    assert.ok(
      listed.problems.some((m) => m.includes('10.0.0.1/8')),
      listed.problems.join('; '),
    );

    h.server.add(
      'networkpolicies',
      makePolicy('prod', 'not-a-list', { podSelector: {}, ingress: 'everything' }),
    );
    const watched = await eventually(() => policy(h, 'not-a-list'));
    assert.deepEqual(watched.problems, ['spec.ingress: must be a list, got "everything"']);
    h.server.add('pods', makePod('prod', 'after'));
    await eventually(() => assert.ok(pod(h, 'after'), 'the watch goes on'));
  });

  it('stops leaving nothing behind: the process exits by itself', () => {
    const script = join(import.meta.dirname, 'testdata', 'stop-exits.ts');
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    const run = spawnSync(process.execPath, ['--import', 'tsx', script], {
      encoding: 'utf8',
      timeout: 30_000,
      env,
    });
    assert.equal(run.signal, null, `killed after 30s: something kept it alive\n${run.stdout}${run.stderr}`);
    assert.equal(run.status, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /stopped while synced\nstopped while listing\nstopped while backing off\n$/);
  });
});
