// GlobalNetworkPolicy semantic cases, written from Calico's documentation
// (https://docs.tigera.io/calico/latest/reference/resources/globalnetworkpolicy, .../networkpolicy "Rule",
// "EntityRule", "Selectors"): order against NetworkPolicy's 1000, Pass on to Baseline, Log going on, selectors and
// their negations, nets, ports and named ports, protocols, namespace selectors, host endpoints as peers. Each
// expected verdict is stated by hand; the compiled tables (run by the IR interpreter on every node the flow
// crosses) and the reference evaluator must both give it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluatePacket } from '../ir/eval.js';
import type { ClusterState, Flow } from '../model/cluster.js';
import type { ClusterNetworkPolicy } from '../model/cluster-network-policy.js';
import type { GlobalNetworkPolicy } from '../model/global-network-policy.js';
import { parseGlobalNetworkPolicy } from '../model/global-network-policy-parse.js';
import type { HostEndpoint } from '../model/host-endpoint.js';
import { parseHostEndpoint } from '../model/host-endpoint-parse.js';
import type { NetworkPolicy } from '../model/network-policy.js';
import { compileNode } from './compile.js';
import { decideFlow, hopsOf } from './flow-path.js';
import { evaluateFlow } from './reference.js';
import { demoCluster, demoFlow as flow, makePolicy, rule, sel } from './testdata/builders.js';

/** A GlobalNetworkPolicy as a user writes it (projectcalico.org/v3), parsed; it must have no problems. */
function gnp(name: string, spec: Record<string, unknown>): GlobalNetworkPolicy {
  const p = parseGlobalNetworkPolicy({
    apiVersion: 'projectcalico.org/v3',
    kind: 'GlobalNetworkPolicy',
    metadata: { name },
    spec,
  });
  assert.deepEqual(p.problems, [], `${name} parses`);
  return p;
}

function hep(node: string, ip: string, labels: Record<string, string>): HostEndpoint {
  return parseHostEndpoint({
    apiVersion: 'crd.projectcalico.org/v1',
    kind: 'HostEndpoint',
    metadata: { name: node, labels },
    spec: { node, interfaceName: '*', expectedIPs: [ip], profiles: ['projectcalico-default-allow'] },
  });
}

const with_ = (
  globalPolicies: GlobalNetworkPolicy[],
  opts: { policies?: NetworkPolicy[]; cluster?: ClusterNetworkPolicy[]; heps?: HostEndpoint[] } = {},
): ClusterState => ({
  ...demoCluster(opts.policies ?? []),
  globalPolicies,
  clusterPolicies: opts.cluster ?? [],
  hostEndpoints: opts.heps ?? [],
});

const shopWeb = "projectcalico.org/namespace == 'shop' && app == 'web'";
const fromBilling = { namespaceSelector: "team == 'billing'" };
/** shop/web allows only shop's own pods (a NetworkPolicy, order 1000). */
const webOnlyFromShop = makePolicy('shop', 'web-only-shop', {
  podSelector: sel({ app: 'web' }),
  ingress: [rule([{ podSelector: sel() }])],
});
const allowAllToWeb = makePolicy('shop', 'allow-all', {
  podSelector: sel({ app: 'web' }),
  ingress: [rule()],
});

type Case = [name: string, state: ClusterState, flow: Flow, allowed: boolean];

const RANGE_8000_9000 = gnp('range', {
  selector: "app == 'cart'",
  ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: ['8000:9000'] } }],
});
const PASS_BILLING = gnp('pass-billing', {
  order: 10,
  selector: shopWeb,
  ingress: [{ action: 'Pass', source: fromBilling }],
});
const NOT_API = gnp('not-api', {
  selector: shopWeb,
  ingress: [{ action: 'Allow', source: { notSelector: "app == 'api'" } }],
});
const NO_HTTPS_OUT = gnp('no-https-out', {
  selector: 'all()',
  types: ['Egress'],
  egress: [
    { action: 'Deny', protocol: 'TCP', destination: { nets: ['192.0.2.0/24'], ports: [443] } },
    { action: 'Allow' },
  ],
});
const NETS_NOT_NODE_1 = gnp('nets', {
  selector: shopWeb,
  ingress: [{ action: 'Allow', source: { nets: ['10.244.0.0/16'], notNets: ['10.244.1.0/24'] } }],
});

const CASES: Case[] = [
  [
    'order below 1000: a Deny runs before the NetworkPolicy that allows',
    with_(
      [
        gnp('deny-billing', {
          order: 100,
          selector: shopWeb,
          ingress: [{ action: 'Deny', source: fromBilling }],
        }),
      ],
      {
        policies: [allowAllToWeb],
      },
    ),
    flow('api', 'web', 'TCP', 80),
    false,
  ],
  [
    'order above 1000: the NetworkPolicy that allows decides first',
    with_(
      [
        gnp('deny-billing', {
          order: 2000,
          selector: shopWeb,
          ingress: [{ action: 'Deny', source: fromBilling }],
        }),
      ],
      {
        policies: [allowAllToWeb],
      },
    ),
    flow('api', 'web', 'TCP', 80),
    true,
  ],
  [
    'one tier: a later GlobalNetworkPolicy Allow admits what the NetworkPolicy did not',
    with_(
      [
        gnp('allow-billing', {
          order: 2000,
          selector: shopWeb,
          ingress: [{ action: 'Allow', source: fromBilling }],
        }),
      ],
      {
        policies: [webOnlyFromShop],
      },
    ),
    flow('api', 'web', 'TCP', 80),
    true,
  ],
  [
    'no order: after every NetworkPolicy',
    with_([gnp('deny-all', { selector: shopWeb, ingress: [{ action: 'Deny' }] })], {
      policies: [allowAllToWeb],
    }),
    flow('api', 'web', 'TCP', 80),
    true,
  ],
  [
    'selected and no rule decides: isolated',
    with_([
      gnp('only-tcp-81', {
        selector: shopWeb,
        ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: [81] } }],
      }),
    ]),
    flow('api', 'web', 'TCP', 80),
    false,
  ],
  [
    'Pass skips the NetworkPolicy that would isolate, on to Baseline (none: allowed)',
    with_([PASS_BILLING], {
      policies: [webOnlyFromShop],
    }),
    flow('api', 'web', 'TCP', 80),
    true,
  ],
  [
    'Pass goes on to Baseline, whose Deny decides',
    with_([PASS_BILLING], {
      policies: [webOnlyFromShop],
      cluster: [
        {
          kind: 'ClusterNetworkPolicy',
          name: 'base-deny',
          tier: 'Baseline',
          priority: 1,
          subject: { kind: 'namespaces', namespaceSelector: sel({ team: 'shop' }) },
          ingress: [
            { action: 'Deny', peers: [{ kind: 'namespaces', namespaceSelector: sel() }], protocols: [] },
          ],
          egress: [],
          problems: [],
          notProgrammed: [],
        },
      ],
    }),
    flow('api', 'web', 'TCP', 80),
    false,
  ],
  [
    'Log decides nothing: the next rule does',
    with_([
      gnp('log-then-deny', {
        selector: shopWeb,
        ingress: [{ action: 'Log' }, { action: 'Deny', source: fromBilling }, { action: 'Allow' }],
      }),
    ]),
    flow('api', 'web', 'TCP', 80),
    false,
  ],
  ['notSelector: everyone but api', with_([NOT_API]), flow('cart', 'web', 'TCP', 80), true],
  ['notSelector: api itself is not admitted', with_([NOT_API]), flow('api', 'web', 'TCP', 80), false],
  [
    'selector within namespaceSelector: ledger is in billing but is not app == api',
    with_([
      gnp('api-only', {
        selector: shopWeb,
        ingress: [{ action: 'Allow', source: { selector: "app == 'api'", ...fromBilling } }],
      }),
    ]),
    flow('ledger', 'web', 'TCP', 80),
    false,
  ],
  [
    'the policy namespaceSelector limits whom it applies to: shop is not billing',
    with_([
      gnp('billing-deny-all', {
        namespaceSelector: "team == 'billing'",
        selector: 'all()',
        ingress: [{ action: 'Deny' }],
      }),
    ]),
    flow('api', 'web', 'TCP', 80),
    true,
  ],
  [
    'nets and notNets together: in 10.244.0.0/16 but not 10.244.1.0/24',
    with_([NETS_NOT_NODE_1]),
    flow('ledger', 'web', 'TCP', 80),
    true,
  ],
  [
    'nets and notNets together: a pod of 10.244.1.0/24 is not admitted',
    with_([NETS_NOT_NODE_1]),
    flow('api', 'web', 'TCP', 80),
    false,
  ],
  [
    'egress: a Deny to an outside network on 443 only',
    with_([NO_HTTPS_OUT]),
    flow('web', '192.0.2.7', 'TCP', 443),
    false,
  ],
  [
    'egress: the same policy lets port 80 out',
    with_([NO_HTTPS_OUT]),
    flow('web', '192.0.2.7', 'TCP', 80),
    true,
  ],
  [
    'a port range "8000:9000" with the protocol',
    with_([RANGE_8000_9000]),
    flow('web', 'cart', 'TCP', 8080),
    true,
  ],
  [
    'the protocol counts: UDP to a TCP-only allow',
    with_([RANGE_8000_9000]),
    flow('web', 'cart', 'UDP', 8080),
    false,
  ],
  [
    'notPorts: every TCP port but 22',
    with_([
      gnp('not-ssh', {
        selector: "app == 'db'",
        ingress: [{ action: 'Allow', protocol: 'TCP', destination: { notPorts: [22] } }],
      }),
    ]),
    flow('web', 'db', 'TCP', 5432),
    true,
  ],
  [
    'a named port resolves on the destination pod',
    with_([
      gnp('pg', {
        selector: "app == 'db'",
        ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: ['pg'] } }],
      }),
    ]),
    flow('web', 'db', 'TCP', 5432),
    true,
  ],
  [
    'notProtocol: anything but UDP',
    with_([gnp('no-udp', { selector: "app == 'db'", ingress: [{ action: 'Allow', notProtocol: 'UDP' }] })]),
    flow('web', 'db', 'UDP', 5432),
    false,
  ],
  [
    'a selector names a host endpoint: the node address it expects is admitted',
    with_(
      [
        gnp('from-hosts', {
          selector: "app == 'db'",
          ingress: [{ action: 'Allow', source: { selector: 'has(host-endpoint)' } }],
        }),
      ],
      {
        heps: [hep('node-1', '198.18.0.11', { 'host-endpoint': 'ingress' })],
      },
    ),
    flow('node-1', 'db', 'TCP', 5432),
    true,
  ],
  [
    'global() in a rule namespaceSelector names host endpoints, not pods',
    with_(
      [
        gnp('hosts-only', {
          selector: "app == 'db'",
          ingress: [{ action: 'Allow', source: { namespaceSelector: 'global()' } }],
        }),
      ],
      {
        heps: [hep('node-1', '198.18.0.11', { 'host-endpoint': 'ingress' })],
      },
    ),
    flow('web', 'db', 'TCP', 5432),
    false,
  ],
  [
    'a preDNAT policy is for host endpoints only: pods are not isolated by it',
    with_([
      gnp('pre', { selector: 'all()', preDNAT: true, applyOnForward: true, ingress: [{ action: 'Deny' }] }),
    ]),
    flow('api', 'web', 'TCP', 80),
    true,
  ],
  [
    'types [Egress] does not isolate ingress',
    with_([gnp('eg', { selector: shopWeb, types: ['Egress'], egress: [{ action: 'Allow' }] })]),
    flow('api', 'web', 'TCP', 80),
    true,
  ],
  [
    'a pod label projectcalico.org/namespace cannot pretend to another namespace',
    with_([
      gnp('shop-only', {
        selector: shopWeb,
        ingress: [{ action: 'Allow', source: { selector: "projectcalico.org/namespace == 'shop'" } }],
      }),
    ]),
    flow('api', 'web', 'TCP', 80),
    false,
  ],
];

describe('GlobalNetworkPolicy: compiled tables and the reference decide as Calico documents', () => {
  for (const [name, state, f, allowed] of CASES) {
    it(name, () => {
      const tables = new Map(state.nodes.map((n) => [n.name, compileNode(state, n.name).table]));
      const got = decideFlow(state, tables, f);
      assert.equal(got.allowed, allowed, `compiled: ${JSON.stringify(got.hops)}`);
      const want = evaluateFlow(state, f);
      assert.equal(want.allowed, allowed, `reference: ${want.egress.reason} / ${want.ingress.reason}`);
    });
  }
  for (const mergeAbove of [0]) {
    it(`the same with every endpoint's policies merged (mergeAbove ${mergeAbove})`, () => {
      for (const [name, state, f, allowed] of CASES) {
        const tables = new Map(
          state.nodes.map((n) => [n.name, compileNode(state, n.name, { mergeAbove }).table]),
        );
        assert.equal(decideFlow(state, tables, f).allowed, allowed, name);
      }
    });
  }
});

describe('GlobalNetworkPolicy in nftables', () => {
  it('a Log rule sends the packet to NFLOG and goes on', () => {
    const state = with_([
      gnp('log-all', { selector: shopWeb, ingress: [{ action: 'Log' }, { action: 'Allow' }] }),
    ]);
    const [hop] = hopsOf(state, flow('api', 'web', 'TCP', 80));
    const v = evaluatePacket(compileNode(state, 'node-1').table, hop!.packet);
    assert.equal(v.verdict, 'accept');
    assert.deepEqual(v.logged, ['gnp:projectcalico.org/log-all:ingress[0]']);
  });

  it('ICMP type and code, and notICMP as "another type, or that type with another code"', () => {
    const state = with_([
      gnp('ping', {
        selector: shopWeb,
        ingress: [
          { action: 'Deny', protocol: 'ICMP', notICMP: { type: 8, code: 0 } },
          { action: 'Allow', protocol: 'ICMP', icmp: { type: 8 } },
        ],
      }),
    ]);
    const table = compileNode(state, 'node-1').table;
    const [hop] = hopsOf(state, flow('api', 'web', 'TCP', 80));
    const icmp = (type: number, code: number) =>
      evaluatePacket(table, { ...hop!.packet, l4proto: 1, icmp: { type, code } }).verdict;
    assert.equal(icmp(8, 0), 'accept', 'echo request');
    assert.equal(icmp(8, 1), 'drop', 'echo request with another code');
    assert.equal(icmp(13, 0), 'drop', 'timestamp');
  });

  it('an NetworkPolicy-tier Pass leaves the mark for the endpoint chain, which clears it before Baseline', () => {
    const state = with_([gnp('pass', { order: 1, selector: shopWeb, ingress: [{ action: 'Pass' }] })], {
      policies: [webOnlyFromShop],
    });
    const t = compileNode(state, 'node-1').table;
    const tier = t.chains.find((c) => c.name.startsWith('en_'));
    assert.ok(tier, 'the endpoint has a NetworkPolicy-tier chain');
    const passCheck = tier.rules.find((r) => r.matches.some((m) => m.kind === 'mark-bit'));
    assert.deepEqual(passCheck?.verdict, { kind: 'return' });
    assert.equal(passCheck?.mark, undefined, 'the bit stays set for the caller');
    const index = (prefix: string) => t.chains.findIndex((c) => c.name.startsWith(prefix));
    assert.ok(index('en_') < index('ep_'));
  });
});
