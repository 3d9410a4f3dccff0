// Valid GlobalNetworkPolicies: every field parsed into the model, Calico's defaults (types from the rules
// present) and canonical forms, the three API groups, and seed 003's host-endpoint policies.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import type { GlobalNetworkPolicy } from './global-network-policy.js';
import { parseGlobalNetworkPolicy } from './global-network-policy-parse.js';
import {
  entity,
  gnpDoc,
  makeGnp,
  named,
  port,
  range,
  rule,
  sel,
  toDoc,
} from './global-network-policy-parse.testkit.js';

const HOSTS = sel('has(host-endpoint)');

describe('parseGlobalNetworkPolicy: seed 003 (host endpoint firewall)', () => {
  const cases: { name: string; yaml: string; want: GlobalNetworkPolicy }[] = [
    {
      name: 'allow-outbound-external: egress rules only, so types [Egress]',
      yaml: `
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: allow-outbound-external
spec:
  order: 10
  egress:
    - action: Allow
  selector: has(host-endpoint)
`,
      want: makeGnp('allow-outbound-external', {
        order: 10,
        selector: HOSTS,
        types: ['Egress'],
        egress: [rule('Allow')],
      }),
    },
    {
      name: 'allow-cluster-internal-ingress: preDNAT with applyOnForward, source nets',
      yaml: `
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: allow-cluster-internal-ingress
spec:
  order: 10
  preDNAT: true
  applyOnForward: true
  ingress:
    - action: Allow
      source:
        nets: [10.240.0.0/16, 192.168.0.0/16]
  selector: has(host-endpoint)
`,
      want: makeGnp('allow-cluster-internal-ingress', {
        order: 10,
        selector: HOSTS,
        preDNAT: true,
        applyOnForward: true,
        ingress: [rule('Allow', { source: entity({ nets: ['10.240.0.0/16', '192.168.0.0/16'] }) })],
      }),
    },
    {
      name: 'drop-other-ingress: a later preDNAT Deny',
      yaml: `
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: drop-other-ingress
spec:
  order: 20
  preDNAT: true
  applyOnForward: true
  ingress:
    - action: Deny
  selector: has(host-endpoint)
`,
      want: makeGnp('drop-other-ingress', {
        order: 20,
        selector: HOSTS,
        preDNAT: true,
        applyOnForward: true,
        ingress: [rule('Deny')],
      }),
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepStrictEqual(parseGlobalNetworkPolicy(parseYaml(c.yaml)), c.want));
  }
});

describe('parseGlobalNetworkPolicy: valid manifests', () => {
  it('every field: selectors, protocols, ICMP, nets, ports, Log and Pass, doNotTrack', () => {
    const yaml = `
apiVersion: crd.projectcalico.org/v1
kind: GlobalNetworkPolicy
metadata: { name: default.protect-db, labels: { owner: secops } }
spec:
  tier: default
  order: 12.5
  selector: role == 'db' && env in {'prod', 'staging'}
  namespaceSelector: has(team)
  serviceAccountSelector: all()
  performanceHints: [AssumeNeededOnEveryNode]
  types: [Egress, Ingress]
  doNotTrack: true
  applyOnForward: true
  ingress:
    - action: Log
      metadata: { annotations: { why: audit } }
    - action: Allow
      protocol: TCP
      source:
        selector: role == 'app'
        namespaceSelector: global()
        notNets: [10.0.0.1, "10.2.0.0/16"]
      destination: { ports: [5432, "6000:6010", "7000", metrics] }
    - action: Pass
      protocol: ICMP
      ipVersion: 4
      icmp: { type: 8, code: 0 }
      notICMP: { type: 3 }
    - action: Deny
      protocol: "17"
      notProtocol: 132
      source: { notSelector: "!has(trusted)", notPorts: [53] }
  egress:
    - action: Allow
      notProtocol: ICMPv6
      ipVersion: 6
      destination: { nets: ["FD00::1:0/112"], ports: [http] }
`;
    const want = makeGnp('default.protect-db', {
      group: 'crd.projectcalico.org',
      order: 12.5,
      selector: sel("role == 'db' && env in {'prod', 'staging'}"),
      namespaceSelector: sel('has(team)'),
      types: ['Ingress', 'Egress'],
      doNotTrack: true,
      applyOnForward: true,
      ingress: [
        rule('Log'),
        rule('Allow', {
          protocol: { kind: 'named', name: 'TCP' },
          source: entity({
            selector: sel("role == 'app'"),
            namespaceSelector: sel('global()'),
            notNets: ['10.0.0.1/32', '10.2.0.0/16'],
          }),
          destination: entity({ ports: [port(5432), range(6000, 6010), port(7000), named('metrics')] }),
        }),
        rule('Pass', {
          protocol: { kind: 'named', name: 'ICMP' },
          ipVersion: 4,
          icmp: { type: 8, code: 0 },
          notICMP: { type: 3 },
        }),
        rule('Deny', {
          protocol: { kind: 'number', number: 17 },
          notProtocol: { kind: 'number', number: 132 },
          source: entity({ notSelector: sel('!has(trusted)'), notPorts: [port(53)] }),
        }),
      ],
      egress: [
        rule('Allow', {
          notProtocol: { kind: 'named', name: 'ICMPv6' },
          ipVersion: 6,
          destination: entity({ nets: ['fd00::1:0/112'], ports: [named('http')] }),
        }),
      ],
    });
    const got = parseGlobalNetworkPolicy(parseYaml(yaml));
    assert.deepStrictEqual(got, want);
    assert.deepStrictEqual(parseGlobalNetworkPolicy(toDoc(got)), got, 'round trip');
  });

  it('types default from the rules present (Calico defaultPolicyTypesField)', () => {
    const r = [{ action: 'Deny' }];
    const cases: [unknown, GlobalNetworkPolicy['types']][] = [
      [{}, ['Ingress']],
      [{ ingress: r }, ['Ingress']],
      [{ egress: r }, ['Egress']],
      [{ ingress: r, egress: r }, ['Ingress', 'Egress']],
      [{ ingress: r, egress: [] }, ['Ingress']],
      [{ egress: r, types: [] }, ['Egress']],
      [{ egress: r, types: ['Ingress'] }, ['Ingress']],
    ];
    for (const [spec, types] of cases) {
      assert.deepStrictEqual(parseGlobalNetworkPolicy(gnpDoc(spec)).types, types, JSON.stringify(spec));
    }
  });

  it('a status written by the agents is not policy: no problem, the same policy', () => {
    const doc = {
      apiVersion: 'projectcalico.org/v3',
      kind: 'GlobalNetworkPolicy',
      metadata: { name: 'p' },
      spec: {
        order: 20,
        preDNAT: true,
        applyOnForward: true,
        ingress: [{ action: 'Deny' }],
        selector: 'all()',
      },
    };
    const withStatus = { ...doc, status: { conditions: [{ type: 'Accepted', status: 'True' }] } };
    assert.deepEqual(parseGlobalNetworkPolicy(withStatus), parseGlobalNetworkPolicy(doc));
    assert.deepEqual(parseGlobalNetworkPolicy(withStatus).problems, []);
  });

  it('the group comes from apiVersion', () => {
    for (const [apiVersion, group] of [
      ['palisade.dev/v1', 'palisade.dev'],
      ['crd.projectcalico.org/v1', 'crd.projectcalico.org'],
      ['projectcalico.org/v3', 'projectcalico.org'],
    ] as const) {
      const got = parseGlobalNetworkPolicy(gnpDoc({}, { name: 'p' }, apiVersion));
      assert.deepStrictEqual(got, makeGnp('p', { group }));
    }
  });

  it('defaults: empty selector is all(), tier "" and null fields are absent, flags false', () => {
    const spec = { selector: '', tier: '', namespaceSelector: '', order: null, preDNAT: null, ingress: null };
    assert.deepStrictEqual(parseGlobalNetworkPolicy(gnpDoc(spec)), makeGnp('p'));
  });

  it('an empty source selector and a null destination are anywhere', () => {
    const spec = { ingress: [{ action: 'Deny', source: { selector: '', nets: [] }, destination: null }] };
    assert.deepStrictEqual(parseGlobalNetworkPolicy(gnpDoc(spec)), makeGnp('p', { ingress: [rule('Deny')] }));
  });
});
