// The IPAM operations against the in-memory store: allocation policy, idempotency, GC, exhaustion.
import assert from 'node:assert/strict';
import { describe as group, test } from 'node:test';
import { IpamExhaustedError, IpamInvalidArgumentError } from './errors.js';
import { allocate, findByOwner, freeCount, gc, release } from './ipam.js';
import { createMemoryStore } from './store.js';
import { mustParse, owner } from './testdata/helpers.js';

const NET = 'podnet';
const fixedNow = () => new Date('2025-01-02T03:04:05.000Z');
const ips = (allocs: readonly { ip: string }[]) => allocs.map((a) => a.ip);

group('allocate', () => {
  test('returns one allocation per range set with subnet, prefix and gateway', async () => {
    const store = createMemoryStore({ network: NET });
    const config = mustParse({
      ranges: [[{ subnet: '10.244.1.0/24', gateway: '10.244.1.1' }], [{ subnet: 'fd00:10:244:1::/64' }]],
    });
    const got = await allocate(store, config, owner('c1'), { now: fixedNow });
    assert.deepStrictEqual(got, [
      {
        ip: '10.244.1.2',
        family: 4,
        prefix: 24,
        subnet: '10.244.1.0/24',
        gateway: '10.244.1.1',
        owner: owner('c1'),
        network: NET,
      },
      {
        ip: 'fd00:10:244:1::1',
        family: 6,
        prefix: 64,
        subnet: 'fd00:10:244:1::/64',
        owner: owner('c1'),
        network: NET,
      },
    ]);
    assert.equal(store.records()[0]?.allocatedAt, '2025-01-02T03:04:05.000Z');
  });

  test('gives a retried ADD the addresses it already holds', async () => {
    const store = createMemoryStore({ network: NET });
    const config = mustParse({ subnet: '10.0.0.0/24' });
    const first = await allocate(store, config, owner('c1'));
    const again = await allocate(store, config, owner('c1'));
    assert.deepStrictEqual(again, first);
    assert.equal(store.records().length, 1);
  });

  test('keys by interface as well as container', async () => {
    const store = createMemoryStore({ network: NET });
    const config = mustParse({ subnet: '10.0.0.0/24' });
    const a = await allocate(store, config, owner('c1', 'eth0'));
    const b = await allocate(store, config, owner('c1', 'net1'));
    assert.deepStrictEqual([...ips(a), ...ips(b)], ['10.0.0.1', '10.0.0.2']);
  });

  test('does not hand a just-released address to the next pod while others are free', async () => {
    const store = createMemoryStore({ network: NET });
    const config = mustParse({ subnet: '10.0.0.0/29' });
    const got: string[] = [];
    for (const id of ['a', 'b', 'c']) got.push(...ips(await allocate(store, config, owner(id))));
    await release(store, owner('b'));
    for (const id of ['d', 'e', 'f', 'g']) got.push(...ips(await allocate(store, config, owner(id))));
    assert.deepStrictEqual(got, [
      '10.0.0.1',
      '10.0.0.2',
      '10.0.0.3',
      '10.0.0.4',
      '10.0.0.5',
      '10.0.0.6',
      '10.0.0.2',
    ]);
  });

  test('throws IpamExhaustedError naming the range when a /30 is full', async () => {
    const store = createMemoryStore({ network: NET });
    const config = mustParse({ subnet: '10.0.0.0/30' });
    await allocate(store, config, owner('a'));
    await allocate(store, config, owner('b'));
    const err = await allocate(store, config, owner('c')).then(
      () => assert.fail('expected exhaustion'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof IpamExhaustedError);
    assert.equal(err.message, 'no free address in ipam: 10.0.0.0/30 is full');
    assert.deepStrictEqual(err.ranges, ['10.0.0.0/30']);
  });

  test('is all-or-nothing: a full second set releases what the first set reserved', async () => {
    const store = createMemoryStore({ network: NET });
    const config = mustParse({
      ranges: [
        [{ subnet: '10.0.0.0/24' }],
        [{ subnet: 'fd00::/127' }, { subnet: 'fd00:1::/126', rangeEnd: 'fd00:1::1' }],
      ],
    });
    await allocate(store, config, owner('a'));
    await allocate(store, config, owner('b'));
    await assert.rejects(allocate(store, config, owner('c')), {
      name: 'IpamExhaustedError',
      message:
        'no free address in ipam.ranges[1]: fd00::/127, fd00:1::/126 range fd00:1::1-fd00:1::1 are full',
    });
    assert.deepStrictEqual(ips(store.records()), ['10.0.0.1', '10.0.0.2', 'fd00:1::1', 'fd00::1']);
  });

  test('completes a half-done dual-stack allocation, keeping the address it has', async () => {
    const config = mustParse({ ranges: [[{ subnet: '10.0.0.0/24' }], [{ subnet: 'fd00::/64' }]] });
    const half = {
      network: NET,
      ...owner('c1'),
      ip: '10.0.0.9',
      subnet: '10.0.0.0/24',
      allocatedAt: fixedNow().toISOString(),
    };
    const store = createMemoryStore({ network: NET, records: [half] });
    assert.deepStrictEqual(ips(await allocate(store, config, owner('c1'))), ['10.0.0.9', 'fd00::1']);
  });

  test('rejects container IDs and interface names that could escape a path', async () => {
    const store = createMemoryStore({ network: NET });
    const config = mustParse({ subnet: '10.0.0.0/24' });
    for (const bad of [owner('../../etc'), owner('a/b'), owner(''), owner('.hidden'), owner('c1', '../x')]) {
      await assert.rejects(allocate(store, config, bad), IpamInvalidArgumentError);
    }
    assert.deepStrictEqual(store.records(), []);
  });
});

group('release and findByOwner', () => {
  test('release frees the owner and is idempotent', async () => {
    const store = createMemoryStore({ network: NET });
    const config = mustParse({ ranges: [[{ subnet: '10.0.0.0/24' }], [{ subnet: 'fd00::/64' }]] });
    const allocs = await allocate(store, config, owner('c1'));
    await allocate(store, config, owner('c2'));
    assert.deepStrictEqual(await findByOwner(store, owner('c1')), allocs);
    assert.deepStrictEqual(await release(store, owner('c1')), allocs);
    assert.deepStrictEqual(await release(store, owner('c1')), []);
    assert.deepStrictEqual(await findByOwner(store, owner('c1')), []);
    assert.deepStrictEqual(ips(store.records()), ['10.0.0.2', 'fd00::2']);
  });

  test('release of an owner that never allocated succeeds with nothing', async () => {
    assert.deepStrictEqual(await release(createMemoryStore({ network: NET }), owner('ghost')), []);
  });
});

group('gc', () => {
  test('frees every allocation whose owner is not listed', async () => {
    const store = createMemoryStore({ network: NET });
    const config = mustParse({ subnet: '10.0.0.0/24' });
    for (const o of [owner('a'), owner('b'), owner('c'), owner('c', 'net1')])
      await allocate(store, config, o);
    const got = await gc(store, [owner('b'), owner('c', 'net1'), owner('../bad')]);
    assert.deepStrictEqual(
      got.released.map((a) => `${a.owner.containerID}/${a.owner.ifname}=${a.ip}`),
      ['a/eth0=10.0.0.1', 'c/eth0=10.0.0.3'],
    );
    assert.equal(got.debrisRemoved, 0);
    assert.deepStrictEqual(ips(store.records()), ['10.0.0.2', '10.0.0.4']);
  });
});

group('freeCount', () => {
  test('counts what the fullest set has left', async () => {
    const store = createMemoryStore({ network: NET });
    const config = mustParse({ ranges: [[{ subnet: '10.0.0.0/29' }], [{ subnet: 'fd00::/125' }]] });
    assert.equal(await freeCount(store, config), 6);
    await allocate(store, config, owner('a'));
    assert.equal(await freeCount(store, config), 5);
    assert.equal(await freeCount(store, mustParse({ subnet: 'fd00::/64' })), Number.MAX_SAFE_INTEGER);
  });
});
