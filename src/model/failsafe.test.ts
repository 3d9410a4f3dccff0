import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_FAILSAFES, formatFailsafeList, parseFailsafeList } from './failsafe.js';

describe('failsafe lists', () => {
  const cases: [text: string, rules: ReturnType<typeof parseFailsafeList>['rules']][] = [
    ['tcp:22', [{ protocol: 'TCP', port: 22 }]],
    [
      'UDP:68, sctp:9',
      [
        { protocol: 'UDP', port: 68 },
        { protocol: 'SCTP', port: 9 },
      ],
    ],
    ['tcp:2379-2380', [{ protocol: 'TCP', port: 2379, endPort: 2380 }]],
    ['tcp:22-22', [{ protocol: 'TCP', port: 22 }]],
    ['tcp:10.0.0.0/8:22', [{ protocol: 'TCP', port: 22, cidr: '10.0.0.0/8' }]],
    ['tcp:fd00::/8:22', [{ protocol: 'TCP', port: 22, cidr: 'fd00::/8' }]],
    ['none', []],
  ];
  for (const [text, rules] of cases)
    it(`reads ${text}`, () => assert.deepEqual(parseFailsafeList(text, '--f'), { rules, problems: [] }));

  it('names every bad entry and what is wrong', () => {
    assert.deepEqual(
      parseFailsafeList('icmp:1,tcp:0,tcp:70000,tcp:5-4,tcp:10.0.0.1/8:22,,tcp:x', '--f').problems,
      [
        '--f: "icmp:1" must start with tcp:, udp: or sctp:',
        '--f: "tcp:0" must end with a port 1-65535 or a range FROM-TO',
        '--f: "tcp:70000" must end with a port 1-65535 or a range FROM-TO',
        '--f: "tcp:5-4" must end with a port 1-65535 or a range FROM-TO',
        '--f: "tcp:10.0.0.1/8:22": "10.0.0.1/8" is not a CIDR ("10.0.0.1/8" has host bits set; the network is 10.0.0.0/8)',
        '--f: an empty entry in "icmp:1,tcp:0,tcp:70000,tcp:5-4,tcp:10.0.0.1/8:22,,tcp:x"',
        '--f: "tcp:x" must end with a port 1-65535 or a range FROM-TO',
      ],
    );
  });

  it('the defaults are those the issue and Calico name, and read back from their text', () => {
    assert.equal(
      formatFailsafeList(DEFAULT_FAILSAFES.inbound),
      'tcp:22,tcp:6443,tcp:10250,tcp:2379-2380,udp:68',
    );
    assert.equal(formatFailsafeList(DEFAULT_FAILSAFES.outbound), 'tcp:443,tcp:6443,udp:53,udp:67');
    for (const list of [DEFAULT_FAILSAFES.inbound, DEFAULT_FAILSAFES.outbound])
      assert.deepEqual(parseFailsafeList(formatFailsafeList(list), 'x').rules, list);
  });
});
