import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalIp, hostAddScript, macFromBytes, podAddScript } from './pod-link-script.js';
import { hostVethName, podMac } from './veth-name.js';

const spec = {
  netns: '/run/netns/pod1',
  ifname: 'eth0',
  hostIfname: 'pal0123456789a',
  mtu: 1450,
  podMac: '02:00:00:00:00:01',
  addresses: ['10.244.1.5'],
};

describe('pod link scripts', () => {
  it('host side: pair into the pod netns, up, /32 route', () => {
    assert.equal(
      hostAddScript(spec),
      [
        'link add pal0123456789a mtu 1450 address ee:ee:ee:ee:ee:ee type veth peer name eth0 mtu 1450 address 02:00:00:00:00:01 netns /run/netns/pod1',
        'link set pal0123456789a up',
        'route add 10.244.1.5/32 dev pal0123456789a scope link',
        '',
      ].join('\n'),
    );
  });
  it('pod side v4: /32, link-local gateway with a pinned neighbour', () => {
    assert.equal(
      podAddScript(spec),
      [
        'addr add 10.244.1.5/32 dev eth0',
        'link set eth0 up',
        'route add 169.254.1.1/32 dev eth0 scope link',
        'route add default via 169.254.1.1 dev eth0',
        'neigh replace 169.254.1.1 lladdr ee:ee:ee:ee:ee:ee dev eth0 nud permanent',
        '',
      ].join('\n'),
    );
  });
  it('dual stack adds /128 without DAD and a v6 default via the host link-local', () => {
    const s = podAddScript({ ...spec, addresses: ['10.244.1.5', 'fd00:10:244:1::5'] });
    assert.match(s, /^addr add fd00:10:244:1::5\/128 dev eth0 nodad$/m);
    assert.match(s, /^route add default via fe80::ecee:eeff:feee:eeee dev eth0$/m);
    assert.equal(
      hostAddScript({ ...spec, addresses: ['fd00::5'] }),
      [
        'link add pal0123456789a mtu 1450 address ee:ee:ee:ee:ee:ee type veth peer name eth0 mtu 1450 address 02:00:00:00:00:01 netns /run/netns/pod1',
        'link set pal0123456789a addrgenmode none',
        'addr add fe80::ecee:eeff:feee:eeee/64 dev pal0123456789a nodad',
        'link set pal0123456789a up',
        'route add fd00::5/128 dev pal0123456789a scope link',
        '',
      ].join('\n'),
    );
  });
});

describe('names and addresses', () => {
  it('host veth names are stable, distinct per interface, and fit IFNAMSIZ', () => {
    const a = hostVethName('c0ffee', 'eth0');
    assert.equal(a, hostVethName('c0ffee', 'eth0'));
    assert.notEqual(a, hostVethName('c0ffee', 'net1'));
    assert.notEqual(a, hostVethName('c0ffef', 'eth0'));
    assert.match(a, /^pal[0-9a-f]{11}$/);
    assert.ok(a.length <= 15);
  });
  it('pod MACs are stable per key, distinct per interface, locally administered unicast', () => {
    const mac = podMac('c0ffee', 'eth0');
    assert.equal(mac, podMac('c0ffee', 'eth0'));
    assert.notEqual(mac, podMac('c0ffee', 'net1'));
    assert.match(mac, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    assert.equal(Number.parseInt(mac.slice(0, 2), 16) & 0x03, 0x02);
  });
  it('MACs are locally administered unicast', () => {
    assert.equal(macFromBytes(new Uint8Array([0xff, 1, 2, 3, 4, 5])), 'fe:01:02:03:04:05');
    assert.equal(macFromBytes(new Uint8Array([0x01, 0, 0, 0, 0, 0])), '02:00:00:00:00:00');
  });
  it('canonicalIp ignores prefix and spelling', () => {
    assert.equal(canonicalIp('fd00:0::5/128'), 'fd00::5');
    assert.equal(canonicalIp('10.0.0.1/32'), '10.0.0.1');
  });
});
