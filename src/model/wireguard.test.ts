import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  formatWireguardAnnotation,
  isWireguardKey,
  parseWireguardAnnotation,
  tunnelAddress,
  WIREGUARD_ANNOTATION,
  type WireguardNode,
  wireguardPeers,
} from './wireguard.js';

// Keys as `wg genkey | wg pubkey` prints them.
const KEY_A = 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=';
const KEY_B = 'HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=';

const node = (name: string, ip: string, cidr: string, annotation?: string): WireguardNode => ({
  name,
  ips: [ip],
  podCIDRs: [cidr],
  annotations: annotation === undefined ? {} : { [WIREGUARD_ANNOTATION]: annotation },
});
const pub = (publicKey: string, port = 51820) => formatWireguardAnnotation({ publicKey, port });

describe('WireGuard keys and their annotation', () => {
  it('recognises keys as wg prints them, and nothing else', () => {
    assert.ok(isWireguardKey(KEY_A) && isWireguardKey(KEY_B));
    for (const bad of [
      '',
      'abc',
      KEY_A.slice(1),
      `${KEY_A.slice(0, 42)}B=`,
      KEY_A.replace('=', ''),
      `${KEY_A}=`,
    ])
      assert.equal(isWireguardKey(bad), false, bad);
  });

  it('reads back what it writes', () => {
    assert.deepEqual(parseWireguardAnnotation('n', pub(KEY_A, 4000)), {
      ok: true,
      publication: { publicKey: KEY_A, port: 4000 },
    });
  });

  it('names the node, the field and the value of every bad annotation', () => {
    const cases: [string, string][] = [
      ['{', 'node n: annotation palisade.dev/wireguard: "{" is not JSON'],
      ['[]', 'node n: annotation palisade.dev/wireguard: must be a JSON object with publicKey and port'],
      [
        '{"publicKey":"abc","port":1}',
        'node n: annotation palisade.dev/wireguard: publicKey "abc" is not a WireGuard key (base64 of 32 bytes)',
      ],
      [
        `{"publicKey":"${KEY_A}","port":0}`,
        'node n: annotation palisade.dev/wireguard: port 0 must be a whole number 1-65535',
      ],
      [
        `{"publicKey":"${KEY_A}","port":1,"x":2}`,
        'node n: annotation palisade.dev/wireguard: unknown field "x"',
      ],
    ];
    for (const [value, problem] of cases)
      assert.deepEqual(parseWireguardAnnotation('n', value), { ok: false, problem }, value);
  });
});

describe('WireGuard peers', () => {
  it('every other node with a valid key, at its address, routed its pod CIDRs', () => {
    const nodes = [
      node('a', '198.18.0.11', '10.244.0.0/24', pub(KEY_A)),
      node('b', '198.18.0.12', '10.244.1.0/24', pub(KEY_B, 51821)),
    ];
    assert.deepEqual(wireguardPeers('a', nodes), {
      peers: [{ node: 'b', publicKey: KEY_B, endpoint: '198.18.0.12:51821', allowedIPs: ['10.244.1.0/24'] }],
      problems: [],
    });
  });

  it('a node without a key, with a broken one, or sharing one is no peer, and is reported; the others are', () => {
    const nodes = [
      node('a', '198.18.0.11', '10.244.0.0/24', pub(KEY_A)),
      node('b', '198.18.0.12', '10.244.1.0/24'),
      node('c', '198.18.0.13', '10.244.2.0/24', '{"publicKey":"nope","port":51820}'),
      node('d', '198.18.0.14', '10.244.3.0/24', pub(KEY_B)),
      node('e', '198.18.0.15', '10.244.4.0/24', pub(KEY_B)),
      node('f', 'fd00::16', '10.244.5.0/24', pub('yTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=')),
    ];
    const got = wireguardPeers('a', nodes);
    assert.deepEqual(got.peers, []);
    assert.deepEqual(got.problems, [
      'node b: no palisade.dev/wireguard annotation yet (its pods are not reachable)',
      'node c: annotation palisade.dev/wireguard: publicKey "nope" is not a WireGuard key (base64 of 32 bytes)',
      'node f: no IPv4 address in status.addresses to reach it at',
      'node d: publishes the same public key as e',
      'node e: publishes the same public key as d',
    ]);
  });

  it('an IPv6 underlay: endpoints in brackets', () => {
    const nodes = [
      node('a', 'fd00::11', '10.244.0.0/24', pub(KEY_A)),
      node('b', 'fd00:0::12', '10.244.1.0/24', pub(KEY_B)),
    ];
    assert.equal(wireguardPeers('a', nodes, 6).peers[0]?.endpoint, '[fd00::12]:51820');
  });
});

describe('tunnel address', () => {
  it('the network address of the first IPv4 pod CIDR (IPAM never hands it out), else none', () => {
    assert.equal(tunnelAddress(['10.244.3.0/24']), '10.244.3.0');
    assert.equal(tunnelAddress(['fd00:10::/64', '10.244.3.128/25']), '10.244.3.128');
    assert.equal(tunnelAddress(['10.244.3.4/31']), undefined, 'a /31 has no spare address');
    assert.equal(tunnelAddress(['fd00:10::/64']), undefined);
    assert.equal(tunnelAddress(['nonsense', '10.1.0.0/16']), '10.1.0.0');
    assert.equal(tunnelAddress([]), undefined);
  });
});
