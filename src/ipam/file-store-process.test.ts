// The on-disk store under real concurrency and real crashes: separate OS processes allocating at once, and
// processes SIGKILLed at every step of an allocation and a release, then at random moments in a loop.
// Root-free; each test works in its own temp dir.
import assert from 'node:assert/strict';
import { after, before, describe as group, test } from 'node:test';
import { createFileStore } from './file-store.js';
import { allocate, findByOwner, freeCount, gc } from './ipam.js';
import { inspectStore, makeTempDir, mustParse, owner, removeTempDir } from './testdata/helpers.js';
import { bundleWorker, startWorker, type WorkerJob } from './testdata/processes.js';

const NET = 'podnet';
const dirs: string[] = [];
let bundle = '';

function fresh(): string {
  const d = makeTempDir();
  dirs.push(d);
  return d;
}

before(async () => {
  bundle = await bundleWorker(fresh());
});
after(() => {
  for (const d of dirs) removeTempDir(d);
});

/** Everything the store promises after any crash: whole records, each reachable from its owner's index. */
function assertIntact(dataDir: string) {
  const seen = inspectStore(dataDir, NET);
  assert.deepStrictEqual([seen.unreadable, seen.unindexed, seen.stray], [[], [], []], 'store damaged');
  return seen;
}

test('50 processes allocating at once get 50 distinct addresses per family and an intact store', async () => {
  const dataDir = fresh();
  const ipam = { ranges: [[{ subnet: '10.1.0.0/24' }], [{ subnet: 'fd00:1::/120' }]] };
  const jobs = Array.from({ length: 50 }, (_, i): WorkerJob => {
    return { mode: 'allocate', dataDir, network: NET, ipam, containerID: `pod-${i}` };
  });
  const workers = jobs.map((job) => startWorker(bundle, job));
  await Promise.all(workers.map((w) => w.ready));
  for (const w of workers) w.child.stdin?.end('go\n'); // all start allocating together
  const results = await Promise.all(workers.map((w) => w.exit));
  for (const r of results) assert.equal(r.code, 0, r.stderr);
  const got = results.map((r) => JSON.parse(r.stdout.slice('ready\n'.length)) as [string, string]);
  assert.equal(new Set(got.map((g) => g[0])).size, 50);
  assert.equal(new Set(got.map((g) => g[1])).size, 50);
  const seen = assertIntact(dataDir);
  const recorded = new Map(seen.records.map((r) => [r.ip, r.containerID]));
  got.forEach(([v4, v6], i) => {
    assert.deepStrictEqual([recorded.get(v4), recorded.get(v6)], [`pod-${i}`, `pod-${i}`]);
  });
  assert.deepStrictEqual([seen.records.length, seen.danglingIndex, seen.tempFiles], [100, [], []]);
});

group('SIGKILL at each step', () => {
  const ipam = { subnet: '10.2.0.0/29' };
  const config = mustParse(ipam);
  const cases = [
    { step: 'temp-written', left: { records: 0, dangling: 0, temps: 1 }, retry: '10.2.0.1', debris: 1 },
    { step: 'intent-created', left: { records: 0, dangling: 1, temps: 1 }, retry: '10.2.0.1', debris: 1 },
    { step: 'record-linked', left: { records: 1, dangling: 0, temps: 1 }, retry: '10.2.0.1', debris: 1 },
    { step: 'record-read', left: { records: 1, dangling: 0, temps: 0 }, retry: '10.2.0.1', debris: 0 },
    { step: 'record-claimed', left: { records: 0, dangling: 1, temps: 1 }, retry: '10.2.0.2', debris: 2 },
  ] as const;
  for (const c of cases) {
    test(`${c.step}: leaves no half-written record, and a retry plus GC recover fully`, async () => {
      const dataDir = fresh();
      const job: WorkerJob = {
        mode: 'crash',
        dataDir,
        network: NET,
        ipam,
        containerID: 'victim',
        crashAt: c.step,
      };
      const exit = await startWorker(bundle, job).exit;
      assert.equal(exit.signal, 'SIGKILL', `worker was not killed: code ${exit.code} ${exit.stderr}`);
      const left = assertIntact(dataDir);
      const counts = {
        records: left.records.length,
        dangling: left.danglingIndex.length,
        temps: left.tempFiles.length,
      };
      assert.deepStrictEqual(counts, c.left);

      const store = createFileStore({ dataDir, network: NET, debrisGraceMs: 0 });
      const retried = await allocate(store, config, owner('victim'));
      assert.deepStrictEqual(
        retried.map((a) => a.ip),
        [c.retry],
      );
      const other = await allocate(store, config, owner('other'));
      assert.notEqual(other[0]?.ip, c.retry);
      const cleaned = await gc(store, [owner('victim'), owner('other')]);
      assert.deepStrictEqual([cleaned.released, cleaned.debrisRemoved], [[], c.debris]);
      const after = assertIntact(dataDir);
      assert.deepStrictEqual([after.records.length, after.danglingIndex, after.tempFiles], [2, [], []]);
    });
  }
});

test('processes SIGKILLed at random moments in an allocate/release loop leave an intact store', async () => {
  const dataDir = fresh();
  const ipam = { ranges: [[{ subnet: '10.3.0.0/22' }], [{ subnet: 'fd00:3::/118' }]] };
  const config = mustParse(ipam);
  for (let round = 0; round < 15; round++) {
    const workers = Array.from({ length: 4 }, (_, k) =>
      startWorker(bundle, { mode: 'loop', dataDir, network: NET, ipam, containerID: `r${round}w${k}` }),
    );
    await Promise.all(workers.map((w) => w.ready));
    for (const w of workers) setTimeout(() => w.child.kill('SIGKILL'), Math.random() * 30);
    for (const r of await Promise.all(workers.map((w) => w.exit))) {
      assert.equal(r.signal, 'SIGKILL', `worker ended on its own: code ${r.code} ${r.stderr}`);
    }
  }
  const seen = assertIntact(dataDir);
  const perOwner = new Map<string, string[]>();
  for (const r of seen.records) perOwner.set(r.containerID, [...(perOwner.get(r.containerID) ?? []), r.ip]);
  const store = createFileStore({ dataDir, network: NET, debrisGraceMs: 0 });
  for (const [id, ips] of perOwner) {
    const families = ips.map((ip) => (ip.includes(':') ? 6 : 4)).sort();
    assert.ok(
      families.length <= 2 && new Set(families).size === families.length,
      `${id} holds ${ips.join(', ')}`,
    );
    assert.deepStrictEqual((await findByOwner(store, owner(id))).map((a) => a.ip).sort(), [...ips].sort());
  }
  await gc(store, []);
  const cleaned = assertIntact(dataDir);
  assert.deepStrictEqual([cleaned.records, cleaned.danglingIndex, cleaned.tempFiles], [[], [], []]);
  assert.equal(await freeCount(store, config), 1022, 'an address was lost');
});
