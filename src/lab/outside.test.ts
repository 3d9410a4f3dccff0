import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  nodeOutsideRoutesScript,
  OutsideAddressError,
  outsideAddressScript,
  outsideIps,
  outsidePodRoutesScript,
  planOutsideAddresses,
  routedNetworks,
} from './outside.js';
import { planLab } from './plan.js';

const DEFAULTS = [
  { ip: '198.18.0.4' },
  { ip: '198.18.0.5' },
  { ip: '198.18.0.6' },
  { ip: '203.0.113.10', routed: '203.0.113.0/24' },
  { ip: '203.0.113.11', routed: '203.0.113.0/24' },
];

describe('outside addresses', () => {
  it('are three on the underlay and two in a routed /24 by default, the own address first', () => {
    const got = planOutsideAddresses();
    assert.deepStrictEqual(got, DEFAULTS);
    assert.deepStrictEqual(outsideIps(got), [
      '198.18.0.3',
      '198.18.0.4',
      '198.18.0.5',
      '198.18.0.6',
      '203.0.113.10',
      '203.0.113.11',
    ]);
    assert.deepStrictEqual(routedNetworks(got), ['203.0.113.0/24']);
  });

  it('take extra ones: on the underlay as they are, elsewhere with their network (default /24)', () => {
    const got = planOutsideAddresses(['10.240.0.5/16', '192.168.7.7', '198.18.0.7/24', ' 198.18.0.250 ']);
    assert.deepStrictEqual(got.slice(DEFAULTS.length), [
      { ip: '10.240.0.5', routed: '10.240.0.0/16' },
      { ip: '192.168.7.7', routed: '192.168.7.0/24' },
      { ip: '198.18.0.7' },
      { ip: '198.18.0.250' },
    ]);
    assert.deepStrictEqual(routedNetworks(got), ['203.0.113.0/24', '10.240.0.0/16', '192.168.7.0/24']);
  });

  it('reports every bad extra address at once, each by its position', () => {
    const bad = [
      '198.18.0.11', // node-1
      '198.18.0.2', // the control plane
      '10.244.3.3/24',
      '10.96.0.10',
      'outside',
      '198.18.0.7/16',
      '127.0.0.5',
      '203.0.113.10',
      '10.0.0.1/4',
      '2001:db8::1',
      '1.2.3.4/40',
    ];
    assert.throws(
      () => planOutsideAddresses(bad),
      (err: unknown) => {
        assert.ok(err instanceof OutsideAddressError);
        assert.deepStrictEqual(err.message.split('; '), [
          '--outside-address[0]: 198.18.0.11 belongs to the lab (control plane, nodes)',
          '--outside-address[1]: 198.18.0.2 belongs to the lab (control plane, nodes)',
          '--outside-address[2]: 10.244.3.0/24 overlaps the pod CIDR 10.244.0.0/16',
          '--outside-address[3]: 10.96.0.0/24 overlaps the Service CIDR 10.96.0.0/16',
          '--outside-address[4]: "outside" is not ADDRESS[/PREFIX] (IPv4)',
          '--outside-address[5]: "198.18.0.7/16" is on the underlay 198.18.0.0/24: give no prefix or /24',
          '--outside-address[6]: "127.0.0.5" is not a unicast address',
          '--outside-address[7]: 203.0.113.10 is already an outside address',
          '--outside-address[8]: "10.0.0.1/4": a routed network must be /8 or longer',
          '--outside-address[9]: "2001:db8::1" is not ADDRESS[/PREFIX] (IPv4)',
          '--outside-address[10]: "1.2.3.4/40" has an invalid prefix length (must be 0-32)',
        ]);
        return true;
      },
    );
  });

  it('sit on the uplink (underlay) or on loopback (routed); nodes route their networks via the outside host', () => {
    const plan = planLab('/tmp/lab-a', 2);
    const addresses = planOutsideAddresses(['10.240.0.5/16']);
    assert.equal(
      outsideAddressScript(plan, 'eth0', addresses),
      [
        'addr add 198.18.0.4/24 dev eth0',
        'addr add 198.18.0.5/24 dev eth0',
        'addr add 198.18.0.6/24 dev eth0',
        'addr add 203.0.113.10/32 dev lo',
        'addr add 203.0.113.11/32 dev lo',
        'addr add 10.240.0.5/32 dev lo',
        '',
      ].join('\n'),
    );
    assert.equal(
      nodeOutsideRoutesScript(plan.nodes[0]!, addresses),
      'route add 203.0.113.0/24 via 198.18.0.3 dev eth0\nroute add 10.240.0.0/16 via 198.18.0.3 dev eth0\n',
    );
    assert.equal(
      outsidePodRoutesScript(plan, 'eth0'),
      'route add 10.244.0.0/24 via 198.18.0.11 dev eth0\nroute add 10.244.1.0/24 via 198.18.0.12 dev eth0\n',
    );
  });
});
