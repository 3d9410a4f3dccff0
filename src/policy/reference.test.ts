import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Flow } from '../model/cluster.js';
import type { LabelSelector, NetworkPolicy, PolicyPeer, PolicyPort } from '../model/network-policy.js';
import { evaluateFlow, type Verdict } from './reference.js';
import { referenceSelectorMatches } from './reference-labels.js';
import {
  BASE,
  expr,
  flow,
  ipBlock,
  namespaces,
  pods,
  podsIn,
  policy,
  port,
  rule,
  sel,
} from './reference-testkit.js';

type D = readonly [allowed: boolean, reason: string];
const OPEN: D = [true, 'not isolated'];
const NOT_POD: D = [true, 'not a pod'];
const allowedBy = (origin: string): D => [true, `allowed by ${origin}`];
const isolatedBy = (...keys: string[]): D => [false, `isolated by ${keys.join(', ')}; no rule allows`];

interface Case {
  readonly name: string;
  readonly policies: readonly NetworkPolicy[];
  readonly flow: Flow;
  readonly egress: D;
  readonly ingress: D;
}

// Policies the cases share.
const denyIn = policy('shop', 'default-deny');
const denyOut = policy('shop', 'deny-egress', { policyTypes: ['Egress'] });
const denyBoth = policy('shop', 'deny-all', { policyTypes: ['Ingress', 'Egress'] });
/** shop/db accepts only what one ingress rule with these peers and ports allows. */
const dbFrom = (name: string, peers: PolicyPeer[], ports: PolicyPort[] = []) =>
  policy('shop', name, { podSelector: sel({ app: 'db' }), ingress: [rule(peers, ports)] });
/** shop/web may send only what one egress rule with these peers and ports allows. */
const webTo = (name: string, peers: PolicyPeer[], ports: PolicyPort[] = []) =>
  policy('shop', name, {
    podSelector: sel({ app: 'web' }),
    policyTypes: ['Egress'],
    egress: [rule(peers, ports)],
  });

const basics: Case[] = [
  {
    name: 'no policies: allowed',
    policies: [],
    flow: flow('shop/web', 'shop/api'),
    egress: OPEN,
    ingress: OPEN,
  },
  {
    name: 'default deny ingress denies another namespace',
    policies: [denyIn],
    flow: flow('billing/client', 'shop/api', 8080),
    egress: OPEN,
    ingress: isolatedBy('shop/default-deny'),
  },
  {
    name: 'default deny ingress denies the same namespace',
    policies: [denyIn],
    flow: flow('shop/web', 'shop/api', 8080),
    egress: OPEN,
    ingress: isolatedBy('shop/default-deny'),
  },
  {
    name: 'default deny ingress leaves egress open',
    policies: [denyIn],
    flow: flow('shop/web', 'billing/web'),
    egress: OPEN,
    ingress: OPEN,
  },
  {
    name: 'default deny egress',
    policies: [denyOut],
    flow: flow('shop/web', 'billing/web'),
    egress: isolatedBy('shop/deny-egress'),
    ingress: OPEN,
  },
  {
    name: 'default deny egress leaves ingress open',
    policies: [denyOut],
    flow: flow('billing/client', 'shop/web'),
    egress: OPEN,
    ingress: OPEN,
  },
  {
    name: 'deny both: a flow inside the namespace fails both ways',
    policies: [denyBoth],
    flow: flow('shop/web', 'shop/db', 5432),
    egress: isolatedBy('shop/deny-all'),
    ingress: isolatedBy('shop/deny-all'),
  },
  {
    name: 'policies of one namespace do not touch pods of another',
    policies: [policy('billing', 'default-deny', { policyTypes: ['Ingress', 'Egress'] })],
    flow: flow('shop/web', 'shop/api', 8080),
    egress: OPEN,
    ingress: OPEN,
  },
  {
    name: 'a policy selecting other pods does not isolate this one',
    policies: [dbFrom('db-only', [])],
    flow: flow('billing/client', 'shop/api', 8080),
    egress: OPEN,
    ingress: OPEN,
  },
  {
    name: 'allow from same-namespace pods (podSelector {})',
    policies: [denyIn, dbFrom('same-ns', [pods(sel())])],
    flow: flow('shop/web', 'shop/db', 5432),
    egress: OPEN,
    ingress: allowedBy('shop/same-ns ingress[0]'),
  },
  {
    name: 'podSelector peer names pods of the policy namespace only',
    policies: [dbFrom('same-ns', [pods(sel())])],
    flow: flow('billing/client', 'shop/db', 5432),
    egress: OPEN,
    ingress: isolatedBy('shop/same-ns'),
  },
  {
    name: 'empty from allows every source, outside ones too',
    policies: [dbFrom('from-anywhere', [])],
    flow: flow('192.0.2.9', 'shop/db', 5432),
    egress: NOT_POD,
    ingress: allowedBy('shop/from-anywhere ingress[0]'),
  },
  {
    name: 'no ingress rules allow nothing (contrast with empty from)',
    policies: [policy('shop', 'no-rules', { podSelector: sel({ app: 'db' }) })],
    flow: flow('192.0.2.9', 'shop/db', 5432),
    egress: NOT_POD,
    ingress: isolatedBy('shop/no-rules'),
  },
  {
    name: 'Egress-only policy ignores its ingress rules and does not isolate ingress',
    policies: [
      policy('shop', 'egress-only', { policyTypes: ['Egress'], ingress: [rule([ipBlock('1.2.3.4/32')])] }),
    ],
    flow: flow('billing/client', 'shop/db', 5432),
    egress: OPEN,
    ingress: OPEN,
  },
  {
    name: 'Ingress-only policy ignores its egress rules and does not isolate egress',
    policies: [policy('shop', 'ingress-only', { egress: [rule([ipBlock('1.2.3.4/32')])] })],
    flow: flow('shop/web', 'billing/web'),
    egress: OPEN,
    ingress: OPEN,
  },
];

const selectors: Case[] = [
  ...(
    [
      ['In matches', expr('app', 'In', 'web', 'cache'), 'shop/web', true],
      ['In rejects', expr('app', 'In', 'web', 'cache'), 'shop/api', false],
      ['NotIn matches a pod without the key', expr('tier', 'NotIn', 'back'), 'shop/cache', true],
      ['NotIn rejects a listed value', expr('tier', 'NotIn', 'back'), 'shop/api', false],
      ['Exists matches', expr('tier', 'Exists'), 'shop/web', true],
      ['Exists rejects a pod without the key', expr('tier', 'Exists'), 'shop/cache', false],
      ['DoesNotExist matches', expr('tier', 'DoesNotExist'), 'shop/cache', true],
      ['DoesNotExist rejects', expr('tier', 'DoesNotExist'), 'shop/web', false],
    ] as const
  ).map(
    ([name, e, src, ok]): Case => ({
      name: `podSelector ${e.operator}: ${name}`,
      policies: [dbFrom('expr', [pods(sel({}, e))])],
      flow: flow(src, 'shop/db', 5432),
      egress: OPEN,
      ingress: ok ? allowedBy('shop/expr ingress[0]') : isolatedBy('shop/expr'),
    }),
  ),
  {
    name: 'matchLabels and matchExpressions must both hold',
    policies: [dbFrom('both', [pods(sel({ app: 'web' }, expr('tier', 'In', 'back')))])],
    flow: flow('shop/web', 'shop/db', 5432),
    egress: OPEN,
    ingress: isolatedBy('shop/both'),
  },
  {
    name: 'the policy podSelector uses expressions too (NotIn db leaves db open)',
    policies: [policy('shop', 'not-db', { podSelector: sel({}, expr('app', 'NotIn', 'db')) })],
    flow: flow('billing/client', 'shop/db', 5432),
    egress: OPEN,
    ingress: OPEN,
  },
  {
    name: 'namespaceSelector only: a pod of a matching namespace',
    policies: [dbFrom('team-a', [namespaces(sel({ team: 'a' }))])],
    flow: flow('ops/client', 'shop/db', 5432),
    egress: OPEN,
    ingress: allowedBy('shop/team-a ingress[0]'),
  },
  {
    name: 'namespaceSelector only: a pod of another namespace',
    policies: [dbFrom('team-a', [namespaces(sel({ team: 'a' }))])],
    flow: flow('billing/client', 'shop/db', 5432),
    egress: OPEN,
    ingress: isolatedBy('shop/team-a'),
  },
  {
    name: 'namespaceSelector by kubernetes.io/metadata.name',
    policies: [dbFrom('from-ops', [namespaces(sel({ 'kubernetes.io/metadata.name': 'ops' }))])],
    flow: flow('ops/client', 'shop/db', 5432),
    egress: OPEN,
    ingress: allowedBy('shop/from-ops ingress[0]'),
  },
  {
    name: 'a namespace missing from the state has no labels',
    policies: [dbFrom('team-a', [namespaces(sel({ team: 'a' }))])],
    flow: flow('ghost/stray', 'shop/db', 5432),
    egress: OPEN,
    ingress: isolatedBy('shop/team-a'),
  },
  {
    name: 'an empty namespaceSelector matches every pod, even of an unknown namespace',
    policies: [dbFrom('all-ns', [namespaces(sel())])],
    flow: flow('ghost/stray', 'shop/db', 5432),
    egress: OPEN,
    ingress: allowedBy('shop/all-ns ingress[0]'),
  },
  {
    name: 'ONE peer with both selectors: role=client in team=a namespaces',
    policies: [dbFrom('and', [podsIn(sel({ team: 'a' }), sel({ role: 'client' }))])],
    flow: flow('ops/client', 'shop/db', 5432),
    egress: OPEN,
    ingress: allowedBy('shop/and ingress[0]'),
  },
  {
    name: 'ONE peer with both selectors: role=client in a team=b namespace is denied',
    policies: [dbFrom('and', [podsIn(sel({ team: 'a' }), sel({ role: 'client' }))])],
    flow: flow('billing/client', 'shop/db', 5432),
    egress: OPEN,
    ingress: isolatedBy('shop/and'),
  },
  {
    name: 'ONE peer with both selectors (AND): a team=a pod without role=client is denied',
    policies: [dbFrom('and', [podsIn(sel({ team: 'a' }), sel({ role: 'client' }))])],
    flow: flow('shop/web', 'shop/db', 5432),
    egress: OPEN,
    ingress: isolatedBy('shop/and'),
  },
  {
    name: 'TWO peers (OR): the same team=a pod is allowed by the namespaceSelector',
    policies: [dbFrom('or', [namespaces(sel({ team: 'a' })), pods(sel({ role: 'client' }))])],
    flow: flow('shop/web', 'shop/db', 5432),
    egress: OPEN,
    ingress: allowedBy('shop/or ingress[0]'),
  },
  {
    name: 'TWO peers (OR): role=client of a team=b namespace matches neither',
    policies: [dbFrom('or', [namespaces(sel({ team: 'a' })), pods(sel({ role: 'client' }))])],
    flow: flow('billing/client', 'shop/db', 5432),
    egress: OPEN,
    ingress: isolatedBy('shop/or'),
  },
];

const blocks: Case[] = [
  ...(
    [
      ['203.0.113.5', true],
      ['203.0.113.127', true],
      ['203.0.113.128', false],
      ['203.0.113.255', false],
      ['203.0.114.1', false],
    ] as const
  ).map(
    ([src, ok]): Case => ({
      name: `ipBlock 203.0.113.0/24 except .128/25: ${src} ${ok ? 'allowed' : 'denied'}`,
      policies: [dbFrom('block', [ipBlock('203.0.113.0/24', '203.0.113.128/25')])],
      flow: flow(src, 'shop/db', 5432),
      egress: NOT_POD,
      ingress: ok ? allowedBy('shop/block ingress[0]') : isolatedBy('shop/block'),
    }),
  ),
  {
    name: 'ipBlock matches a pod IP',
    policies: [dbFrom('node-1-pods', [ipBlock('10.244.1.0/24')])],
    flow: flow('shop/web', 'shop/db', 5432),
    egress: OPEN,
    ingress: allowedBy('shop/node-1-pods ingress[0]'),
  },
  {
    name: 'ipBlock does not match a pod outside it',
    policies: [dbFrom('node-1-pods', [ipBlock('10.244.1.0/24')])],
    flow: flow('billing/web', 'shop/db', 5432),
    egress: OPEN,
    ingress: isolatedBy('shop/node-1-pods'),
  },
  {
    name: 'IPv4 ipBlock 0.0.0.0/0 does not match an IPv6 source',
    policies: [
      policy('shop', 'v4-any', { podSelector: sel({ app: 'sig' }), ingress: [rule([ipBlock('0.0.0.0/0')])] }),
    ],
    flow: flow('2001:db8::1', 'shop/sig@6', 3868, 'SCTP'),
    egress: NOT_POD,
    ingress: isolatedBy('shop/v4-any'),
  },
  {
    name: 'IPv6 ipBlock matches an IPv6 source of a dual-stack pod',
    policies: [
      policy('shop', 'v6', { podSelector: sel({ app: 'sig' }), ingress: [rule([ipBlock('2001:db8::/32')])] }),
    ],
    flow: flow('2001:db8::1', 'shop/sig@6', 3868, 'SCTP'),
    egress: NOT_POD,
    ingress: allowedBy('shop/v6 ingress[0]'),
  },
  {
    name: 'egress to an outside IP via ipBlock and port',
    policies: [webTo('to-api', [ipBlock('203.0.113.0/24')], [port(443)])],
    flow: flow('shop/web', '203.0.113.10', 443),
    egress: allowedBy('shop/to-api egress[0]'),
    ingress: NOT_POD,
  },
  {
    name: 'egress to an outside IP outside the ipBlock',
    policies: [webTo('to-api', [ipBlock('203.0.113.0/24')], [port(443)])],
    flow: flow('shop/web', '198.51.100.1', 443),
    egress: isolatedBy('shop/to-api'),
    ingress: NOT_POD,
  },
  {
    name: 'egress to a pod via podSelector',
    policies: [webTo('to-db', [pods(sel({ app: 'db' }))])],
    flow: flow('shop/web', 'shop/db', 5432),
    egress: allowedBy('shop/to-db egress[0]'),
    ingress: OPEN,
  },
];

const ports: Case[] = [
  ...(
    [
      [5432, true],
      [5433, false],
    ] as const
  ).map(
    ([dstPort, ok]): Case => ({
      name: `numeric port 5432: TCP ${dstPort} ${ok ? 'allowed' : 'denied'}`,
      policies: [dbFrom('pg', [], [port(5432)])],
      flow: flow('shop/web', 'shop/db', dstPort),
      egress: OPEN,
      ingress: ok ? allowedBy('shop/pg ingress[0]') : isolatedBy('shop/pg'),
    }),
  ),
  ...(
    [
      [7999, false],
      [8000, true],
      [8080, true],
      [8081, false],
    ] as const
  ).map(
    ([dstPort, ok]): Case => ({
      name: `endPort range 8000-8080: ${dstPort} ${ok ? 'allowed' : 'denied'}`,
      policies: [dbFrom('range', [], [port(8000, { endPort: 8080 })])],
      flow: flow('shop/web', 'shop/db', dstPort),
      egress: OPEN,
      ingress: ok ? allowedBy('shop/range ingress[0]') : isolatedBy('shop/range'),
    }),
  ),
  {
    name: 'protocol mismatch: a UDP port does not admit TCP',
    policies: [dbFrom('udp', [], [port(5432, { protocol: 'UDP' })])],
    flow: flow('shop/web', 'shop/db', 5432, 'TCP'),
    egress: OPEN,
    ingress: isolatedBy('shop/udp'),
  },
  {
    name: 'a port without protocol is TCP in the parsed model: UDP is denied',
    policies: [dbFrom('pg', [], [port(5432)])],
    flow: flow('shop/web', 'shop/db', 5432, 'UDP'),
    egress: OPEN,
    ingress: isolatedBy('shop/pg'),
  },
  {
    name: 'protocol without port admits every port of that protocol',
    policies: [dbFrom('any-udp', [], [port(undefined, { protocol: 'UDP' })])],
    flow: flow('shop/web', 'shop/db', 65535, 'UDP'),
    egress: OPEN,
    ingress: allowedBy('shop/any-udp ingress[0]'),
  },
  {
    name: 'protocol without port still requires the protocol',
    policies: [dbFrom('any-udp', [], [port(undefined, { protocol: 'UDP' })])],
    flow: flow('shop/web', 'shop/db', 5432, 'TCP'),
    egress: OPEN,
    ingress: isolatedBy('shop/any-udp'),
  },
  {
    name: 'rule needs peer AND port: right peer, wrong port',
    policies: [dbFrom('web-pg', [pods(sel({ app: 'web' }))], [port(5432)])],
    flow: flow('shop/web', 'shop/db', 22),
    egress: OPEN,
    ingress: isolatedBy('shop/web-pg'),
  },
  {
    name: 'rule needs peer AND port: right port, wrong peer',
    policies: [dbFrom('web-pg', [pods(sel({ app: 'web' }))], [port(5432)])],
    flow: flow('shop/api', 'shop/db', 5432),
    egress: OPEN,
    ingress: isolatedBy('shop/web-pg'),
  },
  ...(
    [
      ['shop/web', 80, true],
      ['shop/web', 8080, false],
      ['shop/api', 8080, true],
      ['shop/api', 80, false],
    ] as const
  ).map(
    ([dst, dstPort, ok]): Case => ({
      name: `named port "http" resolves per pod: ${dst}:${dstPort} ${ok ? 'allowed' : 'denied'}`,
      policies: [
        policy('shop', 'http', {
          podSelector: sel({}, expr('app', 'In', 'web', 'api')),
          ingress: [rule([], [port('http')])],
        }),
      ],
      flow: flow('billing/client', dst, dstPort),
      egress: OPEN,
      ingress: ok ? allowedBy('shop/http ingress[0]') : isolatedBy('shop/http'),
    }),
  ),
  {
    name: 'named port with the wrong protocol: TCP "dns" does not find the UDP port',
    policies: [policy('shop', 'dns', { ingress: [rule([], [port('dns')])] })],
    flow: flow('shop/web', 'shop/api', 53, 'TCP'),
    egress: OPEN,
    ingress: isolatedBy('shop/dns'),
  },
  {
    name: 'named port with the right protocol: UDP "dns"',
    policies: [policy('shop', 'dns', { ingress: [rule([], [port('dns', { protocol: 'UDP' })])] })],
    flow: flow('shop/web', 'shop/api', 53, 'UDP'),
    egress: OPEN,
    ingress: allowedBy('shop/dns ingress[0]'),
  },
  {
    name: 'named port on egress resolves on the destination pod (api http = 8080)',
    policies: [webTo('to-http', [], [port('http')])],
    flow: flow('shop/web', 'shop/api', 8080),
    egress: allowedBy('shop/to-http egress[0]'),
    ingress: OPEN,
  },
  {
    name: "named port on egress: the source pod's own http (80) does not count",
    policies: [webTo('to-http', [], [port('http')])],
    flow: flow('shop/web', 'shop/api', 80),
    egress: isolatedBy('shop/to-http'),
    ingress: OPEN,
  },
  {
    name: 'named port never matches a non-pod destination',
    policies: [webTo('to-http', [], [port('http')])],
    flow: flow('shop/web', '203.0.113.10', 80),
    egress: isolatedBy('shop/to-http'),
    ingress: NOT_POD,
  },
  {
    name: 'SCTP port admits SCTP',
    policies: [policy('shop', 'sctp', { ingress: [rule([], [port(3868, { protocol: 'SCTP' })])] })],
    flow: flow('shop/web', 'shop/sig', 3868, 'SCTP'),
    egress: OPEN,
    ingress: allowedBy('shop/sctp ingress[0]'),
  },
  {
    name: 'SCTP port does not admit TCP',
    policies: [policy('shop', 'sctp', { ingress: [rule([], [port(3868, { protocol: 'SCTP' })])] })],
    flow: flow('shop/web', 'shop/sig', 3868, 'TCP'),
    egress: OPEN,
    ingress: isolatedBy('shop/sctp'),
  },
  {
    name: 'SCTP named port',
    policies: [policy('shop', 'sctp', { ingress: [rule([], [port('diameter', { protocol: 'SCTP' })])] })],
    flow: flow('shop/web', 'shop/sig', 3868, 'SCTP'),
    egress: OPEN,
    ingress: allowedBy('shop/sctp ingress[0]'),
  },
];

const broken = policy('shop', 'broken', {
  policyTypes: ['Ingress', 'Egress'],
  problems: ['spec.ingress[0].from[0].ipBlock.cidr: "10.0.0.1/8" has host bits set'],
});
const webToDb = webTo('web-to-db', [pods(sel({ app: 'db' }))]);

const union: Case[] = [
  {
    name: 'union: the policy that allows is named, the other only isolates',
    policies: [denyIn, dbFrom('from-web', [pods(sel({ app: 'web' }))])],
    flow: flow('shop/web', 'shop/db', 5432),
    egress: OPEN,
    ingress: allowedBy('shop/from-web ingress[0]'),
  },
  {
    name: 'union: two allow policies, each allows its own source',
    policies: [
      dbFrom('from-web', [pods(sel({ app: 'web' }))]),
      dbFrom('from-cache', [pods(sel({ app: 'cache' }))]),
    ],
    flow: flow('shop/cache', 'shop/db', 5432),
    egress: OPEN,
    ingress: allowedBy('shop/from-cache ingress[0]'),
  },
  {
    name: 'union: denied when no policy allows, every isolating policy named in order',
    policies: [
      dbFrom('from-web', [pods(sel({ app: 'web' }))]),
      denyIn,
      dbFrom('from-cache', [pods(sel({ app: 'cache' }))]),
    ],
    flow: flow('shop/api', 'shop/db', 5432),
    egress: OPEN,
    ingress: isolatedBy('shop/default-deny', 'shop/from-cache', 'shop/from-web'),
  },
  {
    name: 'union: when several allow, the first by name is named whatever the state order',
    policies: [dbFrom('b-all', []), dbFrom('a-all', [])],
    flow: flow('shop/web', 'shop/db', 5432),
    egress: OPEN,
    ingress: allowedBy('shop/a-all ingress[0]'),
  },
  {
    name: 'the reason names the index of the first rule that matches',
    policies: [
      policy('shop', 'three', {
        podSelector: sel({ app: 'db' }),
        ingress: [
          rule([pods(sel({ app: 'api' }))]),
          rule([], [port(1)]),
          rule([pods(sel({ app: 'web' }))]),
          rule(),
        ],
      }),
    ],
    flow: flow('shop/web', 'shop/db', 5432),
    egress: OPEN,
    ingress: allowedBy('shop/three ingress[2]'),
  },
  {
    name: 'a broken policy (problems, no rules) isolates ingress',
    policies: [broken],
    flow: flow('billing/client', 'shop/db', 5432),
    egress: OPEN,
    ingress: isolatedBy('shop/broken'),
  },
  {
    name: 'a broken policy (problems, no rules) isolates egress',
    policies: [broken],
    flow: flow('shop/web', 'billing/web'),
    egress: isolatedBy('shop/broken'),
    ingress: OPEN,
  },
  {
    name: 'a broken policy allows nothing, but a sound one still allows',
    policies: [broken, webToDb, dbFrom('from-web', [pods(sel({ app: 'web' }))])],
    flow: flow('shop/web', 'shop/db', 5432),
    egress: allowedBy('shop/web-to-db egress[0]'),
    ingress: allowedBy('shop/from-web ingress[0]'),
  },
  {
    name: 'both directions must allow: egress allows, ingress denies',
    policies: [webToDb, denyIn],
    flow: flow('shop/web', 'shop/db', 5432),
    egress: allowedBy('shop/web-to-db egress[0]'),
    ingress: isolatedBy('shop/default-deny'),
  },
];

const ends: Case[] = [
  {
    name: 'node to its own pod is allowed under default deny',
    policies: [denyBoth],
    flow: flow('node-1', 'shop/web'),
    egress: NOT_POD,
    ingress: [true, 'node to its own pod'],
  },
  {
    name: "node to its own pod by the node's IPv6 address",
    policies: [denyBoth],
    flow: { srcIp: 'fd00:198:18:0:0:0:0:1', dstIp: '10.244.1.1', protocol: 'TCP', dstPort: 80 },
    egress: NOT_POD,
    ingress: [true, 'node to its own pod'],
  },
  {
    name: 'node to a pod on another node is denied under default deny ingress',
    policies: [denyIn],
    flow: flow('node-2', 'shop/web'),
    egress: NOT_POD,
    ingress: isolatedBy('shop/default-deny'),
  },
  {
    name: 'node to a pod on another node is allowed by an ipBlock holding the node IP',
    policies: [policy('shop', 'nodes', { ingress: [rule([ipBlock('198.18.0.0/15')])] })],
    flow: flow('node-2', 'shop/web'),
    egress: NOT_POD,
    ingress: allowedBy('shop/nodes ingress[0]'),
  },
  {
    name: 'a node is not a pod: an empty namespaceSelector does not match it',
    policies: [policy('shop', 'all-pods', { ingress: [rule([namespaces(sel())])] })],
    flow: flow('node-2', 'shop/web'),
    egress: NOT_POD,
    ingress: isolatedBy('shop/all-pods'),
  },
  {
    name: 'pod to its own node is allowed under default deny egress',
    policies: [denyBoth],
    flow: flow('shop/web', 'node-1', 10250),
    egress: [true, 'pod to its own node'],
    ingress: NOT_POD,
  },
  {
    name: 'pod to another node is denied under default deny egress',
    policies: [denyOut],
    flow: flow('shop/web', 'node-2', 10250),
    egress: isolatedBy('shop/deny-egress'),
    ingress: NOT_POD,
  },
  {
    name: 'an address shared by a node and a hostNetwork pod is the node',
    policies: [denyIn, policy('kube-system', 'deny', { policyTypes: ['Ingress', 'Egress'] })],
    flow: flow('kube-system/host-agent', 'shop/web'),
    egress: NOT_POD,
    ingress: [true, 'node to its own pod'],
  },
  {
    name: 'a pod cannot block access to itself',
    policies: [denyBoth],
    flow: flow('shop/web', 'shop/web'),
    egress: [true, 'pod to itself'],
    ingress: [true, 'pod to itself'],
  },
  {
    name: 'unknown source under default deny: denied',
    policies: [denyIn],
    flow: flow('192.0.2.9', 'shop/web'),
    egress: NOT_POD,
    ingress: isolatedBy('shop/default-deny'),
  },
  {
    name: 'unknown source with no policies: allowed',
    policies: [],
    flow: flow('192.0.2.9', 'shop/web'),
    egress: NOT_POD,
    ingress: OPEN,
  },
  {
    name: 'neither end a pod: nothing to decide',
    policies: [denyBoth],
    flow: flow('192.0.2.9', 'node-1'),
    egress: NOT_POD,
    ingress: NOT_POD,
  },
  {
    name: 'a pod without IP is never an endpoint, nor a peer',
    policies: [dbFrom('from-web', [pods(sel({ app: 'web', tier: 'front' }))])],
    flow: flow('', 'shop/db', 5432),
    egress: NOT_POD,
    ingress: isolatedBy('shop/from-web'),
  },
  {
    name: 'a dual-stack pod is found by its IPv6 address, written any way',
    policies: [denyOut],
    flow: { srcIp: 'FD00:10:244:2:0:0:0:7', dstIp: '203.0.113.1', protocol: 'TCP', dstPort: 443 },
    egress: isolatedBy('shop/deny-egress'),
    ingress: NOT_POD,
  },
  {
    name: 'an unparsable address is an outside end and matches no ipBlock',
    policies: [dbFrom('anywhere-v4', [ipBlock('0.0.0.0/0')])],
    flow: flow('not-an-ip', 'shop/db', 5432),
    egress: NOT_POD,
    ingress: isolatedBy('shop/anywhere-v4'),
  },
];

function run(cases: readonly Case[]): void {
  for (const c of cases) {
    it(c.name, () => {
      const got = evaluateFlow({ ...BASE, policies: c.policies }, c.flow);
      const want: Omit<Verdict, 'host'> = {
        allowed: c.egress[0] && c.ingress[0],
        egress: { allowed: c.egress[0], reason: c.egress[1] },
        ingress: { allowed: c.ingress[0], reason: c.ingress[1] },
      };
      const { host, ...rest } = got;
      assert.deepStrictEqual(rest, want);
      assert.equal(host.allowed, true, 'no host endpoint in these clusters');
    });
  }
}

describe('evaluateFlow: isolation', () => run(basics));
describe('evaluateFlow: selectors', () => run(selectors));
describe('evaluateFlow: ipBlock', () => run(blocks));
describe('evaluateFlow: ports', () => run(ports));
describe('evaluateFlow: union and broken policies', () => run(union));
describe('evaluateFlow: nodes, self and unknown ends', () => run(ends));

describe('referenceSelectorMatches', () => {
  const labels = { app: 'web', tier: 'front' };
  const cases: [string, LabelSelector, boolean][] = [
    ['empty selector', sel(), true],
    ['matchLabels equal', sel({ app: 'web' }), true],
    ['matchLabels every pair', sel({ app: 'web', tier: 'back' }), false],
    ['matchLabels absent key', sel({ role: 'x' }), false],
    ['matchLabels empty value is not absence', sel({ role: '' }), false],
    ['In', sel({}, expr('tier', 'In', 'back', 'front')), true],
    ['In absent key', sel({}, expr('role', 'In', 'front')), false],
    ['NotIn listed', sel({}, expr('tier', 'NotIn', 'front')), false],
    ['NotIn unlisted', sel({}, expr('tier', 'NotIn', 'back')), true],
    ['NotIn absent key', sel({}, expr('role', 'NotIn', 'x')), true],
    ['Exists', sel({}, expr('app', 'Exists')), true],
    ['Exists absent', sel({}, expr('role', 'Exists')), false],
    ['DoesNotExist', sel({}, expr('role', 'DoesNotExist')), true],
    ['DoesNotExist present', sel({}, expr('app', 'DoesNotExist')), false],
    ['every expression', sel({}, expr('app', 'Exists'), expr('tier', 'In', 'back')), false],
    ['inherited keys are not labels', sel({}, expr('constructor', 'Exists')), false],
    ['inherited keys are absent', sel({}, expr('toString', 'DoesNotExist')), true],
    // Out of contract (the API server rejects them): such a requirement matches nothing.
    ['In without values', sel({}, expr('app', 'In')), false],
    ['NotIn without values', sel({}, expr('app', 'NotIn')), false],
    ['Exists with values', sel({}, expr('app', 'Exists', 'web')), false],
  ];
  for (const [name, s, want] of cases) {
    it(name, () => assert.equal(referenceSelectorMatches(s, labels), want));
  }
});

describe('evaluateFlow: totality', () => {
  const odd: NetworkPolicy[] = [
    dbFrom('bad-cidr', [ipBlock('not-a-cidr')]),
    dbFrom('bad-except', [ipBlock('0.0.0.0/0', '10.0.0.0/99')]),
    dbFrom('empty-peer', [{}]),
    dbFrom('ipblock-and-selector', [{ ipBlock: { cidr: '0.0.0.0/0', except: [] }, podSelector: sel() }]),
    dbFrom('endport-without-port', [], [{ protocol: 'TCP', endPort: 6000 }]),
    dbFrom('named-with-endport', [], [{ protocol: 'TCP', port: 'http', endPort: 90 }]),
    dbFrom('endport-below-port', [], [port(5432, { endPort: 5000 })]),
  ];
  it('out-of-contract rules match nothing (fail closed) and never throw', () => {
    for (const [src, dstPort] of [
      ['shop/web', 5432],
      ['10.0.0.1', 5432],
      ['shop/web', 80],
    ] as const) {
      const got = evaluateFlow({ ...BASE, policies: odd }, flow(src, 'shop/db', dstPort));
      assert.equal(
        got.ingress.reason,
        `isolated by ${odd
          .map((p) => `shop/${p.name}`)
          .sort()
          .join(', ')}; no rule allows`,
      );
    }
  });

  const all = [...basics, ...selectors, ...blocks, ...ports, ...union, ...ends].flatMap((c) => c.policies);
  const ips = [
    ...BASE.pods.flatMap((p) => p.ips),
    ...BASE.nodes.flatMap((n) => n.ips),
    '203.0.113.200',
    '2001:db8::9',
    '',
    'junk',
  ];
  it('decides every pair of ends under every case policy at once, whatever the policy order', () => {
    const forward = { ...BASE, policies: all };
    const backward = { ...BASE, policies: [...all].reverse() };
    let count = 0;
    for (const srcIp of ips) {
      for (const dstIp of ips) {
        for (const protocol of ['TCP', 'UDP', 'SCTP'] as const) {
          const f: Flow = { srcIp, dstIp, protocol, dstPort: 80 };
          const got = evaluateFlow(forward, f);
          assert.equal(got.allowed, got.egress.allowed && got.ingress.allowed);
          assert.deepStrictEqual(evaluateFlow(backward, f), got);
          count++;
        }
      }
    }
    assert.equal(count, ips.length * ips.length * 3);
  });
});
