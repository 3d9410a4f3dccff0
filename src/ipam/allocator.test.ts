import assert from 'node:assert/strict';
import { describe as group, test } from 'node:test';
import { parseIp } from '../model/cidr.js';
import { candidates, freeInSet, hintKey } from './allocator.js';
import { mustParse } from './testdata/helpers.js';

function setOf(raw: unknown, i = 0) {
  return mustParse(raw).rangeSets[i]!;
}

function order(raw: unknown, opts: { last?: string; taken?: string[] } = {}): string[] {
  const it = candidates(setOf(raw), {
    lastReserved: opts.last === undefined ? undefined : parseIp(opts.last),
    taken: new Set(opts.taken ?? []),
  });
  return [...it].map((c) => c.text);
}

group('candidates', () => {
  const cases: { name: string; raw: unknown; last?: string; taken?: string[]; want: string[] }[] = [
    {
      name: 'walks a /29 from the first usable address',
      raw: { subnet: '10.0.0.0/29' },
      want: ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6'],
    },
    {
      name: 'skips the gateway',
      raw: { subnet: '10.0.0.0/29', gateway: '10.0.0.3' },
      want: ['10.0.0.1', '10.0.0.2', '10.0.0.4', '10.0.0.5', '10.0.0.6'],
    },
    {
      name: 'rotates after the last reserved address and tries that one last',
      raw: { subnet: '10.0.0.0/29' },
      last: '10.0.0.4',
      want: ['10.0.0.5', '10.0.0.6', '10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'],
    },
    {
      name: 'starts at the top when the last reserved address is outside the set',
      raw: { subnet: '10.0.0.0/30' },
      last: '192.168.0.1',
      want: ['10.0.0.1', '10.0.0.2'],
    },
    {
      name: 'keeps to rangeStart..rangeEnd',
      raw: { subnet: '10.0.0.0/24', rangeStart: '10.0.0.100', rangeEnd: '10.0.0.102' },
      last: '10.0.0.102',
      want: ['10.0.0.100', '10.0.0.101', '10.0.0.102'],
    },
    {
      name: 'skips taken addresses',
      raw: { subnet: '10.0.0.0/29' },
      last: '10.0.0.2',
      taken: ['10.0.0.3', '10.0.0.6', '10.0.0.2'],
      want: ['10.0.0.4', '10.0.0.5', '10.0.0.1'],
    },
    {
      name: 'moves across the ranges of a set, wrapping to the range it started in',
      raw: { ranges: [[{ subnet: '10.0.0.0/30' }, { subnet: '10.0.1.0/30' }, { subnet: '10.0.2.0/30' }]] },
      last: '10.0.1.1',
      want: ['10.0.1.2', '10.0.2.1', '10.0.2.2', '10.0.0.1', '10.0.0.2', '10.0.1.1'],
    },
    {
      name: 'walks IPv6 in canonical text',
      raw: { subnet: 'fd00:10:244:1::/126' },
      last: 'fd00:10:244:1::1',
      want: ['fd00:10:244:1::2', 'fd00:10:244:1::3', 'fd00:10:244:1::1'],
    },
  ];
  for (const c of cases) {
    test(c.name, () => assert.deepStrictEqual(order(c.raw, c), c.want));
  }

  test('is lazy: the first candidate of a /8 comes without walking it', () => {
    const first = candidates(setOf({ subnet: '10.0.0.0/8' })).next();
    assert.equal(first.done, false);
    assert.equal(first.value?.text, '10.0.0.1');
  });
});

group('freeInSet', () => {
  const cases: { name: string; raw: unknown; reserved: string[]; want: bigint }[] = [
    { name: 'a fresh /24', raw: { subnet: '10.0.0.0/24' }, reserved: [], want: 254n },
    {
      name: 'minus the gateway',
      raw: { subnet: '10.0.0.0/24', gateway: '10.0.0.1' },
      reserved: [],
      want: 253n,
    },
    {
      name: 'counting only reserved addresses the set could hand out',
      raw: { subnet: '10.0.0.0/30', gateway: '10.0.0.1' },
      reserved: ['10.0.0.2', '10.0.0.1', '10.9.9.9', 'fd00::2', 'junk'],
      want: 0n,
    },
    { name: 'an IPv6 /64', raw: { subnet: 'fd00::/64' }, reserved: ['fd00::1'], want: (1n << 64n) - 2n },
  ];
  for (const c of cases) {
    test(c.name, () => assert.equal(freeInSet(setOf(c.raw), c.reserved), c.want));
  }
});

test('hintKey names a set by its first subnet', () => {
  const config = mustParse({ ranges: [[{ subnet: '10.0.0.0/24' }], [{ subnet: 'fd00:1::/64' }]] });
  assert.deepStrictEqual(config.rangeSets.map(hintKey), ['10.0.0.0_24', 'fd00:1::_64']);
});
