import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseWgDump, wgSetArgs } from './wireguard-plan.js';

const KEY_A = 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=';
const KEY_B = 'HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=';
const KEY_C = 'yTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=';

// As `wg show pzwga dump` printed it (private key replaced).
const DUMP = [
  ['(hidden)', KEY_A, '51820', 'off'].join('\t'),
  [
    KEY_B,
    '(none)',
    '198.18.0.12:51820',
    '10.244.1.0/24,10.244.9.0/24',
    '1765140000',
    '1240',
    '980',
    'off',
  ].join('\t'),
  [KEY_C, '(none)', '(none)', '(none)', '0', '0', '0', 'off'].join('\t'),
  '',
].join('\n');

describe('wg show dump', () => {
  it('the interface and each peer', () => {
    assert.deepEqual(parseWgDump(DUMP), {
      publicKey: KEY_A,
      listenPort: 51820,
      peers: [
        {
          publicKey: KEY_B,
          endpoint: '198.18.0.12:51820',
          allowedIPs: ['10.244.1.0/24', '10.244.9.0/24'],
          latestHandshake: 1765140000,
          rxBytes: 1240,
          txBytes: 980,
        },
        { publicKey: KEY_C, allowedIPs: [], latestHandshake: 0, rxBytes: 0, txBytes: 0 },
      ],
    });
  });
  it('a short line is an error naming it', () => {
    assert.throws(() => parseWgDump('a\tb\n'), /first line has 2 fields, not 4/);
    assert.throws(() => parseWgDump(`${DUMP.split('\n')[0]}\nx\ty\n`), /peer line 1 has 2 fields, not 8/);
  });
});

describe('wg set arguments', () => {
  const state = parseWgDump(DUMP);
  it('nothing to do when the device holds what should be', () => {
    const peers = [
      {
        node: 'b',
        publicKey: KEY_B,
        endpoint: '198.18.0.12:51820',
        allowedIPs: ['10.244.9.0/24', '10.244.1.0/24'],
      },
    ];
    assert.deepEqual(
      wgSetArgs('wg0', { ...state, peers: state.peers.slice(0, 1) }, { listenPort: 51820, peers }),
      [],
    );
  });
  it('a gone peer removed, a changed one set whole (replacing its allowed IPs), the port', () => {
    const peers = [
      { node: 'b', publicKey: KEY_B, endpoint: '198.18.0.22:51820', allowedIPs: ['10.244.1.0/24'] },
    ];
    assert.deepEqual(wgSetArgs('wg0', state, { listenPort: 51821, peers, keepalive: 25 }), [
      'set',
      'wg0',
      'listen-port',
      '51821',
      'peer',
      KEY_C,
      'remove',
      'peer',
      KEY_B,
      'endpoint',
      '198.18.0.22:51820',
      'allowed-ips',
      '10.244.1.0/24',
      'persistent-keepalive',
      '25',
    ]);
  });
});
