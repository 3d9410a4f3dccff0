import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { accept, createChain, createRule, createSet, jump, type Table } from '../../ir/ir.js';
import { planDiff } from '../nft-diff.js';
import { ifnameKey, setElementKey } from './nft-msg.js';
import { netlinkWritable } from './nft-netlink-writer.js';

describe('set element keys: the kernel layout, and clear errors', () => {
  it('addresses, ports and concatenations (each field of a concatenation in whole 32-bit registers)', () => {
    assert.equal(setElementKey('ipv4_addr', '10.1.2.3').toString('hex'), '0a010203');
    assert.equal(setElementKey('ipv6_addr', 'fd00::1').toString('hex'), `fd00${'0'.repeat(26)}01`);
    assert.equal(setElementKey('inet_service', '443').toString('hex'), '01bb');
    assert.equal(
      setElementKey('ipv4_addr . inet_proto . inet_service', '10.1.2.3 . udp . 53').toString('hex'),
      '0a010203' + '11000000' + '00350000',
    );
    assert.equal(setElementKey('ipv6_addr . inet_proto . inet_service', 'fd00::1 . sctp . 9').length, 24);
  });
  it('names the value and the set type', () => {
    assert.throws(
      () => setElementKey('ipv4_addr', '10.0.0.0/8'),
      /"10\.0\.0\.0\/8" is not an IPv4 address \(set type ipv4_addr\)/,
    );
    assert.throws(() => setElementKey('ipv4_addr', 'fd00::1'), /not an IPv4 address/);
    assert.throws(() => setElementKey('inet_service', '70000'), /"70000" is not a port number/);
    assert.throws(
      () => setElementKey('ipv4_addr . inet_proto . inet_service', '10.0.0.1 . icmp . 1'),
      /"icmp" is not one of tcp, udp, sctp/,
    );
    assert.throws(
      () => setElementKey('ipv4_addr . inet_proto . inet_service', '10.0.0.1'),
      /is not "address \. protocol \. port"/,
    );
  });
  it('interface names as NUL-padded IFNAMSIZ keys', () => {
    assert.equal(ifnameKey('pal1').toString('hex'), `70616c31${'00'.repeat(12)}`);
    assert.throws(() => ifnameKey('a-name-of-16-chr'), /longer than 15 bytes/);
  });
});

describe('netlinkWritable: what stays with libnftables', () => {
  const t = (over: Partial<Table>): Table => ({
    kind: 'table',
    family: 'inet',
    name: 'palisade',
    sets: [
      createSet({ name: 'a', type: 'ipv4_addr', interval: false, elements: ['10.0.0.1'] }),
      createSet({ name: 'iv', type: 'ipv4_addr', interval: true, elements: ['10.0.0.0/8'] }),
    ],
    maps: [],
    chains: [createChain('ep', [createRule({ verdict: jump('np'), comment: 'np' })]), createChain('np', [])],
    ...over,
  });
  const prev = t({});
  it('elements of exact sets and verdict-only chains are written over netlink', () => {
    const sets = [
      createSet({ name: 'a', type: 'ipv4_addr', interval: false, elements: ['10.0.0.2'] }),
      prev.sets[1]!,
    ];
    assert.ok(netlinkWritable(planDiff(prev, t({ sets })), t({ sets })));
    const chains = [...prev.chains, createChain('ep2', [createRule({ verdict: accept, comment: 'x' })])];
    assert.ok(netlinkWritable(planDiff(prev, t({ chains })), t({ chains })));
  });
  it('interval sets, new sets, rules with matches, chains with a comment or a hook: libnftables', () => {
    const cases: Partial<Table>[] = [
      {
        sets: [
          prev.sets[0]!,
          createSet({ name: 'iv', type: 'ipv4_addr', interval: true, elements: ['10.0.0.0/9'] }),
        ],
      },
      { sets: [...prev.sets, createSet({ name: 'b', type: 'ipv4_addr', interval: false, elements: [] })] },
      {
        chains: [
          createChain('ep', [
            createRule({ matches: [{ kind: 'l4proto', protocol: 'TCP' }], verdict: accept, comment: 'm' }),
          ]),
          prev.chains[1]!,
        ],
      },
      { chains: [...prev.chains, createChain('c', [], { comment: 'commented' })] },
      {
        chains: [
          ...prev.chains,
          createChain('b', [], { base: { hook: 'forward', priority: 5, policy: 'accept' } }),
        ],
      },
    ];
    for (const c of cases)
      assert.equal(netlinkWritable(planDiff(prev, t(c)), t(c)), false, JSON.stringify(c));
  });
  it('an empty plan is not written at all', () => {
    assert.equal(netlinkWritable(planDiff(prev, prev), prev), false);
  });
});
