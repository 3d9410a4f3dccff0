import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  cidrContains,
  cidrSize,
  cidrsOverlap,
  disjointCidrs,
  formatCidr,
  formatIp,
  parseCidr,
  parseIp,
  subnetAt,
  subtractCidrs,
} from './cidr.js';

describe('parseIp / formatIp round trip', () => {
  const cases: [string, string][] = [
    ['10.244.1.5', '10.244.1.5'],
    ['0.0.0.0', '0.0.0.0'],
    ['255.255.255.255', '255.255.255.255'],
    ['fd00::1', 'fd00::1'],
    ['FD00:0:0:0:0:0:0:1', 'fd00::1'],
    ['::', '::'],
    ['::1', '::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['fe80::ecee:eeff:feee:eeee', 'fe80::ecee:eeff:feee:eeee'],
    ['::ffff:10.0.0.1', '::ffff:a00:1'],
  ];
  for (const [input, want] of cases) {
    it(input, () => assert.equal(formatIp(parseIp(input)), want));
  }
  for (const bad of [
    '',
    '10.0.0',
    '10.0.0.256',
    '10.0.0.01',
    'a.b.c.d',
    '1::2::3',
    ':::',
    '12345::',
    'fd00::g',
  ]) {
    it(`rejects ${JSON.stringify(bad)}`, () =>
      assert.throws(() => parseIp(bad), /is not an IPv4 or IPv6 address/));
  }
});

describe('parseCidr', () => {
  it('clears host bits unless strict', () => {
    assert.equal(formatCidr(parseCidr('10.244.1.7/24')), '10.244.1.0/24');
    assert.throws(
      () => parseCidr('10.244.1.7/24', { strict: true }),
      /host bits set; the network is 10.244.1.0\/24/,
    );
  });
  it('treats a bare address as a host prefix', () => {
    assert.equal(formatCidr(parseCidr('10.0.0.1')), '10.0.0.1/32');
    assert.equal(formatCidr(parseCidr('fd00::1')), 'fd00::1/128');
  });
  it('rejects bad prefixes naming the input', () => {
    assert.throws(
      () => parseCidr('10.0.0.0/33'),
      /"10.0.0.0\/33" has an invalid prefix length \(must be 0-32\)/,
    );
    assert.throws(() => parseCidr('fd00::/129'), /must be 0-128/);
    assert.throws(() => parseCidr('10.0.0.0/x'), /invalid prefix length/);
  });
});

describe('set arithmetic', () => {
  it('contains, overlap, size', () => {
    const c = parseCidr('10.244.0.0/16');
    assert.equal(cidrContains(c, parseIp('10.244.3.4')), true);
    assert.equal(cidrContains(c, parseIp('10.245.0.1')), false);
    assert.equal(cidrContains(c, parseIp('fd00::1')), false);
    assert.equal(cidrsOverlap(c, parseCidr('10.244.7.0/24')), true);
    assert.equal(cidrsOverlap(parseCidr('10.0.0.0/30'), parseCidr('10.0.0.4/30')), false);
    assert.equal(cidrSize(parseCidr('10.0.0.0/30')), 4n);
  });
  it('subnetAt carves in order and checks bounds', () => {
    const c = parseCidr('10.244.0.0/16');
    assert.equal(formatCidr(subnetAt(c, 24, 0)), '10.244.0.0/24');
    assert.equal(formatCidr(subnetAt(c, 24, 3)), '10.244.3.0/24');
    assert.throws(() => subnetAt(c, 24, 256), /has only 256 \/24 subnets; index 256 is out of range/);
    assert.throws(() => subnetAt(c, 8, 0), /cannot carve \/8 subnets/);
  });
});

describe('subtractCidrs / disjointCidrs', () => {
  const fmt = (cs: readonly { family: 4 | 6; network: bigint; prefix: number }[]) => cs.map(formatCidr);
  it('subtracts excepts into disjoint prefixes', () => {
    assert.deepEqual(fmt(subtractCidrs(parseCidr('10.0.0.0/24'), [parseCidr('10.0.0.0/25')])), [
      '10.0.0.128/25',
    ]);
    assert.deepEqual(fmt(subtractCidrs(parseCidr('10.0.0.0/30'), [parseCidr('10.0.0.1/32')])), [
      '10.0.0.0/32',
      '10.0.0.2/31',
    ]);
    assert.deepEqual(fmt(subtractCidrs(parseCidr('10.0.0.0/24'), [parseCidr('10.0.0.0/16')])), []);
    assert.deepEqual(fmt(subtractCidrs(parseCidr('10.0.0.0/24'), [parseCidr('192.168.0.0/16')])), [
      '10.0.0.0/24',
    ]);
    assert.deepEqual(fmt(subtractCidrs(parseCidr('fd00::/126'), [parseCidr('fd00::3/128')])), [
      'fd00::/127',
      'fd00::2/128',
    ]);
  });
  it('drops nested and duplicate prefixes', () => {
    const got = disjointCidrs(
      ['10.1.0.0/16', '10.0.0.0/8', '192.168.1.0/24', '10.0.0.0/8', 'fd00::/64'].map((c) => parseCidr(c)),
    );
    assert.deepEqual(fmt(got), ['10.0.0.0/8', '192.168.1.0/24', 'fd00::/64']);
  });
});
