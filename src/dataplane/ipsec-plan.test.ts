import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  charonPlugins,
  type IpsecConfig,
  IpsecConfigError,
  renderStrongswanConf,
  renderSwanctlConf,
} from './ipsec-plan.js';
import { parseListSas, staleConnections } from './ipsec-sas.js';

const PSK = 'correct horse battery staple';

function makeConfig(...tweaks: ((c: IpsecConfig) => IpsecConfig)[]): IpsecConfig {
  const base: IpsecConfig = {
    node: 'node-a',
    address: '198.18.251.1',
    podCIDRs: ['10.251.1.0/24'],
    peers: [{ node: 'node-b.example', address: '198.18.251.2', podCIDRs: ['10.251.2.0/24', 'fd00:2::/64'] }],
    psk: PSK,
  };
  return tweaks.reduce((c, t) => t(c), base);
}
const peer0 = (patch: Partial<IpsecConfig['peers'][number]>) => (c: IpsecConfig) => ({
  ...c,
  peers: [{ ...c.peers[0]!, ...patch }, ...c.peers.slice(1)],
});

describe('swanctl.conf', () => {
  it('one IKEv2 connection per peer, named after it (dots as underscores), with the PSK base64-encoded', () => {
    const psk64 = Buffer.from(PSK).toString('base64');
    assert.equal(
      renderSwanctlConf(makeConfig()),
      `# Written by Palisade for node node-a: one IKEv2 connection per peer node. Do not edit.
connections {
  node-b_example {
    version = 2
    local_addrs = "198.18.251.1"
    remote_addrs = "198.18.251.2"
    encap = yes
    mobike = no
    unique = no
    keyingtries = 0
    dpd_delay = 5s
    rekey_time = 4h
    reauth_time = 0
    proposals = "aes128gcm16-prfsha256-x25519"
    local {
      auth = psk
      id = "198.18.251.1"
    }
    remote {
      auth = psk
      id = "198.18.251.2"
    }
    children {
      node-b_example {
        local_ts = "10.251.1.0/24"
        remote_ts = "10.251.2.0/24,fd00:2::/64"
        esp_proposals = "aes128gcm16"
        mode = tunnel
        rekey_time = 1h
        start_action = start
        dpd_action = restart
        close_action = none
      }
    }
  }
}
secrets {
  ike-node-b_example {
    secret = "0s${psk64}"
    id-local = "198.18.251.1"
    id-remote = "198.18.251.2"
  }
}
`,
    );
  });

  it('addresses and CIDRs are written canonical; no peers gives empty sections', () => {
    const text = renderSwanctlConf(
      makeConfig(peer0({ address: 'FD00:0::2' }), (c) => ({ ...c, address: 'fd00::1' })),
    );
    assert.match(text, /remote_addrs = "fd00::2"/);
    assert.match(text, /local_addrs = "fd00::1"/);
    assert.match(
      renderSwanctlConf(makeConfig((c) => ({ ...c, peers: [] }))),
      /connections \{\n\}\nsecrets \{\n\}\n$/,
    );
  });

  it('a PSK with quotes, braces and newlines cannot leave its value', () => {
    const psk = 'x"\n}\nconnections { evil {\\';
    const text = renderSwanctlConf(makeConfig((c) => ({ ...c, psk })));
    assert.ok(!text.includes('evil'));
    assert.match(
      text,
      new RegExp(`secret = "0s${Buffer.from(psk).toString('base64').replaceAll('+', '\\+')}"`),
    );
  });

  const rejected: [string, IpsecConfig, RegExp][] = [
    [
      'a brace in the node name',
      makeConfig((c) => ({ ...c, node: 'a{b' })),
      /node: "a\{b" is not a node name/,
    ],
    [
      'a quote in a peer name',
      makeConfig(peer0({ node: 'b"c' })),
      /peers\[0\]\.node: "b\\"c" is not a node name/,
    ],
    ['a newline in a peer name', makeConfig(peer0({ node: 'b\nc' })), /peers\[0\]\.node: "b\\nc"/],
    ['an upper-case name', makeConfig(peer0({ node: 'B' })), /peers\[0\]\.node: "B"/],
    ['a name that ends in a dot', makeConfig(peer0({ node: 'b.' })), /peers\[0\]\.node: "b\."/],
    [
      'a peer named as this node',
      makeConfig(peer0({ node: 'node-a' })),
      /peers\[0\]\.node: "node-a" is this node/,
    ],
    [
      'a bad local address',
      makeConfig((c) => ({ ...c, address: '198.18.251.1"' })),
      /address: "198\.18\.251\.1\\"" is not an IP address/,
    ],
    [
      'a peer address with a newline',
      makeConfig(peer0({ address: '198.18.251.2\n}' })),
      /peers\[0\]\.address: "198\.18\.251\.2\\n}"/,
    ],
    [
      'a peer at this node address',
      makeConfig(peer0({ address: '198.18.251.1' })),
      /peers\[0\]\.address: "198\.18\.251\.1" is this node's/,
    ],
    [
      'a peer of the other family',
      makeConfig(peer0({ address: 'fd00::2' })),
      /peers\[0\]\.address: "fd00::2" is not of the family/,
    ],
    [
      'host bits in a CIDR',
      makeConfig(peer0({ podCIDRs: ['10.251.2.1/24'] })),
      /peers\[0\]\.podCIDRs\[0\]: "10\.251\.2\.1\/24": .*host bits/,
    ],
    [
      'a CIDR with a brace',
      makeConfig((c) => ({ ...c, podCIDRs: ['10.251.1.0/24}'] })),
      /^invalid IPsec config: podCIDRs\[0\]: "10\.251\.1\.0\/24}"/,
    ],
    [
      'a prefix too long',
      makeConfig(peer0({ podCIDRs: ['10.251.2.0/33'] })),
      /peers\[0\]\.podCIDRs\[0\]: "10\.251\.2\.0\/33"/,
    ],
    ['no local CIDRs', makeConfig((c) => ({ ...c, podCIDRs: [] })), /^invalid IPsec config: podCIDRs: empty/],
    [
      'overlapping CIDRs',
      makeConfig(peer0({ podCIDRs: ['10.251.0.0/16'] })),
      /peers\[0\]\.podCIDRs\[0\]: "10\.251\.0\.0\/16" overlaps 10\.251\.1\.0\/24 of this node/,
    ],
    [
      "this node's CIDRs overlapping each other",
      makeConfig((c) => ({ ...c, podCIDRs: ['10.251.0.0/16', '10.251.1.0/24'] })),
      /podCIDRs\[1\]: "10\.251\.1\.0\/24" overlaps 10\.251\.0\.0\/16 of this node/,
    ],
    [
      "two peers' CIDRs overlapping",
      makeConfig((c) => ({
        ...c,
        peers: [...c.peers, { node: 'c', address: '198.18.251.3', podCIDRs: ['10.251.2.128/25'] }],
      })),
      /peers\[1\]\.podCIDRs\[0\]: "10\.251\.2\.128\/25" overlaps 10\.251\.2\.0\/24 of peers\[0\]/,
    ],
    [
      'a short PSK',
      makeConfig((c) => ({ ...c, psk: 'hunter2' })),
      /psk: must be at least 16 characters \(got 7\)/,
    ],
  ];
  for (const [name, config, want] of rejected) {
    it(`rejects ${name}, naming the field and the value`, () => {
      assert.throws(
        () => renderSwanctlConf(config),
        (err: unknown) => {
          assert.ok(err instanceof IpsecConfigError);
          assert.match(err.message, want);
          return true;
        },
      );
    });
  }

  it('reports every problem at once, and never the PSK', () => {
    const twice = makeConfig(
      (c) => ({ ...c, psk: 'secret!', peers: [...c.peers, { ...c.peers[0]!, address: '198.18.251.3' }] }),
      peer0({ address: 'x' }),
    );
    assert.throws(
      () => renderSwanctlConf(twice),
      (err: IpsecConfigError) => {
        assert.deepEqual(
          err.problems.map((p) => p.split(':')[0]),
          ['psk', 'peers[0].address', 'peers[1].node', 'peers[1].podCIDRs[0]', 'peers[1].podCIDRs[1]'],
        );
        assert.ok(!err.message.includes('secret!'));
        return true;
      },
    );
  });
});

describe('strongswan.conf', () => {
  it('libipsec loads kernel-libipsec before kernel-netlink; kernel mode does not load it', () => {
    assert.match(charonPlugins('libipsec'), / kernel-libipsec kernel-netlink /);
    assert.doesNotMatch(charonPlugins('kernel'), /libipsec/);
    const text = renderStrongswanConf({ viciSocket: '/tmp/pal/a/charon.vici', mode: 'libipsec' });
    assert.match(
      text,
      /load = "random nonce openssl kdf hmac sha2 pem pkcs1 x509 pubkey kernel-libipsec kernel-netlink socket-default vici"/,
    );
    assert.equal(text.match(/socket = "unix:\/\/\/tmp\/pal\/a\/charon\.vici"/g)?.length, 2);
  });
  for (const bad of ['tmp/x.vici', '/tmp/a b/x.vici', '/tmp/a"}/x', `/tmp/${'x'.repeat(100)}`]) {
    it(`rejects the socket path ${JSON.stringify(bad.slice(0, 20))}`, () => {
      assert.throws(() => renderStrongswanConf({ viciSocket: bad, mode: 'kernel' }), /viciSocket: /);
    });
  }
});

// As `swanctl --list-sas --raw` printed them (strongSwan 5.9.8), shortened where marked.
const ESTABLISHED =
  'list-sa event {b {uniqueid=2 version=2 state=ESTABLISHED local-host=198.18.251.1 local-port=4500 local-id=198.18.251.1 remote-host=198.18.251.2 remote-port=4500 remote-id=198.18.251.2 initiator=yes initiator-spi=d3b6b0a55c4f2c2f responder-spi=e74c6f686504d721 nat-remote=yes nat-any=yes encr-alg=AES_GCM_16 encr-keysize=128 prf-alg=PRF_HMAC_SHA2_256 dh-group=CURVE_25519 established=4 rekey-time=14320 child-sas {b-1 {name=b uniqueid=1 reqid=1 state=INSTALLED mode=TUNNEL protocol=ESP encap=yes spi-in=b922ce02 spi-out=ae6a7ae9 encr-alg=AES_GCM_16 encr-keysize=128 bytes-in=0 packets-in=0 bytes-out=0 packets-out=0 rekey-time=3504 life-time=3956 install-time=4 local-ts=[10.251.1.0/24] remote-ts=[10.251.2.0/24]}}}}';
const UNNAMED =
  'list-sa event {(unnamed) {uniqueid=3 version=2 state=CONNECTING local-host=198.18.251.1 local-port=500 local-id=%any remote-host=198.18.251.2 remote-port=500 remote-id=%any initiator-spi=16359f073ebde512 responder-spi=43b3491caef3c42c nat-remote=yes nat-any=yes tasks-passive=[IKE_INIT IKE_CERT_PRE IKE_AUTH CHILD_CREATE] child-sas {}}}';
const CONNECTING_C =
  'list-sa event {c_x {uniqueid=7 version=2 state=CONNECTING local-host=198.18.251.1 local-port=500 local-id=%any remote-host=198.18.251.3 remote-port=500 remote-id=%any initiator=yes initiator-spi=ba7e5e0ba718853c responder-spi=0000000000000000 tasks-active=[IKE_VENDOR IKE_INIT CHILD_CREATE] child-sas {}}}';
const DUPLICATE_B = ESTABLISHED.replace('uniqueid=2 ', 'uniqueid=5 ')
  .replace('state=ESTABLISHED', 'state=CONNECTING')
  .replace(/established=4 /, '');

describe('swanctl --list-sas --raw', () => {
  it('per connection: its current IKE_SA, how long it has been up, its CHILD_SAs, how many IKE_SAs', () => {
    const text = [ESTABLISHED, UNNAMED, CONNECTING_C, DUPLICATE_B, 'list-sas reply {}', ''].join('\n');
    assert.deepEqual(parseListSas(text), {
      b: {
        ikeState: 'ESTABLISHED',
        establishedSeconds: 4,
        remoteHost: '198.18.251.2',
        childStates: ['INSTALLED'],
        ikeSas: 2,
      },
      c_x: { ikeState: 'CONNECTING', remoteHost: '198.18.251.3', childStates: [], ikeSas: 1 },
    });
  });
  it('nothing loaded: no connections', () => {
    assert.deepEqual(parseListSas('list-sas reply {}\n'), {});
  });
  it('a cut-off line is an error', () => {
    assert.throws(
      () => parseListSas(ESTABLISHED.slice(0, ESTABLISHED.indexOf(' child-sas'))),
      /unterminated section/,
    );
    assert.throws(
      () => parseListSas(ESTABLISHED.slice(0, 200)),
      /swanctl --raw: "in" is followed by "the end"/,
    );
    assert.throws(
      () => parseListSas('list-sa event {b {state=ESTABLISHED child-sas {x=[a b}}}'),
      /swanctl --raw/,
    );
  });
  it('stale connections: those with SAs that the config no longer has', () => {
    const state = parseListSas([ESTABLISHED, CONNECTING_C].join('\n'));
    assert.deepEqual(staleConnections(state, makeConfig(peer0({ node: 'c.x' }))), ['b']);
    assert.deepEqual(
      staleConnections(
        state,
        makeConfig((c) => ({ ...c, peers: [] })),
      ),
      ['b', 'c_x'],
    );
  });
});
