// Which host objects get which condition and which Warning Event (host-report.ts), as tables of small named
// cases over objects made by the parsers from manifests.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DesiredCondition } from '../model/cluster-policy-conditions.js';
import type { GlobalNetworkPolicy } from '../model/global-network-policy.js';
import { parseGlobalNetworkPolicy } from '../model/global-network-policy-parse.js';
import type { HostEndpoint } from '../model/host-endpoint.js';
import { parseHostEndpoint } from '../model/host-endpoint-parse.js';
import type { Diagnostic } from '../policy/node-compiler.js';
import {
  globalPolicyConditions,
  type HostReport,
  hostEndpointConditions,
  hostWarnings,
  missingInterface,
  refusalMessage,
  selectsHostEndpoint,
} from './host-report.js';

type Json = Record<string, unknown>;

const makeGnp = (name: string, spec: Json, apiVersion = 'palisade.dev/v1'): GlobalNetworkPolicy =>
  parseGlobalNetworkPolicy({ apiVersion, kind: 'GlobalNetworkPolicy', metadata: { name }, spec });
const makeHep = (name: string, spec: Json, labels: Json = {}): HostEndpoint =>
  parseHostEndpoint({
    apiVersion: 'palisade.dev/v1',
    kind: 'HostEndpoint',
    metadata: { name, labels },
    spec: { node: 'node-a', ...spec },
  });

const PRE_DNAT = { preDNAT: true, applyOnForward: true, ingress: [{ action: 'Deny' }] };
const EDGE = makeHep('edge', { interfaceName: 'eth0' }, { role: 'edge' });
const CORE = makeHep('core', { interfaceName: '*', node: 'node-b' }, { role: 'core' });

/** [type, status, reason] of each condition. */
const brief = (cs: readonly DesiredCondition[]) => cs.map((c) => [c.type, c.status, c.reason]);

describe('GlobalNetworkPolicy conditions', () => {
  const cases: {
    name: string;
    gnp: GlobalNetworkPolicy;
    heps?: HostEndpoint[];
    want: string[][];
    remove?: string[];
  }[] = [
    {
      name: 'a preDNAT policy selecting an endpoint',
      gnp: makeGnp('p', { ...PRE_DNAT, selector: "role == 'edge'" }),
      want: [
        ['Accepted', 'True', 'Accepted'],
        ['SelectsHostEndpoints', 'True', 'HostEndpointsSelected'],
      ],
    },
    {
      name: 'a preDNAT policy whose selector matches none',
      gnp: makeGnp('p', { ...PRE_DNAT, selector: "role == 'gateway'" }),
      want: [
        ['Accepted', 'True', 'Accepted'],
        ['SelectsHostEndpoints', 'False', 'NoHostEndpointSelected'],
      ],
    },
    {
      name: 'a doNotTrack policy when there is no endpoint at all',
      gnp: makeGnp('p', { doNotTrack: true, applyOnForward: true, ingress: [{ action: 'Allow' }] }),
      heps: [],
      want: [
        ['Accepted', 'True', 'Accepted'],
        ['SelectsHostEndpoints', 'False', 'NoHostEndpointSelected'],
      ],
    },
    {
      name: 'an applyOnForward policy with a namespaceSelector (pods only)',
      gnp: makeGnp('p', { applyOnForward: true, namespaceSelector: "team == 'a'", ingress: [] }),
      want: [
        ['Accepted', 'True', 'Accepted'],
        ['SelectsHostEndpoints', 'False', 'NoHostEndpointSelected'],
      ],
    },
    {
      name: 'a namespaceSelector that matches empty labels (!has(team)) selects endpoints too',
      gnp: makeGnp('p', {
        applyOnForward: true,
        namespaceSelector: '!has(team)',
        selector: "role == 'core'",
      }),
      want: [
        ['Accepted', 'True', 'Accepted'],
        ['SelectsHostEndpoints', 'True', 'HostEndpointsSelected'],
      ],
    },
    {
      name: 'a policy for pods: Accepted only, SelectsHostEndpoints removed',
      gnp: makeGnp('p', { selector: "app == 'web'", ingress: [{ action: 'Allow' }] }),
      want: [['Accepted', 'True', 'Accepted']],
      remove: ['SelectsHostEndpoints'],
    },
    {
      name: 'a policy with a problem',
      gnp: makeGnp('p', { selector: "app == 'web'", ingress: [{ action: 'Allow', protocol: 'TCPX' }] }),
      want: [['Accepted', 'False', 'InvalidSpec']],
      remove: ['SelectsHostEndpoints'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = globalPolicyConditions(c.gnp, c.heps ?? [EDGE, CORE], 4);
      assert.deepEqual(brief(got.conditions), c.want);
      assert.deepEqual(got.remove, c.remove ?? []);
      for (const cond of got.conditions) assert.equal(cond.observedGeneration, 4);
    });
  }

  it('says why no endpoint is selected, and what that means for the policy', () => {
    const none = (spec: Json) =>
      globalPolicyConditions(makeGnp('p', spec), [EDGE], undefined).conditions[1]?.message;
    assert.equal(
      none({ ...PRE_DNAT, selector: "role == 'gateway'" }),
      `No HostEndpoint matches spec.selector "role == 'gateway'"; this preDNAT, applyOnForward policy applies to ` +
        'host endpoints only: it has no effect until one matches',
    );
    assert.equal(
      none({ applyOnForward: true, namespaceSelector: "team == 'a'" }),
      `spec.namespaceSelector "team == 'a'" limits it to pods, so it selects no HostEndpoint; its applyOnForward ` +
        'has no effect (it applies to the pods it selects only)',
    );
  });

  it('selects by the direction the policy has: an Egress-only policy selects through egress', () => {
    const egress = makeGnp('p', {
      applyOnForward: true,
      selector: "role == 'edge'",
      egress: [{ action: 'Deny' }],
    });
    assert.equal(selectsHostEndpoint(egress, [EDGE]), true);
    assert.equal(selectsHostEndpoint(egress, [CORE]), false);
  });
});

describe('HostEndpoint conditions', () => {
  const synced = (more: Partial<HostReport> = {}): HostReport => ({ diagnostics: [], refusals: [], ...more });
  const cases: { name: string; hep: HostEndpoint; report: HostReport; want: string[][] }[] = [
    {
      name: 'an interface the node has, programmed',
      hep: EDGE,
      report: synced({ links: ['lo', 'eth0'] }),
      want: [
        ['Accepted', 'True', 'Accepted'],
        ['InterfacePresent', 'True', 'InterfaceFound'],
        ['Programmed', 'True', 'Programmed'],
      ],
    },
    {
      name: 'an interface the node does not have',
      hep: EDGE,
      report: synced({ links: ['lo', 'eth1'] }),
      want: [
        ['Accepted', 'True', 'Accepted'],
        ['InterfacePresent', 'False', 'InterfaceNotFound'],
        ['Programmed', 'True', 'Programmed'],
      ],
    },
    {
      name: 'links not known yet, nor synced: Accepted only',
      hep: EDGE,
      report: { refusals: [] },
      want: [['Accepted', 'True', 'Accepted']],
    },
    {
      name: 'a version the node has not synced yet: nothing said of Programmed',
      hep: EDGE,
      report: synced({
        links: ['eth0'],
        hostEndpoints: [makeHep('edge', { interfaceName: 'eth1' }, { role: 'edge' })],
      }),
      want: [
        ['Accepted', 'True', 'Accepted'],
        ['InterfacePresent', 'True', 'InterfaceFound'],
      ],
    },
    {
      name: 'the version the node synced (an equal copy)',
      hep: EDGE,
      report: synced({
        links: ['eth0'],
        hostEndpoints: [makeHep('edge', { interfaceName: 'eth0' }, { role: 'edge' })],
      }),
      want: [
        ['Accepted', 'True', 'Accepted'],
        ['InterfacePresent', 'True', 'InterfaceFound'],
        ['Programmed', 'True', 'Programmed'],
      ],
    },
    {
      name: '"*" covers every interface',
      hep: makeHep('all', { interfaceName: '*' }),
      report: synced(),
      want: [
        ['Accepted', 'True', 'Accepted'],
        ['InterfacePresent', 'True', 'AllInterfaces'],
        ['Programmed', 'True', 'Programmed'],
      ],
    },
    {
      name: 'no interfaceName: not programmed',
      hep: makeHep('ips', { expectedIPs: ['198.18.0.10'] }),
      report: synced({
        diagnostics: [{ policy: 'hep:ips', problems: ['spec.interfaceName is not set: …'] }],
        links: ['eth0'],
      }),
      want: [
        ['Accepted', 'True', 'Accepted'],
        ['InterfacePresent', 'Unknown', 'NoInterfaceName'],
        ['Programmed', 'False', 'NotProgrammed'],
      ],
    },
    {
      name: 'refused by lockout protection',
      hep: EDGE,
      report: synced({
        refusals: [
          {
            object: 'hep:edge',
            reason: 'would-cut',
            connection: 'node → API server 198.18.0.2:6443/TCP via eth0',
          },
        ],
        links: ['eth0'],
      }),
      want: [
        ['Accepted', 'True', 'Accepted'],
        ['InterfacePresent', 'True', 'InterfaceFound'],
        ['Programmed', 'False', 'LockoutRefused'],
      ],
    },
    {
      name: 'rolled back after the confirm window',
      hep: EDGE,
      report: synced({
        refusals: [{ object: 'hep:edge', reason: 'confirm-expired', connection: 'API server …' }],
      }),
      want: [
        ['Accepted', 'True', 'Accepted'],
        ['Programmed', 'False', 'RolledBack'],
      ],
    },
    {
      name: 'a broken label: fails closed',
      hep: makeHep('bad', { interfaceName: 'eth0' }, { 'bad key!': 'x' }),
      report: synced({ links: ['eth0'] }),
      want: [
        ['Accepted', 'False', 'InvalidSpec'],
        ['InterfacePresent', 'True', 'InterfaceFound'],
        ['Programmed', 'False', 'Invalid'],
      ],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = hostEndpointConditions(c.hep, 'node-a', c.report, 2);
      assert.deepEqual(brief(got.conditions), c.want);
      assert.deepEqual(got.remove, []);
    });
  }
  it('names the node and the interface', () => {
    const got = hostEndpointConditions(EDGE, 'node-a', synced({ links: ['lo'] }), 2).conditions[1];
    assert.equal(
      got?.message,
      'Interface "eth0" does not exist on node node-a; its rules take effect when it appears',
    );
  });
});

describe('host Warning Events of a node', () => {
  const CUT = 'node → API server 198.18.0.2:6443/TCP via any interface';
  const BAD_GNP: Diagnostic = {
    policy: 'gnp:crd.projectcalico.org/broken',
    problems: ['spec.ingress[0].protocol: …'],
  };
  const BAD = makeHep('bad', { interfaceName: 'eth1' }, { 'bad key!': 'x' });
  const cases: { name: string; heps?: HostEndpoint[]; report: HostReport; want: string[][] }[] = [
    { name: 'nothing to say', report: { diagnostics: [], refusals: [], links: ['eth0'] }, want: [] },
    {
      name: 'a GlobalNetworkPolicy that fails closed',
      report: { diagnostics: [BAD_GNP], refusals: [] },
      want: [['gnp:crd.projectcalico.org/broken', 'PolicyRejected']],
    },
    {
      name: 'NetworkPolicies and ClusterNetworkPolicies are not host warnings',
      report: {
        diagnostics: [
          { policy: 'ns/np', problems: ['x'] },
          { policy: 'cnp:c', problems: ['x'] },
        ],
        refusals: [],
      },
      want: [],
    },
    {
      name: "a HostEndpoint rejected, and one of another node is not this node's to report",
      heps: [BAD],
      report: {
        diagnostics: [
          { policy: 'hep:bad', problems: BAD.problems },
          { policy: 'hep:elsewhere', problems: ['x'] },
        ],
        refusals: [],
      },
      want: [['hep:bad', 'HostEndpointRejected']],
    },
    {
      name: 'a HostEndpoint the node cannot program',
      heps: [makeHep('ips', { expectedIPs: ['198.18.0.10'] })],
      report: {
        diagnostics: [{ policy: 'hep:ips', problems: ['spec.interfaceName is not set'] }],
        refusals: [],
      },
      want: [['hep:ips', 'HostEndpointNotProgrammed']],
    },
    {
      name: 'a refusal and a rollback',
      report: {
        diagnostics: [],
        refusals: [
          { object: 'gnp:lockout', reason: 'would-cut', connection: CUT },
          { object: 'gnp:late', reason: 'confirm-expired', connection: 'API server not reachable' },
        ],
      },
      want: [
        ['gnp:lockout', 'HostPolicyRefused'],
        ['gnp:late', 'HostPolicyRolledBack'],
      ],
    },
    {
      name: 'an interface not found (links known)',
      heps: [EDGE, makeHep('all', { interfaceName: '*' })],
      report: { refusals: [], links: ['lo'] },
      want: [['hep:edge', 'InterfaceNotFound']],
    },
    { name: 'links not known: no interface warning', heps: [EDGE], report: { refusals: [] }, want: [] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = hostWarnings('node-a', c.heps ?? [EDGE], c.report);
      assert.deepEqual(
        got.map((w) => [w.object, w.reason]),
        c.want,
      );
    });
  }
  it('a refusal names the node and the connection it would cut', () => {
    assert.equal(
      refusalMessage({ object: 'gnp:lockout', reason: 'would-cut', connection: CUT }, 'node-a'),
      `refused on node-a: it would cut ${CUT}; the version programmed before stays until this one changes`,
    );
  });
  it('missingInterface: only a named interface, only when the links are known', () => {
    assert.equal(missingInterface(EDGE, ['lo']), 'eth0');
    assert.equal(missingInterface(EDGE, ['eth0']), undefined);
    assert.equal(missingInterface(EDGE, undefined), undefined);
    assert.equal(missingInterface(makeHep('all', { interfaceName: '*' }), []), undefined);
  });
});
