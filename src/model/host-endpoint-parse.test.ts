// HostEndpoint parsing: seed 003's per-node "*" endpoint, every field and canonical form, the three API groups,
// and every problem with the fail-closed shape (what parsed is kept; broken labels and profiles read as none).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import type { HostEndpoint } from './host-endpoint.js';
import { parseHostEndpoint } from './host-endpoint-parse.js';

function hepDoc(spec: unknown, metadata: unknown = { name: 'h' }, apiVersion = 'crd.projectcalico.org/v1') {
  return { apiVersion, kind: 'HostEndpoint', metadata, spec };
}

const SPEC = { node: 'n1', interfaceName: 'eth0' };

function makeHep(name: string, ...tweaks: Partial<HostEndpoint>[]): HostEndpoint {
  const base: HostEndpoint = {
    kind: 'HostEndpoint',
    group: 'crd.projectcalico.org',
    name,
    labels: {},
    node: 'n1',
    interfaceName: 'eth0',
    expectedIPs: [],
    profiles: [],
    ports: [],
    problems: [],
  };
  const hep: HostEndpoint = Object.assign(base, ...tweaks);
  // The parser leaves out an interfaceName it did not read, rather than set it undefined.
  return hep.interfaceName === undefined ? (({ interfaceName: _, ...rest }) => rest)(hep) : hep;
}

describe('parseHostEndpoint: valid manifests', () => {
  it('seed 003: one "*" endpoint per node, labelled for the policies', () => {
    const yaml = `
apiVersion: crd.projectcalico.org/v1
kind: HostEndpoint
metadata:
  name: k8s-node-2
  labels:
    host-endpoint: ingress
spec:
  interfaceName: "*"
  node: "k8s-node-2"
`;
    const want = makeHep('k8s-node-2', {
      labels: { 'host-endpoint': 'ingress' },
      node: 'k8s-node-2',
      interfaceName: '*',
    });
    assert.deepStrictEqual(parseHostEndpoint(parseYaml(yaml)), want);
  });

  it('every field: expectedIPs canonical, profiles, named ports by name and number', () => {
    const yaml = `
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: { name: node1-eth0, labels: { role: edge } }
spec:
  node: node1.example
  expectedIPs: [192.168.0.1, "FD00:0:0::1"]
  profiles: [projectcalico-default-allow]
  ports:
    - { name: ssh, port: 22, protocol: TCP }
    - { name: dns, port: 53, protocol: "17" }
    - { name: sig, port: 2905, protocol: 132 }
`;
    const want: HostEndpoint = {
      kind: 'HostEndpoint',
      group: 'projectcalico.org',
      name: 'node1-eth0',
      labels: { role: 'edge' },
      node: 'node1.example',
      expectedIPs: ['192.168.0.1', 'fd00::1'],
      profiles: ['projectcalico-default-allow'],
      ports: [
        { name: 'ssh', port: 22, protocol: 'TCP' },
        { name: 'dns', port: 53, protocol: 'UDP' },
        { name: 'sig', port: 2905, protocol: 'SCTP' },
      ],
      problems: [],
    };
    assert.deepStrictEqual(parseHostEndpoint(parseYaml(yaml)), want);
  });

  it('the group comes from apiVersion', () => {
    for (const [apiVersion, group] of [
      ['palisade.dev/v1', 'palisade.dev'],
      ['crd.projectcalico.org/v1', 'crd.projectcalico.org'],
      ['projectcalico.org/v3', 'projectcalico.org'],
    ] as const) {
      assert.deepStrictEqual(
        parseHostEndpoint(hepDoc(SPEC, { name: 'h' }, apiVersion)),
        makeHep('h', { group }),
      );
    }
  });
});

describe('parseHostEndpoint: problems', () => {
  const P = 'spec.ports[0]';
  const cases: { name: string; spec: unknown; problems: string[]; shape?: Partial<HostEndpoint> }[] = [
    {
      name: 'spec missing',
      spec: undefined,
      problems: ['spec: required'],
      shape: { node: '', interfaceName: undefined },
    },
    {
      name: 'node missing, no interface nor addresses',
      spec: { expectedIPs: [] },
      problems: ['spec.node: required', 'spec: {"expectedIPs":[]} must set interfaceName or expectedIPs'],
      shape: { node: '', interfaceName: undefined },
    },
    {
      name: 'node not a DNS subdomain',
      spec: { ...SPEC, node: 'Node_1' },
      problems: ['spec.node: "Node_1" is not a valid node name (a DNS subdomain)'],
      shape: { node: 'Node_1' },
    },
    {
      name: 'interfaceName too long: none, the addresses still name it',
      spec: { ...SPEC, interfaceName: 'a-very-long-interface', expectedIPs: ['10.0.0.1'] },
      problems: [
        'spec.interfaceName: "a-very-long-interface" must be "*" or an interface name (1-15 of a-z A-Z 0-9 _ . -)',
      ],
      shape: { interfaceName: undefined, expectedIPs: ['10.0.0.1'] },
    },
    {
      name: 'a bad and a repeated address: the good one kept',
      spec: { node: 'n1', expectedIPs: ['10.0.0.1', '10.0.0.256', '10.0.0.1'] },
      problems: [
        'spec.expectedIPs[1]: "10.0.0.256" is not an IP address',
        'spec.expectedIPs[2]: "10.0.0.1" is listed twice',
      ],
      shape: { interfaceName: undefined, expectedIPs: ['10.0.0.1', '10.0.0.1'] },
    },
    {
      name: 'a CIDR is not an address',
      spec: { node: 'n1', expectedIPs: ['10.0.0.0/24'] },
      problems: ['spec.expectedIPs[0]: "10.0.0.0/24" is not an IP address'],
      shape: { interfaceName: undefined },
    },
    {
      name: 'a broken profile: none (so the default is deny)',
      spec: { ...SPEC, profiles: ['projectcalico-default-allow', 'Bad Profile'] },
      problems: ['spec.profiles[1]: "Bad Profile" is not a valid profile name (a DNS subdomain)'],
    },
    {
      name: 'ports: name, number and protocol checked, broken ones dropped',
      spec: {
        ...SPEC,
        ports: [
          { name: 'HTTP', port: 80, protocol: 'TCP' },
          { name: 'dns', port: 0, protocol: 'UDP' },
          { name: 'x', port: 1, protocol: 'ICMP' },
          { port: 2, protocol: 'tcp' },
          { name: 'ok', port: 3 },
          { name: 'ssh', port: 22, protocol: 'TCP', hostPort: 22 },
          { name: 'good', port: 4, protocol: 6 },
        ],
      },
      problems: [
        `${P}.name: "HTTP" is not a valid port name: must contain only lowercase letters, digits and hyphens, must contain at least one letter (a-z)`,
        'spec.ports[1].port: 0 must be an integer from 1 to 65535',
        'spec.ports[2].protocol: "ICMP" must be TCP, UDP or SCTP',
        'spec.ports[3].name: required',
        'spec.ports[3].protocol: "tcp" must be one of TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or a number from 1 to 255',
        'spec.ports[4].protocol: required',
        'spec.ports[5].hostPort: unknown field',
      ],
      shape: { ports: [{ name: 'good', port: 4, protocol: 'TCP' }] },
    },
    {
      name: 'unknown spec field',
      spec: { ...SPEC, interface: 'eth1' },
      problems: ['spec.interface: unknown field'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const want = makeHep('h', c.shape ?? {}, { problems: c.problems });
      assert.deepStrictEqual(parseHostEndpoint(hepDoc(c.spec)), want);
    });
  }

  it('broken labels read as none; bad name, kind and apiVersion', () => {
    const doc = { ...hepDoc(SPEC, { name: 'H', labels: { a: 'b', c: 'd e' } }, 'v1'), kind: 'HEP', extra: 1 };
    assert.deepStrictEqual(
      parseHostEndpoint(doc),
      makeHep('H', {
        group: 'palisade.dev',
        problems: [
          'apiVersion: "v1" must be one of palisade.dev/v1, crd.projectcalico.org/v1, projectcalico.org/v3',
          'kind: "HEP" must be "HostEndpoint"',
          'extra: unknown field',
          'metadata.name: "H" is not a valid HostEndpoint name (a DNS subdomain)',
          'metadata.labels["c"]: value "d e" is not a valid label value',
        ],
      }),
    );
  });

  it('not an object: names nothing', () => {
    const want = makeHep('', {
      group: 'palisade.dev',
      node: '',
      problems: ['document: must be an object, got 7'],
    });
    delete (want as { interfaceName?: string }).interfaceName;
    assert.deepStrictEqual(parseHostEndpoint(7), want);
  });
});
