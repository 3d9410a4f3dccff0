import assert from 'node:assert/strict';
import { describe as group, test } from 'node:test';
import { DEFAULT_DATA_DIR, parseIpamConfig } from './config.js';
import { describe } from './testdata/helpers.js';

interface Summary {
  readonly dataDir: string;
  readonly sets: { path: string; family: number; ranges: string[] }[];
}

function summarize(raw: unknown): Summary | string[] {
  const parsed = parseIpamConfig(raw);
  if (!parsed.ok) return parsed.errors;
  return {
    dataDir: parsed.config.dataDir,
    sets: parsed.config.rangeSets.map((s) => ({
      path: s.path,
      family: s.family,
      ranges: s.ranges.map(describe),
    })),
  };
}

const v4 = (path: string, ...ranges: string[]) => ({ path, family: 4, ranges });
const v6 = (path: string, ...ranges: string[]) => ({ path, family: 6, ranges });

group('parseIpamConfig accepts', () => {
  const cases: { name: string; raw: unknown; want: Summary }[] = [
    {
      name: 'the subnet shorthand, skipping network and broadcast',
      raw: { type: 'palisade', subnet: '10.244.1.0/24' },
      want: { dataDir: DEFAULT_DATA_DIR, sets: [v4('ipam', '10.244.1.0/24 10.244.1.1-10.244.1.254')] },
    },
    {
      name: 'the shorthand with bounds and gateway, without type',
      raw: {
        subnet: '10.244.1.0/24',
        rangeStart: '10.244.1.10',
        rangeEnd: '10.244.1.20',
        gateway: '10.244.1.1',
      },
      want: {
        dataDir: DEFAULT_DATA_DIR,
        sets: [v4('ipam', '10.244.1.0/24 10.244.1.10-10.244.1.20 gw 10.244.1.1')],
      },
    },
    {
      name: 'dual-stack range sets and a dataDir',
      raw: {
        type: 'palisade',
        dataDir: '/var/lib/palisade/ipam',
        ranges: [
          [
            {
              subnet: '10.244.1.0/24',
              rangeStart: '10.244.1.10',
              rangeEnd: '10.244.1.200',
              gateway: '10.244.1.1',
            },
          ],
          [{ subnet: 'fd00:10:244:1::/64' }],
        ],
      },
      want: {
        dataDir: '/var/lib/palisade/ipam',
        sets: [
          v4('ipam.ranges[0]', '10.244.1.0/24 10.244.1.10-10.244.1.200 gw 10.244.1.1'),
          v6('ipam.ranges[1]', 'fd00:10:244:1::/64 fd00:10:244:1::1-fd00:10:244:1:ffff:ffff:ffff:ffff'),
        ],
      },
    },
    {
      name: 'several ranges in one set, /31 and /32 using every address',
      raw: { ranges: [[{ subnet: '10.0.0.0/31' }, { subnet: '10.0.0.8/32' }, { subnet: '10.0.1.0/30' }]] },
      want: {
        dataDir: DEFAULT_DATA_DIR,
        sets: [
          v4(
            'ipam.ranges[0]',
            '10.0.0.0/31 10.0.0.0-10.0.0.1',
            '10.0.0.8/32 10.0.0.8-10.0.0.8',
            '10.0.1.0/30 10.0.1.1-10.0.1.2',
          ),
        ],
      },
    },
    {
      name: 'IPv6 /128 and /127',
      raw: { ranges: [[{ subnet: 'fd00::1/128' }, { subnet: 'fd00::2/127' }]] },
      want: {
        dataDir: DEFAULT_DATA_DIR,
        sets: [v6('ipam.ranges[0]', 'fd00::1/128 fd00::1-fd00::1', 'fd00::2/127 fd00::3-fd00::3')],
      },
    },
    {
      name: 'routes, which the plugin reads',
      raw: { subnet: '10.0.0.0/30', routes: [{ dst: '0.0.0.0/0' }] },
      want: { dataDir: DEFAULT_DATA_DIR, sets: [v4('ipam', '10.0.0.0/30 10.0.0.1-10.0.0.2')] },
    },
  ];
  for (const c of cases) {
    test(c.name, () => assert.deepStrictEqual(summarize(c.raw), c.want));
  }
});

group('parseIpamConfig rejects', () => {
  const cases: { name: string; raw: unknown; want: string[] }[] = [
    { name: 'a non-object', raw: 5, want: ['ipam: 5 is not an object'] },
    {
      name: 'another IPAM type',
      raw: { type: 'host-local', subnet: '10.0.0.0/24' },
      want: ['ipam.type: "host-local" is not supported; palisade-cni allocates addresses itself'],
    },
    { name: 'no subnet and no ranges', raw: {}, want: ['ipam: needs "subnet" or "ranges"'] },
    {
      name: 'both subnet and ranges',
      raw: { subnet: '10.0.0.0/24', ranges: [[{ subnet: '10.1.0.0/24' }]] },
      want: ['ipam: give either "subnet" or "ranges", not both'],
    },
    {
      name: 'a bad prefix length',
      raw: { ranges: [[{ subnet: '10.1.0.0/24' }], [{ subnet: '10.0.0.0/33' }]] },
      want: ['ipam.ranges[1][0].subnet: "10.0.0.0/33" has an invalid prefix length (must be 0-32)'],
    },
    {
      name: 'overlapping ranges across sets',
      raw: { ranges: [[{ subnet: '10.0.0.0/24' }], [{ subnet: '10.0.0.0/30' }]] },
      want: ['ipam.ranges[1][0]: 10.0.0.0/30 overlaps ipam.ranges[0][0] (10.0.0.0/24)'],
    },
    {
      name: 'host bits in a subnet and a non-address',
      raw: { subnet: '10.0.0.5/24', gateway: 'ten' },
      want: [
        'ipam.subnet: "10.0.0.5/24" has host bits set; the network is 10.0.0.0/24',
        'ipam.gateway: "ten" is not an IPv4 or IPv6 address',
      ],
    },
    {
      name: 'bounds and gateway outside the subnet',
      raw: {
        ranges: [
          [{ subnet: '10.0.0.0/24', rangeStart: '10.0.1.1', rangeEnd: 'fd00::1', gateway: '10.9.9.9' }],
        ],
      },
      want: [
        'ipam.ranges[0][0].rangeStart: "10.0.1.1" is outside 10.0.0.0/24',
        'ipam.ranges[0][0].rangeEnd: "fd00::1" is outside 10.0.0.0/24',
        'ipam.ranges[0][0].gateway: "10.9.9.9" is outside 10.0.0.0/24',
      ],
    },
    {
      name: 'rangeStart after rangeEnd',
      raw: { subnet: '10.0.0.0/24', rangeStart: '10.0.0.9', rangeEnd: '10.0.0.3' },
      want: ['ipam: rangeStart 10.0.0.9 is after rangeEnd 10.0.0.3'],
    },
    {
      name: 'a set mixing families',
      raw: { ranges: [[{ subnet: '10.0.0.0/24' }, { subnet: 'fd00::/64' }]] },
      want: [
        'ipam.ranges[0][1].subnet: "fd00::/64" is IPv6 but ipam.ranges[0][0] is IPv4; all ranges of a set must be one family',
      ],
    },
    {
      name: 'malformed lists and fields, all at once',
      raw: {
        type: 7,
        dataDir: 'relative',
        ranges: [[], 'x', [5, { subnet: 10, bogus: true }]],
        gateway: '10.0.0.1',
      },
      want: [
        'ipam.type: 7 is not supported; palisade-cni allocates addresses itself',
        'ipam.dataDir: "relative" must be an absolute path',
        'ipam.gateway: "10.0.0.1" only goes with "subnet"; put it in a range',
        'ipam.ranges[0]: [] must be a non-empty list of ranges',
        'ipam.ranges[1]: "x" must be a non-empty list of ranges',
        'ipam.ranges[2][0]: 5 is not an object',
        'ipam.ranges[2][1].bogus: true is not a known field (known: subnet, rangeStart, rangeEnd, gateway)',
        'ipam.ranges[2][1].subnet: 10 must be a CIDR such as "10.244.1.0/24"',
      ],
    },
    {
      name: 'an empty ranges list and an unknown top-level field',
      raw: { ranges: [], subnett: '10.0.0.0/24' },
      want: [
        'ipam.subnett: "10.0.0.0/24" is not a known field (known: type, subnet, rangeStart, rangeEnd, gateway, ranges, dataDir, routes)',
        'ipam.ranges: [] must be a non-empty list of range sets',
      ],
    },
    {
      name: 'a range whose only address is the gateway',
      raw: { subnet: '10.0.0.7/32', gateway: '10.0.0.7' },
      want: ['ipam: 10.0.0.7/32 has no allocatable address'],
    },
  ];
  for (const c of cases) {
    test(c.name, () => assert.deepStrictEqual(summarize(c.raw), c.want));
  }

  test('reports under the caller-given path', () => {
    assert.deepStrictEqual(parseIpamConfig({}, 'plugins[0].ipam'), {
      ok: false,
      errors: ['plugins[0].ipam: needs "subnet" or "ranges"'],
    });
  });
});
