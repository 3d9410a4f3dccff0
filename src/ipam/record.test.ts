// The store's text forms and the identifier rules that keep file names inside the store.
import assert from 'node:assert/strict';
import { describe as group, test } from 'node:test';
import { IpamInvalidArgumentError } from './errors.js';
import { checkContainerID, checkIfname, checkNetworkName } from './names.js';
import { decodeRecord, encodeRecord, indexEntryName, isCanonicalIp, parseIndexEntryName } from './record.js';
import { owner } from './testdata/helpers.js';
import type { AllocationRecord } from './types.js';

const RECORD: AllocationRecord = {
  network: 'podnet',
  containerID: 'c1',
  ifname: 'eth0',
  ip: '10.0.0.2',
  subnet: '10.0.0.0/24',
  gateway: '10.0.0.1',
  allocatedAt: '2025-01-02T03:04:05.000Z',
};

group('identifier rules', () => {
  const ok = (fn: () => void) => assert.doesNotThrow(fn);
  const bad = (fn: () => void) => assert.throws(fn, IpamInvalidArgumentError);
  test('container IDs follow the SPEC', () => {
    for (const id of ['c1', 'a'.repeat(64), 'A.b_c-d', '0']) ok(() => checkContainerID(id));
    for (const id of ['', '.', '..', '../x', 'a/b', '-a', '_a', 'a b', 'a@b', 'é', 'a'.repeat(181)]) {
      bad(() => checkContainerID(id));
    }
  });
  test('interface names follow the kernel', () => {
    for (const n of ['eth0', 'net1', 'a@b', 'x'.repeat(15)]) ok(() => checkIfname(n));
    for (const n of ['', '.', '..', 'a/b', 'a:b', 'a b', 'a\u0000', 'x'.repeat(16)])
      bad(() => checkIfname(n));
  });
  test('network names follow the SPEC', () => {
    ok(() => checkNetworkName('k8s-pod-network.v1'));
    bad(() => checkNetworkName('../up'));
  });
  test('the error names the field and the value', () => {
    assert.throws(() => checkContainerID('../x'), {
      message: 'containerID: "../x" must match ^[A-Za-z0-9][A-Za-z0-9_.-]*$ and be at most 180 characters',
    });
  });
});

group('records', () => {
  test('round-trip through their JSON', () => {
    assert.deepStrictEqual(decodeRecord(encodeRecord(RECORD), '10.0.0.2'), RECORD);
    const { gateway: _, ...noGateway } = RECORD;
    assert.deepStrictEqual(decodeRecord(encodeRecord(noGateway), '10.0.0.2'), noGateway);
  });

  test('reject anything that is not a whole, consistent record', () => {
    const text = (patch: Record<string, unknown>) => JSON.stringify({ ...RECORD, ...patch });
    const cases: [string, string, string][] = [
      ['truncated', encodeRecord(RECORD).slice(0, 40), '10.0.0.2'],
      ['empty', '', '10.0.0.2'],
      ['not an object', '[1]', '10.0.0.2'],
      ['another address than its name', encodeRecord(RECORD), '10.0.0.3'],
      ['an address outside its subnet', text({ ip: '10.9.0.2' }), '10.9.0.2'],
      ['a bad owner', text({ containerID: '../x' }), '10.0.0.2'],
      ['a missing field', text({ allocatedAt: undefined }), '10.0.0.2'],
      ['a bad gateway', text({ gateway: 'x' }), '10.0.0.2'],
    ];
    for (const [name, t, ip] of cases) assert.equal(decodeRecord(t, ip), undefined, name);
  });
});

group('index entry names', () => {
  test('round-trip, even with "@" in the interface name', () => {
    for (const [o, ip] of [
      [owner('c1'), '10.0.0.1'],
      [owner('c.1-x', 'a@b@c'), 'fd00::1'],
    ] as const) {
      assert.deepStrictEqual(parseIndexEntryName(indexEntryName(o, ip)), { owner: o, ip });
    }
  });
  test('reject names the store did not write', () => {
    for (const n of ['x', '@eth0@10.0.0.1', 'c1@eth0', 'c1@eth0@10.0.0.01', 'c1@@10.0.0.1', '.tmp-1-a']) {
      assert.equal(parseIndexEntryName(n), undefined, n);
    }
  });
  test('addresses are canonical text', () => {
    assert.deepStrictEqual(
      ['10.0.0.1', 'fd00::1', 'FD00::1', 'fd00:0::1', '010.0.0.1', 'owners'].map(isCanonicalIp),
      [true, true, false, false, false, false],
    );
  });
});
