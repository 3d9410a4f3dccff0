import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type OutboundCapture,
  REDIRECT_TABLE,
  type RedirectSpec,
  RedirectSpecError,
  redirectSpecProblems,
  renderRedirectScript,
  renderRedirectTable,
} from './redirect-rules.js';

function makeSpec(...tweaks: Partial<RedirectSpec>[]): RedirectSpec {
  return Object.assign({ inboundPorts: [8080], proxyPort: 15006, proxyUid: 1337 }, ...tweaks);
}

function makeOutbound(...tweaks: Partial<OutboundCapture>[]): OutboundCapture {
  return Object.assign({ proxyPort: 15001, includeCidrs: [], excludeCidrs: [], excludePorts: [] }, ...tweaks);
}

const INBOUND_8080 = [
  '\tchain inbound {',
  '\t\ttype nat hook prerouting priority dstnat; policy accept;',
  '\t\tmeta l4proto tcp th dport 8080 counter redirect to :15006 comment "inbound to app ports goes to the proxy on :15006"',
  '\t}',
];

const CAPTURE_COMMENT = 'comment "outbound to captured destinations goes to the proxy on :15001"';

describe('renderRedirectTable', () => {
  const cases: { name: string; spec: RedirectSpec; want: string[] }[] = [
    {
      name: 'one port, uid only, no outbound',
      spec: makeSpec(),
      want: ['table inet palisade_redirect {', ...INBOUND_8080, '}', ''],
    },
    {
      name: 'several ports become one sorted anonymous set without duplicates',
      spec: makeSpec({ inboundPorts: [9090, 8080, 8443, 8080] }),
      want: [
        'table inet palisade_redirect {',
        '\tchain inbound {',
        '\t\ttype nat hook prerouting priority dstnat; policy accept;',
        '\t\tmeta l4proto tcp th dport { 8080, 8443, 9090 } counter redirect to :15006 comment "inbound to app ports goes to the proxy on :15006"',
        '\t}',
        '}',
        '',
      ],
    },
    {
      name: 'full outbound capture: v4+v6, exclusions, uid, gid and mark',
      spec: makeSpec({
        proxyGid: 1338,
        proxyMark: 1337,
        outbound: makeOutbound({
          includeCidrs: ['10.0.0.0/8', 'fd00::/8', '192.168.0.0/16', '10.1.0.0/16'],
          excludeCidrs: ['169.254.169.254', '10.96.0.0/12', 'fd00:10:96::/112', '10.96.1.0/24'],
          excludePorts: [15020, 22, 22],
        }),
      }),
      want: [
        'table inet palisade_redirect {',
        ...INBOUND_8080,
        '',
        '\tchain outbound {',
        '\t\ttype nat hook output priority -100; policy accept;',
        '\t\toifname "lo" return comment "pod-local traffic, incl. proxy to app, is never captured"',
        '\t\tmeta skuid 1337 return comment "the proxy itself (uid) is never captured"',
        '\t\tmeta skgid 1338 return comment "the proxy itself (gid) is never captured"',
        '\t\tmeta mark 1337 return comment "the proxy itself (mark) is never captured"',
        '\t\tip daddr { 10.96.0.0/12, 169.254.169.254/32 } return comment "excluded destinations are never captured"',
        '\t\tip6 daddr fd00:10:96::/112 return comment "excluded destinations are never captured"',
        '\t\ttcp dport { 22, 15020 } return comment "excluded ports are never captured"',
        `\t\tip daddr { 10.0.0.0/8, 192.168.0.0/16 } meta l4proto tcp counter redirect to :15001 ${CAPTURE_COMMENT}`,
        `\t\tip6 daddr fd00::/8 meta l4proto tcp counter redirect to :15001 ${CAPTURE_COMMENT}`,
        '\t}',
        '}',
        '',
      ],
    },
    {
      name: 'capture everything, mark only, no exclusions',
      spec: makeSpec({
        proxyUid: undefined,
        proxyMark: 0x539,
        outbound: makeOutbound({ includeCidrs: ['::/0', '0.0.0.0/0', '10.0.0.0/8'] }),
      }),
      want: [
        'table inet palisade_redirect {',
        ...INBOUND_8080,
        '',
        '\tchain outbound {',
        '\t\ttype nat hook output priority -100; policy accept;',
        '\t\toifname "lo" return comment "pod-local traffic, incl. proxy to app, is never captured"',
        '\t\tmeta mark 1337 return comment "the proxy itself (mark) is never captured"',
        `\t\tip daddr 0.0.0.0/0 meta l4proto tcp counter redirect to :15001 ${CAPTURE_COMMENT}`,
        `\t\tip6 daddr ::/0 meta l4proto tcp counter redirect to :15001 ${CAPTURE_COMMENT}`,
        '\t}',
        '}',
        '',
      ],
    },
    {
      name: 'outbound with no include CIDRs captures nothing (exemptions only)',
      spec: makeSpec({ outbound: makeOutbound() }),
      want: [
        'table inet palisade_redirect {',
        ...INBOUND_8080,
        '',
        '\tchain outbound {',
        '\t\ttype nat hook output priority -100; policy accept;',
        '\t\toifname "lo" return comment "pod-local traffic, incl. proxy to app, is never captured"',
        '\t\tmeta skuid 1337 return comment "the proxy itself (uid) is never captured"',
        '\t}',
        '}',
        '',
      ],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.deepStrictEqual(renderRedirectTable(c.spec).split('\n'), c.want);
    });
  }
});

describe('renderRedirectScript', () => {
  it('creates the table if missing, flushes its rules and defines it again, in one script', () => {
    const spec = makeSpec();
    assert.equal(REDIRECT_TABLE, 'palisade_redirect');
    assert.equal(
      renderRedirectScript(spec),
      `table inet palisade_redirect\nflush table inet palisade_redirect\n${renderRedirectTable(spec)}`,
    );
  });
  it('throws on an invalid spec, listing every problem', () => {
    const bad = makeSpec({ inboundPorts: [15006, 0], proxyUid: -1 });
    assert.throws(
      () => renderRedirectScript(bad),
      (err: unknown) =>
        err instanceof RedirectSpecError &&
        err.problems.length === 3 &&
        /inboundPorts\[1\]: 0 /.test(err.message) &&
        /proxyPort: 15006 /.test(err.message) &&
        /proxyUid: -1 /.test(err.message),
    );
    assert.throws(() => renderRedirectTable(bad), RedirectSpecError);
  });
});

describe('redirectSpecProblems', () => {
  const cases: { name: string; spec: RedirectSpec; want: string[] }[] = [
    { name: 'a valid minimal spec', spec: makeSpec(), want: [] },
    {
      name: 'a valid full spec',
      spec: makeSpec({
        proxyGid: 0,
        proxyMark: 2 ** 32 - 1,
        outbound: makeOutbound({ includeCidrs: ['0.0.0.0/0', '::/0'], excludeCidrs: ['10.0.0.1'] }),
      }),
      want: [],
    },
    {
      name: 'no inbound ports and no way to tell the proxy apart',
      spec: makeSpec({ inboundPorts: [], proxyUid: undefined }),
      want: [
        'inboundPorts: must list at least one port',
        "proxyUid, proxyGid, proxyMark: none given; at least one must identify the proxy's own traffic",
      ],
    },
    {
      name: 'ports out of range or not integers',
      spec: makeSpec({ inboundPorts: [0, 80, 70000, 1.5], proxyPort: 65536 }),
      want: [
        'inboundPorts[0]: 0 is not a port (integer 1-65535)',
        'inboundPorts[2]: 70000 is not a port (integer 1-65535)',
        'inboundPorts[3]: 1.5 is not a port (integer 1-65535)',
        'proxyPort: 65536 is not a port (integer 1-65535)',
      ],
    },
    {
      name: 'the proxy port among the redirected ports',
      spec: makeSpec({ inboundPorts: [8080, 15006] }),
      want: ["proxyPort: 15006 is also inboundPorts[1]; the proxy's own port must not be redirected"],
    },
    {
      name: 'uid, gid and mark outside 32 bits, and mark 0',
      spec: makeSpec({ proxyUid: -1, proxyGid: 2 ** 32, proxyMark: 0 }),
      want: [
        'proxyUid: -1 is not a uid (integer 0-4294967295)',
        'proxyGid: 4294967296 is not a gid (integer 0-4294967295)',
        'proxyMark: 0 would exempt every unmarked packet, so nothing would be captured; use a non-zero mark',
      ],
    },
    {
      name: 'outbound: port, CIDRs and excluded ports',
      spec: makeSpec({
        outbound: makeOutbound({
          proxyPort: 0,
          includeCidrs: ['10.0.0.1/8', 'bogus', '::/129'],
          excludeCidrs: ['300.0.0.0/8'],
          excludePorts: [22, 65536],
        }),
      }),
      want: [
        'outbound.proxyPort: 0 is not a port (integer 1-65535)',
        'outbound.includeCidrs[0]: "10.0.0.1/8" is not a CIDR ("10.0.0.1/8" has host bits set; the network is 10.0.0.0/8)',
        'outbound.includeCidrs[1]: "bogus" is not a CIDR ("bogus" is not an IPv4 or IPv6 address)',
        'outbound.includeCidrs[2]: "::/129" is not a CIDR ("::/129" has an invalid prefix length (must be 0-128))',
        'outbound.excludeCidrs[0]: "300.0.0.0/8" is not a CIDR ("300.0.0.0" is not an IPv4 or IPv6 address)',
        'outbound.excludePorts[1]: 65536 is not a port (integer 1-65535)',
      ],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.deepStrictEqual(redirectSpecProblems(c.spec), c.want);
    });
  }
});
