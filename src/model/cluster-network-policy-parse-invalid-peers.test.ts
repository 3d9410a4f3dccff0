// Invalid peers and protocols of ClusterNetworkPolicy rules: the exact problem for each, in a Deny rule, which
// therefore becomes a Deny of every peer on every port (a broken Accept would be dropped instead).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseClusterNetworkPolicy } from './cluster-network-policy-parse.js';
import { cnpDoc, cnpSpec, denyAny, makeCnp } from './cluster-network-policy-parse.testkit.js';

const E = 'spec.egress[0]';
const I = 'spec.ingress[0]';
const viaEgressPeer = (peer: unknown, extra: Record<string, unknown> = {}) =>
  cnpSpec({ egress: [{ action: 'Deny', to: [peer], ...extra }] });
const viaNetworks = (...networks: unknown[]) => viaEgressPeer({ networks });
const viaProtocol = (protocol: unknown) =>
  cnpSpec({ ingress: [{ action: 'Deny', from: [{ namespaces: {} }], protocols: [protocol] }] });
const viaTcp = (destinationPort: unknown) => viaProtocol({ tcp: { destinationPort } });

const DOMAINS_NOT_PROGRAMMED = `${E}.to[0].domainNames: not programmed (Palisade does not resolve domain names; the peer matches nothing)`;

interface Case {
  name: string;
  spec: unknown;
  problems: string[];
  dir: 'ingress' | 'egress';
  /** A broken Accept is dropped rather than made a Deny of everything. */
  accept?: boolean;
}

function cases(): Case[] {
  const egress = (name: string, spec: unknown, problems: string[]) => ({
    name,
    spec,
    problems,
    dir: 'egress' as const,
  });
  const ingress = (name: string, spec: unknown, problems: string[]) => ({
    name,
    spec,
    problems,
    dir: 'ingress' as const,
  });
  const accept = (name: string, spec: unknown, problems: string[]) => ({
    ...egress(name, spec, problems),
    accept: true,
  });
  return [
    ingress('peer neither', cnpSpec({ ingress: [{ action: 'Deny', from: [{}] }] }), [
      `${I}.from[0]: {} must set exactly one of namespaces, pods`,
    ]),
    ingress(
      'peer both',
      cnpSpec({ ingress: [{ action: 'Deny', from: [{ namespaces: {}, pods: { podSelector: {} } }] }] }),
      [`${I}.from[0]: {"namespaces":{},"pods":{"podSelector":{}}} must set exactly one of namespaces, pods`],
    ),
    ingress(
      'networks is an egress-only peer',
      cnpSpec({ ingress: [{ action: 'Deny', from: [{ networks: ['10.0.0.0/8'] }] }] }),
      [
        `${I}.from[0].networks: unknown field`,
        `${I}.from[0]: {"networks":["10.0.0.0/8"]} must set exactly one of namespaces, pods`,
      ],
    ),
    ingress(
      'pods without podSelector',
      cnpSpec({ ingress: [{ action: 'Deny', from: [{ pods: { namespaceSelector: {} } }] }] }),
      [`${I}.from[0].pods.podSelector: required`],
    ),
    egress('egress peer neither', viaEgressPeer({}), [
      `${E}.to[0]: {} must set exactly one of namespaces, pods, nodes, networks, domainNames`,
    ]),
    egress(
      'nodes selector broken',
      viaEgressPeer({ nodes: { matchExpressions: [{ key: 'zone', operator: 'Exists', values: ['a'] }] } }),
      [`${E}.to[0].nodes.matchExpressions[0].values: ["a"] must be empty when operator is Exists`],
    ),
    egress('networks empty', viaNetworks(), [`${E}.to[0].networks: must have at least 1 item, got 0`]),
    egress('networks not a list', viaEgressPeer({ networks: '10.0.0.0/8' }), [
      `${E}.to[0].networks: must be a list, got "10.0.0.0/8"`,
    ]),
    egress('26 networks', viaNetworks(...Array.from({ length: 26 }, (_, i) => `10.${i}.0.0/16`)), [
      `${E}.to[0].networks: must have at most 25 items, got 26`,
    ]),
    egress('network not a string', viaNetworks(10), [`${E}.to[0].networks[0]: 10 must be a CIDR string`]),
    egress(
      'network longer than 43 characters',
      viaNetworks('ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128'),
      [
        `${E}.to[0].networks[0]: "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128" must be at most 43 characters`,
      ],
    ),
    egress('network without a prefix length', viaNetworks('10.0.0.1'), [
      `${E}.to[0].networks[0]: "10.0.0.1" is not a CIDR (it has no prefix length)`,
    ]),
    egress('prefix too long, v4 and v6', viaNetworks('10.0.0.0/33', 'fd00::/129'), [
      `${E}.to[0].networks[0]: "10.0.0.0/33" has an invalid prefix length (must be 0-32)`,
      `${E}.to[0].networks[1]: "fd00::/129" has an invalid prefix length (must be 0-128)`,
    ]),
    egress('prefix with a leading zero or a sign', viaNetworks('10.0.0.0/08', '10.0.0.0/+8'), [
      `${E}.to[0].networks[0]: "10.0.0.0/08" has an invalid prefix length`,
      `${E}.to[0].networks[1]: "10.0.0.0/+8" has an invalid prefix length`,
    ]),
    egress(
      'octet with a leading zero, not an address, an IPv6 zone',
      viaNetworks('010.0.0.0/8', 'web/8', 'fe80::1%eth0/64'),
      [
        `${E}.to[0].networks[0]: "010.0.0.0" is not an IPv4 or IPv6 address`,
        `${E}.to[0].networks[1]: "web" is not an IPv4 or IPv6 address`,
        `${E}.to[0].networks[2]: "fe80::1%eth0" is not an IPv4 or IPv6 address`,
      ],
    ),
    egress(
      'IPv4-mapped IPv6, even when the prefix masks the mapping away',
      viaNetworks('::ffff:10.0.0.0/104', '::ffff:0:0/80'),
      [
        `${E}.to[0].networks[0]: "::ffff:10.0.0.0/104" must not be an IPv4-mapped IPv6 address`,
        `${E}.to[0].networks[1]: "::ffff:0:0/80" must not be an IPv4-mapped IPv6 address`,
      ],
    ),
    egress('network listed twice (a set)', viaNetworks('10.0.0.0/8', '10.0.0.0/8'), [
      `${E}.to[0].networks[1]: "10.0.0.0/8" is listed twice`,
    ]),
    accept(
      'domain names: one label, a bare wildcard, a wildcard inside, a space, listed twice',
      viaEgressPeer(
        { domainNames: ['localhost', '*', 'a.*.example.com', 'a b.com', 'x.io', 'x.io'] },
        { action: 'Accept' },
      ),
      [
        `${E}.to[0].domainNames[0]: "localhost" is not a domain name (two or more DNS labels, optionally after "*.")`,
        `${E}.to[0].domainNames[1]: "*" is not a domain name (two or more DNS labels, optionally after "*.")`,
        `${E}.to[0].domainNames[2]: "a.*.example.com" is not a domain name (two or more DNS labels, optionally after "*.")`,
        `${E}.to[0].domainNames[3]: "a b.com" is not a domain name (two or more DNS labels, optionally after "*.")`,
        `${E}.to[0].domainNames[5]: "x.io" is listed twice`,
      ],
    ),
    egress('domainNames in a Deny rule', viaEgressPeer({ domainNames: ['example.com'] }), [
      `${E}.to[0].domainNames: may only be used in Accept rules, not in a "Deny" rule`,
    ]),
    egress(
      "named port with a networks peer (the CRD's CEL rule)",
      viaEgressPeer(
        { networks: ['10.0.0.0/8'] },
        { protocols: [{ tcp: { destinationPort: { number: 80 } } }, { destinationNamedPort: 'http' }] },
      ),
      [
        `${E}.protocols[1].destinationNamedPort: "http" cannot be used in a rule with a networks, nodes or domainNames peer (they have no named ports)`,
      ],
    ),
    ingress(
      'protocols empty',
      cnpSpec({ ingress: [{ action: 'Deny', from: [{ namespaces: {} }], protocols: [] }] }),
      [`${I}.protocols: must have at least 1 item, got 0`],
    ),
    ingress('protocol neither', viaProtocol({}), [
      `${I}.protocols[0]: {} must set exactly one of tcp, udp, sctp, destinationNamedPort`,
    ]),
    ingress('NetworkPolicy habits: protocol and port', viaProtocol({ protocol: 'TCP', port: 80 }), [
      `${I}.protocols[0].protocol: unknown field`,
      `${I}.protocols[0].port: unknown field`,
      `${I}.protocols[0]: {"protocol":"TCP","port":80} must set exactly one of tcp, udp, sctp, destinationNamedPort`,
    ]),
    ingress(
      'tcp and udp in one entry',
      viaProtocol({ tcp: { destinationPort: { number: 53 } }, udp: { destinationPort: { number: 53 } } }),
      [
        `${I}.protocols[0]: {"tcp":{"destinationPort":{"number":53}},"udp":{"destinationPort":{"number":53}}} must set exactly one of tcp, udp, sctp, destinationNamedPort`,
      ],
    ),
    ingress('tcp without destinationPort', viaProtocol({ tcp: {} }), [
      `${I}.protocols[0].tcp.destinationPort: required`,
    ]),
    ingress('tcp not an object', viaProtocol({ tcp: 80 }), [
      `${I}.protocols[0].tcp: must be an object, got 80`,
    ]),
    ingress('tcp with a port field', viaProtocol({ tcp: { port: 80 } }), [
      `${I}.protocols[0].tcp.port: unknown field`,
      `${I}.protocols[0].tcp.destinationPort: required`,
    ]),
    ingress('destinationPort neither', viaTcp({}), [
      `${I}.protocols[0].tcp.destinationPort: {} must set exactly one of number, range`,
    ]),
    ingress('destinationPort both', viaTcp({ number: 80, range: { start: 80, end: 90 } }), [
      `${I}.protocols[0].tcp.destinationPort: {"number":80,"range":{"start":80,"end":90}} must set exactly one of number, range`,
    ]),
    ingress("port 0 (what Go's omitempty would hide)", viaTcp({ number: 0 }), [
      `${I}.protocols[0].tcp.destinationPort.number: 0 must be an integer from 1 to 65535`,
    ]),
    ingress('port 65536', viaTcp({ number: 65536 }), [
      `${I}.protocols[0].tcp.destinationPort.number: 65536 must be an integer from 1 to 65535`,
    ]),
    ingress('port as a string', viaTcp({ number: '80' }), [
      `${I}.protocols[0].tcp.destinationPort.number: "80" must be an integer from 1 to 65535`,
    ]),
    ingress(
      'range start equal to end (the CRD wants start < end)',
      viaTcp({ range: { start: 80, end: 80 } }),
      [`${I}.protocols[0].tcp.destinationPort.range.end: 80 must be greater than start (80)`],
    ),
    ingress('range reversed', viaTcp({ range: { start: 90, end: 80 } }), [
      `${I}.protocols[0].tcp.destinationPort.range.end: 80 must be greater than start (90)`,
    ]),
    ingress('range without end, start out of range', viaTcp({ range: { start: 0 } }), [
      `${I}.protocols[0].tcp.destinationPort.range.start: 0 must be an integer from 1 to 65535`,
      `${I}.protocols[0].tcp.destinationPort.range.end: required`,
    ]),
    ingress('range with an unknown field', viaTcp({ range: { start: 1, end: 2, step: 1 } }), [
      `${I}.protocols[0].tcp.destinationPort.range.step: unknown field`,
    ]),
    ingress('named port upper-case', viaProtocol({ destinationNamedPort: 'HTTP' }), [
      `${I}.protocols[0].destinationNamedPort: "HTTP" is not a valid port name: must contain only lowercase letters, digits and hyphens, must contain at least one letter (a-z)`,
    ]),
    ingress('named port empty', viaProtocol({ destinationNamedPort: '' }), [
      `${I}.protocols[0].destinationNamedPort: "" is not a valid port name: must contain only lowercase letters, digits and hyphens, must contain at least one letter (a-z)`,
    ]),
    ingress('named port a number', viaProtocol({ destinationNamedPort: 8080 }), [
      `${I}.protocols[0].destinationNamedPort: 8080 must be a port name`,
    ]),
  ];
}

describe('parseClusterNetworkPolicy: invalid peers and protocols', () => {
  for (const c of cases()) {
    it(c.name, () => {
      const want = c.accept
        ? makeCnp('p', { problems: c.problems, notProgrammed: [DOMAINS_NOT_PROGRAMMED] })
        : makeCnp('p', { [c.dir]: [denyAny()], problems: c.problems });
      assert.deepStrictEqual(parseClusterNetworkPolicy(cnpDoc(c.spec)), want);
    });
  }
  it('domainNames in an Accept rule that is otherwise broken: dropped, but still noted as not programmed', () => {
    const spec = cnpSpec({ egress: [{ action: 'Accept', to: [{ domainNames: ['example.com'] }, {}] }] });
    assert.deepStrictEqual(
      parseClusterNetworkPolicy(cnpDoc(spec)),
      makeCnp('p', {
        problems: [`${E}.to[1]: {} must set exactly one of namespaces, pods, nodes, networks, domainNames`],
        notProgrammed: [DOMAINS_NOT_PROGRAMMED],
      }),
    );
  });
});
