import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConntrack, parseConntrackLine } from './conntrack-parse.js';

// Captured from `conntrack -L -o extended` (conntrack-tools 1.4.7) in a test namespace, except the SCTP line:
// this kernel has no SCTP, so it is written in the same shape by hand; the second line's addresses were changed to
// pod addresses.
const EXTENDED = `ipv4     2 udp      17 29 src=127.0.0.1 dst=127.0.0.1 sport=39912 dport=5999 [UNREPLIED] src=127.0.0.1 dst=127.0.0.1 sport=5999 dport=39912 mark=0 use=1
ipv4     2 tcp      6 431999 ESTABLISHED src=10.244.1.2 dst=10.244.2.3 sport=46386 dport=9000 src=10.244.2.3 dst=10.244.1.2 sport=9000 dport=46386 [ASSURED] mark=0 use=1
ipv6     10 tcp      6 431999 ESTABLISHED src=::1 dst=::1 sport=55428 dport=9001 src=::1 dst=::1 sport=9001 dport=55428 [ASSURED] mark=0 use=1
ipv4     2 udp      17 29 src=127.0.0.1 dst=127.0.0.1 sport=59039 dport=7000 [UNREPLIED] src=127.0.0.1 dst=127.0.0.1 sport=7000 dport=59039 mark=42 zone=5 use=1
ipv4     2 icmp     1 29 src=10.0.0.1 dst=10.0.0.2 type=8 code=0 id=7 src=10.0.0.2 dst=10.0.0.1 type=0 code=0 id=7 mark=0 use=1
ipv4     2 sctp     132 431999 ESTABLISHED src=10.244.1.2 dst=10.244.2.3 sport=5000 dport=7777 src=10.244.2.3 dst=10.244.1.2 sport=7777 dport=5000 [ASSURED] mark=0 use=1
`;

// Captured from `conntrack -L` (the default format: no family columns), with the id field of `-o id`.
const DEFAULT = `tcp      6 431999 ESTABLISHED src=::1 dst=::1 sport=47458 dport=9001 src=::1 dst=::1 sport=9001 dport=47458 [ASSURED] mark=0 use=1
udp      17 29 src=127.0.0.1 dst=127.0.0.1 sport=55614 dport=53 src=127.0.0.1 dst=127.0.0.1 sport=53 dport=55614 mark=0 use=1 id=658354226
conntrack v1.4.7 (conntrack-tools): 2 flow entries have been shown.
`;

describe('parseConntrack', () => {
  it('reads the extended format: tcp, udp, sctp, IPv4 and IPv6, flags, mark and zone; skips icmp', () => {
    const got = parseConntrack(EXTENDED);
    assert.deepStrictEqual(
      got.map((e) => [
        e.family,
        e.protocol,
        e.state ?? '-',
        e.original.dport,
        e.assured,
        e.unreplied,
        e.zone,
      ]),
      [
        [4, 'UDP', '-', 5999, false, true, 0],
        [4, 'TCP', 'ESTABLISHED', 9000, true, false, 0],
        [6, 'TCP', 'ESTABLISHED', 9001, true, false, 0],
        [4, 'UDP', '-', 7000, false, true, 5],
        [4, 'SCTP', 'ESTABLISHED', 7777, true, false, 0],
      ],
    );
    assert.equal(got[3]!.mark, 42);
  });
  it('keeps the original and reply tuples apart', () => {
    const e = parseConntrack(EXTENDED)[1]!;
    assert.deepStrictEqual(e.original, { src: '10.244.1.2', dst: '10.244.2.3', sport: 46386, dport: 9000 });
    assert.deepStrictEqual(e.reply, { src: '10.244.2.3', dst: '10.244.1.2', sport: 9000, dport: 46386 });
  });
  it('reads the default format and ignores summary lines', () => {
    const got = parseConntrack(DEFAULT);
    assert.deepStrictEqual(
      got.map((e) => [e.family, e.protocol, e.original.src, e.original.sport]),
      [
        [6, 'TCP', '::1', 47458],
        [4, 'UDP', '127.0.0.1', 55614],
      ],
    );
  });
  it('rejects lines that are not whole entries', () => {
    for (const line of [
      '',
      'garbage',
      'ipv4 2 tcp 6 10 ESTABLISHED src=1.1.1.1 dst=2.2.2.2 sport=1',
      'ipv4 2 tcp 6 10 ESTABLISHED src=1.1.1.1 dst=2.2.2.2 sport=x dport=2 src=2.2.2.2 dst=1.1.1.1 sport=2 dport=1',
    ]) {
      assert.equal(parseConntrackLine(line), undefined, line);
    }
  });
});
