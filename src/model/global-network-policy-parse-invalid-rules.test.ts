// Invalid GlobalNetworkPolicy rules and entity rules: the exact problems (path and value), and what the rule
// becomes in the failed policy — a Deny rule that did not parse whole becomes a Deny of everything, an Allow,
// Pass or Log rule is dropped whatever else is wrong with it, a whole Deny rule is kept as it is.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { GlobalPolicyRule } from './global-network-policy.js';
import { parseGlobalNetworkPolicy } from './global-network-policy-parse.js';
import { DENY_ALL, entity, gnpDoc, makeGnp, rule } from './global-network-policy-parse.testkit.js';

interface Case {
  readonly name: string;
  readonly rule: Record<string, unknown>;
  readonly problems: readonly string[];
  /** The ingress the failed policy enforces (default: one Deny of everything). */
  readonly enforced?: readonly GlobalPolicyRule[];
}

const R = 'spec.ingress[0]';
const deny = (fields: Record<string, unknown>) => ({ action: 'Deny', ...fields });
const tcp = (fields: Record<string, unknown>) => deny({ protocol: 'TCP', ...fields });
const ANY_PROTOCOL = 'must be one of TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or a number from 1 to 255';

const RULE_CASES: Case[] = [
  { name: 'action missing', rule: {}, problems: [`${R}.action: required`] },
  {
    name: 'action lower-case',
    rule: { action: 'deny' },
    problems: [`${R}.action: "deny" must be one of Allow, Deny, Pass, Log`],
  },
  { name: 'unknown rule field', rule: deny({ ports: [80] }), problems: [`${R}.ports: unknown field`] },
  {
    name: 'http (not supported)',
    rule: deny({ http: { methods: ['GET'] } }),
    problems: [`${R}.http: {"methods":["GET"]} is not supported by Palisade`],
  },
  {
    name: 'an Allow rule with a problem is dropped (its ports are not also blamed on the broken protocol)',
    rule: { action: 'Allow', protocol: 'tcp', destination: { ports: [80] } },
    problems: [`${R}.protocol: "tcp" ${ANY_PROTOCOL}`],
    enforced: [],
  },
  {
    name: 'a broken Pass rule is dropped',
    rule: { action: 'Pass', ipVersion: 5 },
    problems: [`${R}.ipVersion: 5 must be 4 or 6`],
    enforced: [],
  },
  { name: 'protocol 0', rule: deny({ protocol: 0 }), problems: [`${R}.protocol: 0 ${ANY_PROTOCOL}`] },
  {
    name: 'protocol "256"',
    rule: deny({ protocol: '256' }),
    problems: [`${R}.protocol: "256" ${ANY_PROTOCOL}`],
  },
  {
    name: 'notProtocol fractional',
    rule: deny({ notProtocol: 6.5 }),
    problems: [`${R}.notProtocol: 6.5 ${ANY_PROTOCOL}`],
  },
  {
    name: 'ipVersion a string',
    rule: deny({ ipVersion: '4' }),
    problems: [`${R}.ipVersion: "4" must be 4 or 6`],
  },
  {
    name: 'icmp without a protocol',
    rule: deny({ icmp: { type: 8 } }),
    problems: [`${R}.icmp: {"type":8} needs protocol ICMP or ICMPv6`],
  },
  {
    name: 'icmp with TCP',
    rule: tcp({ icmp: { type: 8 } }),
    problems: [`${R}.icmp: {"type":8} needs protocol ICMP or ICMPv6, got protocol "TCP"`],
  },
  {
    name: 'icmp type 255',
    rule: deny({ protocol: 1, icmp: { type: 255 } }),
    problems: [`${R}.icmp.type: 255 must be an integer from 0 to 254`],
  },
  {
    name: 'notICMP code 256 without a type',
    rule: deny({ notICMP: { code: 256 } }),
    problems: [
      `${R}.notICMP.code: 256 must be an integer from 0 to 255`,
      `${R}.notICMP.code: 256 may only be given with a type`,
    ],
  },
  {
    name: 'icmp unknown field',
    rule: deny({ protocol: 'ICMP', icmp: { typ: 8 } }),
    problems: [`${R}.icmp.typ: unknown field`],
  },
  {
    name: 'protocol ICMP with ipVersion 6',
    rule: deny({ protocol: 'ICMP', ipVersion: 6 }),
    problems: [`${R}.ipVersion: 6 does not match protocol "ICMP" (IPv4 only)`],
  },
  {
    name: 'protocol 58 with ipVersion 4',
    rule: deny({ protocol: 58, ipVersion: 4 }),
    problems: [`${R}.ipVersion: 4 does not match protocol 58 (IPv6 only)`],
  },
  {
    name: 'notProtocol ICMPv6 with ipVersion 4',
    rule: deny({ notProtocol: 'ICMPv6', ipVersion: 4 }),
    problems: [`${R}.ipVersion: 4 does not match notProtocol "ICMPv6" (IPv6 only)`],
  },
  {
    name: 'metadata with labels',
    rule: deny({ metadata: { labels: {} } }),
    problems: [`${R}.metadata.labels: unknown field`],
  },
  {
    name: 'metadata annotation not a string',
    rule: deny({ metadata: { annotations: { a: 1 } } }),
    problems: [`${R}.metadata.annotations: {"a":1} must be a map of strings`],
  },
];

const S = `${R}.source`;
const D = `${R}.destination`;
const ENTITY_CASES: Case[] = [
  {
    name: 'source not an object',
    rule: deny({ source: ['10.0.0.0/8'] }),
    problems: [`${S}: must be an object, got ["10.0.0.0/8"]`],
  },
  {
    name: 'unknown entity field',
    rule: deny({ source: { net: '10.0.0.0/8' } }),
    problems: [`${S}.net: unknown field`],
  },
  {
    name: 'services (not supported)',
    rule: deny({ destination: { services: { name: 'web', namespace: 'a' } } }),
    problems: [`${D}.services: {"name":"web","namespace":"a"} is not supported by Palisade`],
  },
  {
    name: 'serviceAccounts (not supported)',
    rule: deny({ source: { serviceAccounts: { names: ['a'] } } }),
    problems: [`${S}.serviceAccounts: {"names":["a"]} is not supported by Palisade`],
  },
  {
    name: 'not a CIDR',
    rule: deny({ source: { nets: ['10.0.0.0/8', '10.0.0.300/8'] } }),
    problems: [`${S}.nets[1]: "10.0.0.300/8" is not a CIDR`],
  },
  {
    name: 'host bits set',
    rule: deny({ destination: { notNets: ['10.1.2.3/16'] } }),
    problems: [`${D}.notNets[0]: "10.1.2.3/16" has host bits set (the network is 10.1.0.0/16)`],
  },
  {
    name: 'nets not a list',
    rule: deny({ source: { nets: '10.0.0.0/8' } }),
    problems: [`${S}.nets: must be a list, got "10.0.0.0/8"`],
  },
  {
    name: 'nets repeated',
    rule: deny({ source: { nets: ['10.0.0.0/8', '10.0.0.0/8'] } }),
    problems: [`${S}.nets[1]: "10.0.0.0/8" is listed twice`],
  },
  {
    name: 'notNets catch-all (matches nothing)',
    rule: deny({ source: { notNets: ['::/0'] } }),
    problems: [`${S}.notNets: ["::/0"] holds a catch-all CIDR, so the rule would match no traffic`],
  },
  {
    name: '257 nets',
    rule: deny({ source: { nets: Array.from({ length: 257 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`) } }),
    problems: [`${S}.nets: must have at most 256 items, got 257`],
  },
  {
    name: 'nets of the wrong ipVersion',
    rule: deny({ ipVersion: 6, source: { nets: ['10.0.0.0/8'] } }),
    problems: [`${S}.nets: ["10.0.0.0/8"] does not match ipVersion 6`],
  },
  {
    name: 'IPv4 source and IPv6 destination',
    rule: deny({ source: { nets: ['10.0.0.0/8'] }, destination: { notNets: ['fd00::/8'] } }),
    problems: [`${D}.notNets: ["fd00::/8"] mixes IPv4 and IPv6 CIDRs in one rule`],
  },
  {
    name: 'selector broken',
    rule: deny({ source: { selector: 'a in {' } }),
    problems: [
      `${S}.selector: "a in {" is not a valid selector: at character 7: expected a quoted string, found the end`,
    ],
  },
  {
    name: 'selector with global()',
    rule: deny({ source: { selector: 'global()' } }),
    problems: [`${S}.selector: "global()" may not use global() (only an EntityRule namespaceSelector may)`],
  },
  {
    name: 'notSelector not a string',
    rule: deny({ destination: { notSelector: 1 } }),
    problems: [`${D}.notSelector: 1 must be a selector string`],
  },
  {
    name: 'namespaceSelector with global() and more',
    rule: deny({ source: { namespaceSelector: 'global() || has(a)' } }),
    problems: [`${S}.namespaceSelector: "global() || has(a)" may use global() only alone`],
  },
  {
    name: 'port 0',
    rule: tcp({ destination: { ports: [0] } }),
    problems: [`${D}.ports[0]: 0 must be a port number from 1 to 65535`],
  },
  {
    name: 'port "65536"',
    rule: tcp({ destination: { ports: ['65536'] } }),
    problems: [`${D}.ports[0]: "65536" must be a port number from 1 to 65535`],
  },
  {
    name: 'range reversed',
    rule: tcp({ destination: { notPorts: ['2000:1000'] } }),
    problems: [`${D}.notPorts[0]: "2000:1000" must be a range "from:to" of ports 1 to 65535 with from <= to`],
  },
  {
    name: 'range from 0',
    rule: tcp({ source: { ports: ['0:10'] } }),
    problems: [`${S}.ports[0]: "0:10" must be a range "from:to" of ports 1 to 65535 with from <= to`],
  },
  {
    name: 'port name with a space',
    rule: tcp({ destination: { ports: ['a b'] } }),
    problems: [`${D}.ports[0]: "a b" is not a port number, a range "from:to" or a port name`],
  },
  {
    name: 'port a boolean',
    rule: tcp({ destination: { ports: [true] } }),
    problems: [`${D}.ports[0]: true is not a port number, a range "from:to" or a port name`],
  },
  {
    name: 'numeric port without a protocol',
    rule: deny({ destination: { ports: [80, 'http'] } }),
    problems: [`${D}.ports: [80,"http"] needs protocol TCP, UDP or SCTP (numeric ports and ranges do)`],
  },
  {
    name: 'ports with ICMP',
    rule: deny({ protocol: 'ICMP', destination: { notPorts: ['http'] } }),
    problems: [
      `${D}.notPorts: ["http"] cannot be used with protocol "ICMP" (only TCP, UDP and SCTP have ports)`,
    ],
  },
  {
    name: 'ports with UDPLite (Calico: no ports)',
    rule: deny({ protocol: 'UDPLite', source: { ports: [53] } }),
    problems: [`${S}.ports: [53] cannot be used with protocol "UDPLite" (only TCP, UDP and SCTP have ports)`],
  },
  {
    name: '51 ports',
    rule: tcp({ destination: { ports: Array.from({ length: 51 }, (_, i) => i + 1) } }),
    problems: [`${D}.ports: must have at most 50 items, got 51`],
  },
];

function check(c: Case): void {
  const got = parseGlobalNetworkPolicy(gnpDoc({ ingress: [c.rule] }));
  assert.deepStrictEqual(
    got,
    makeGnp('p', { ingress: [...(c.enforced ?? [DENY_ALL])], problems: [...c.problems] }),
  );
}

describe('parseGlobalNetworkPolicy: invalid rules', () => {
  for (const c of RULE_CASES) it(c.name, () => check(c));
});

describe('parseGlobalNetworkPolicy: invalid entity rules', () => {
  for (const c of ENTITY_CASES) it(c.name, () => check(c));
});

describe('parseGlobalNetworkPolicy: one broken rule among whole ones', () => {
  it('whole Deny rules are kept as they are, the broken one denies everything, Allow and Log go', () => {
    const ingress = [
      { action: 'Allow', protocol: 'TCP' },
      { action: 'Deny', protocol: 'UDP', destination: { ports: [53] } },
      { action: 'Deny', source: { nets: ['bad'] } },
      { action: 'Log' },
    ];
    const egress = [{ action: 'Deny', destination: { nets: ['fd00::/8'] } }];
    const want = makeGnp('p', {
      types: ['Ingress', 'Egress'],
      ingress: [
        rule('Deny', {
          protocol: { kind: 'named', name: 'UDP' },
          destination: entity({ ports: [{ kind: 'range', from: 53, to: 53 }] }),
        }),
        DENY_ALL,
      ],
      egress: [rule('Deny', { destination: entity({ nets: ['fd00::/8'] }) })],
      problems: ['spec.ingress[2].source.nets[0]: "bad" is not a CIDR'],
    });
    assert.deepStrictEqual(parseGlobalNetworkPolicy(gnpDoc({ ingress, egress })), want);
  });
});
