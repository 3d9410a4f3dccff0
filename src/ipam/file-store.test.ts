// The on-disk store in one process: layout, persistence, idempotency, GC of debris, path safety, and the
// release races (DEL against GC) driven through the store's step hook.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { after, describe as group, test } from 'node:test';
import { IpamExhaustedError, IpamInvalidArgumentError } from './errors.js';
import { createFileStore, type FileStoreOptions } from './file-store.js';
import { allocate, findByOwner, gc, release } from './ipam.js';
import { inspectStore, makeTempDir, mustParse, owner, removeTempDir } from './testdata/helpers.js';

const NET = 'podnet';
const V4 = mustParse({ subnet: '10.0.0.0/24', gateway: '10.0.0.1' });
const dirs: string[] = [];
after(() => {
  for (const d of dirs) removeTempDir(d);
});

function fresh(): string {
  const d = makeTempDir();
  dirs.push(d);
  return d;
}

function storeAt(dataDir: string, extra: Partial<FileStoreOptions> = {}) {
  return createFileStore({ dataDir, network: NET, ...extra });
}

const ipsOf = (allocs: readonly { ip: string }[]) => allocs.map((a) => a.ip);

group('file store layout and persistence', () => {
  test('writes a readable record, an owner index entry and the round-robin hint', async () => {
    const dataDir = fresh();
    const now = () => new Date('2025-01-02T03:04:05.000Z');
    await allocate(storeAt(dataDir), V4, owner('c1'), { now });
    const dir = join(dataDir, NET);
    assert.deepStrictEqual(fs.readdirSync(dir).sort(), ['10.0.0.2', 'last_reserved.10.0.0.0_24', 'owners']);
    assert.equal(
      fs.readFileSync(join(dir, '10.0.0.2'), 'utf8'),
      `${JSON.stringify(
        {
          containerID: 'c1',
          ifname: 'eth0',
          network: NET,
          ip: '10.0.0.2',
          subnet: '10.0.0.0/24',
          gateway: '10.0.0.1',
          allocatedAt: '2025-01-02T03:04:05.000Z',
        },
        null,
        2,
      )}\n`,
    );
    // The index entry and the hint are hard links to the record.
    const inode = (name: string) => fs.statSync(join(dir, name)).ino;
    assert.equal(inode('owners/c1@eth0@10.0.0.2'), inode('10.0.0.2'));
    assert.equal(inode('last_reserved.10.0.0.0_24'), inode('10.0.0.2'));
  });

  test('survives new store instances: same owner, same address; round-robin continues', async () => {
    const dataDir = fresh();
    const a = await allocate(storeAt(dataDir), V4, owner('a'));
    assert.deepStrictEqual(await allocate(storeAt(dataDir), V4, owner('a')), a);
    assert.deepStrictEqual(await findByOwner(storeAt(dataDir), owner('a')), a);
    assert.deepStrictEqual(ipsOf(await allocate(storeAt(dataDir), V4, owner('b'))), ['10.0.0.3']);
    assert.deepStrictEqual(ipsOf(await release(storeAt(dataDir), owner('a'))), ['10.0.0.2']);
    assert.deepStrictEqual(ipsOf(await allocate(storeAt(dataDir), V4, owner('c'))), ['10.0.0.4']);
  });

  test('stores IPv6 records under their canonical text', async () => {
    const dataDir = fresh();
    const config = mustParse({ ranges: [[{ subnet: '10.0.0.0/24' }], [{ subnet: 'FD00:0:0:1::/64' }]] });
    const got = await allocate(storeAt(dataDir), config, owner('c1'));
    assert.deepStrictEqual(ipsOf(got), ['10.0.0.1', 'fd00:0:0:1::1']);
    const seen = inspectStore(dataDir, NET);
    assert.deepStrictEqual(ipsOf(seen.records), ['10.0.0.1', 'fd00:0:0:1::1']);
    assert.deepStrictEqual(seen.liveIndex, ['c1@eth0@10.0.0.1', 'c1@eth0@fd00:0:0:1::1']);
  });

  test('release is idempotent and leaves no record or index entry', async () => {
    const dataDir = fresh();
    await allocate(storeAt(dataDir), V4, owner('c1'));
    assert.deepStrictEqual(ipsOf(await release(storeAt(dataDir), owner('c1'))), ['10.0.0.2']);
    assert.deepStrictEqual(await release(storeAt(dataDir), owner('c1')), []);
    assert.deepStrictEqual(await release(storeAt(fresh()), owner('never')), []);
    const seen = inspectStore(dataDir, NET);
    assert.deepStrictEqual(
      [seen.records, seen.liveIndex, seen.danglingIndex, seen.tempFiles],
      [[], [], [], []],
    );
  });

  test('a /30 fills and the next allocation names the range', async () => {
    const dataDir = fresh();
    const config = mustParse({ subnet: '10.9.0.0/30' });
    await allocate(storeAt(dataDir), config, owner('a'));
    await allocate(storeAt(dataDir), config, owner('b'));
    await assert.rejects(allocate(storeAt(dataDir), config, owner('c')), (err: unknown) => {
      assert.ok(err instanceof IpamExhaustedError);
      assert.equal(err.message, 'no free address in ipam: 10.9.0.0/30 is full');
      return true;
    });
    assert.deepStrictEqual(inspectStore(dataDir, NET).liveIndex, ['a@eth0@10.9.0.1', 'b@eth0@10.9.0.2']);
  });

  test('finds and releases an owner whose index entry was lost, by scanning', async () => {
    const dataDir = fresh();
    await allocate(storeAt(dataDir), V4, owner('c1'));
    fs.rmSync(join(dataDir, NET, 'owners'), { recursive: true });
    assert.deepStrictEqual(ipsOf(await findByOwner(storeAt(dataDir), owner('c1'))), ['10.0.0.2']);
    assert.deepStrictEqual(ipsOf(await release(storeAt(dataDir), owner('c1'))), ['10.0.0.2']);
    assert.deepStrictEqual(inspectStore(dataDir, NET).records, []);
  });

  test('keeps an unreadable record reserved and reports it', async () => {
    const dataDir = fresh();
    fs.mkdirSync(join(dataDir, NET), { recursive: true });
    fs.writeFileSync(join(dataDir, NET, '10.0.0.2'), '{"containerID": "half');
    assert.deepStrictEqual(ipsOf(await allocate(storeAt(dataDir), V4, owner('c1'))), ['10.0.0.3']);
    const got = await gc(storeAt(dataDir, { debrisGraceMs: 0 }), []);
    assert.deepStrictEqual([ipsOf(got.released), got.unreadable], [['10.0.0.3'], ['10.0.0.2']]);
    assert.ok(fs.existsSync(join(dataDir, NET, '10.0.0.2')));
  });
});

group('file store GC', () => {
  test('frees unlisted owners and removes debris once it is older than the grace period', async () => {
    const dataDir = fresh();
    for (const id of ['a', 'b', 'c']) await allocate(storeAt(dataDir), V4, owner(id));
    const dir = join(dataDir, NET);
    fs.writeFileSync(join(dir, '.tmp-999999-abcdef'), 'partial');
    fs.writeFileSync(join(dir, 'owners', 'gone@eth0@10.0.0.77'), '');
    fs.linkSync(join(dir, '10.0.0.2'), join(dir, 'owners', 'b@eth0@10.0.0.2')); // 10.0.0.2 is a's
    fs.writeFileSync(join(dir, 'owners', 'not-an-entry'), '');
    fs.writeFileSync(join(dir, 'README'), 'left alone');

    const young = await gc(storeAt(dataDir, { now: () => Date.now() - 1000 }), [owner('a'), owner('b')]);
    assert.deepStrictEqual([ipsOf(young.released), young.debrisRemoved], [['10.0.0.4'], 0]);

    const later = () => Date.now() + 120_000;
    const old = await gc(storeAt(dataDir, { now: later }), [owner('a'), owner('b')]);
    assert.deepStrictEqual([ipsOf(old.released), old.debrisRemoved], [[], 3]);
    const seen = inspectStore(dataDir, NET);
    assert.deepStrictEqual(ipsOf(seen.records), ['10.0.0.2', '10.0.0.3']);
    assert.deepStrictEqual(
      [seen.danglingIndex, seen.tempFiles, seen.stray],
      [['not-an-entry'], [], ['README']],
    );
  });

  test('GC with an empty list frees everything', async () => {
    const dataDir = fresh();
    for (const id of ['a', 'b']) await allocate(storeAt(dataDir), V4, owner(id));
    const got = await gc(storeAt(dataDir), []);
    assert.deepStrictEqual(ipsOf(got.released), ['10.0.0.2', '10.0.0.3']);
    assert.deepStrictEqual(inspectStore(dataDir, NET).records, []);
  });
});

group('file store races between releasers', () => {
  test('of DEL and GC releasing the same record, exactly one succeeds', async () => {
    const dataDir = fresh();
    await allocate(storeAt(dataDir), V4, owner('a'));
    let gcReleased: boolean | undefined;
    const del = storeAt(dataDir, {
      onStep: (step) => {
        if (step !== 'record-read' || gcReleased !== undefined) return;
        // GC's release of the same record runs (synchronously, to completion) between DEL's read and its claim.
        void storeAt(dataDir)
          .release('10.0.0.2', owner('a'))
          .then((r) => {
            gcReleased = r;
          });
      },
    });
    const delReleased = await del.release('10.0.0.2', owner('a'));
    assert.deepStrictEqual([delReleased, gcReleased], [false, true]);
    const seen = inspectStore(dataDir, NET);
    assert.deepStrictEqual(
      [seen.records, seen.liveIndex, seen.danglingIndex, seen.tempFiles],
      [[], [], [], []],
    );
  });

  test('GC does not take a release in progress for debris, however old the record', async () => {
    const dataDir = fresh();
    await allocate(storeAt(dataDir), V4, owner('a'));
    const longAgo = new Date(Date.now() - 3_600_000);
    fs.utimesSync(join(dataDir, NET, '10.0.0.2'), longAgo, longAgo); // the claim keeps this mtime
    let removed: number | undefined;
    const del = storeAt(dataDir, {
      onStep: (step) => {
        if (step !== 'record-claimed') return;
        void storeAt(dataDir)
          .removeDebris()
          .then((n) => {
            removed = n;
          });
      },
    });
    assert.equal(await del.release('10.0.0.2', owner('a')), true);
    assert.equal(removed, 0);
    const seen = inspectStore(dataDir, NET);
    assert.deepStrictEqual(
      [seen.records, seen.liveIndex, seen.danglingIndex, seen.tempFiles],
      [[], [], [], []],
    );
  });

  test('a record re-reserved by another owner between read and claim is put back', async () => {
    const dataDir = fresh();
    await allocate(storeAt(dataDir), V4, owner('a'));
    const raced = storeAt(dataDir, {
      onStep: (step) => {
        if (step !== 'record-read') return;
        // Another releaser frees a's address and a new pod takes it, all before this release renames the file.
        const other = storeAt(dataDir);
        void other.release('10.0.0.2', owner('a'));
        void other.reserve({
          ...owner('b'),
          network: NET,
          ip: '10.0.0.2',
          subnet: '10.0.0.0/24',
          allocatedAt: 'x',
        });
      },
    });
    assert.equal(await raced.release('10.0.0.2', owner('a')), false);
    const seen = inspectStore(dataDir, NET);
    assert.deepStrictEqual(
      seen.records.map((r) => `${r.containerID}=${r.ip}`),
      ['b=10.0.0.2'],
    );
    assert.deepStrictEqual([seen.unindexed, seen.tempFiles], [[], []]);
  });
});

group('file store path safety', () => {
  test('rejects network names that are not SPEC names', () => {
    for (const network of ['../etc', 'a/b', '..', '.', '', '-x', 'a\u0000b']) {
      assert.throws(
        () => createFileStore({ dataDir: '/nonexistent', network }),
        IpamInvalidArgumentError,
        network,
      );
    }
  });

  test('rejects owners and addresses that could name a path outside the store', async () => {
    const dataDir = fresh();
    const store = storeAt(dataDir);
    await assert.rejects(allocate(store, V4, owner('../../../tmp/x')), IpamInvalidArgumentError);
    await assert.rejects(release(store, owner('ok', 'a/b')), IpamInvalidArgumentError);
    await assert.rejects(store.release('../../etc/passwd', owner('ok')), IpamInvalidArgumentError);
    await assert.rejects(store.setLastReserved('../x', '10.0.0.1'), IpamInvalidArgumentError);
    await assert.rejects(
      store.reserve({
        ...owner('ok'),
        network: NET,
        ip: '10.0.0.01',
        subnet: '10.0.0.0/24',
        allocatedAt: 'x',
      }),
      IpamInvalidArgumentError,
    );
    assert.deepStrictEqual(fs.readdirSync(dataDir), []);
  });
});
