import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PodInfo } from '../model/cluster.js';
import {
  compactObject,
  isNewerResourceVersion,
  metaOf,
  modelOf,
  toClusterNetworkPolicy,
  toNamespaceInfo,
  toNetworkPolicy,
  toNodeInfo,
  toPodInfo,
} from './kube-convert.js';
import type { CompactCalicoKind } from './kube-convert-calico.js';
import { makePod, withIps } from './testdata/kube-testkit.js';

type Pod = Parameters<Parameters<typeof makePod>[3]>[0];
const finished = (phase: string) => (p: Pod) => {
  withIps('10.0.0.3')(p);
  p.status.phase = phase;
};
const HTTP = { name: 'http', containerPort: 8080, protocol: 'TCP' } as const;

describe('toPodInfo', () => {
  const base: PodInfo = {
    namespace: 'ns',
    name: 'p',
    node: 'node-a',
    ips: [],
    labels: { app: 'a' },
    ports: [HTTP],
  };
  const cases: { name: string; tweak: (p: Pod) => void; want: Partial<PodInfo> }[] = [
    { name: 'pending, no IP yet', tweak: () => {}, want: {} },
    {
      name: 'podIPs, both families',
      tweak: withIps('10.0.0.1', 'fd00::1'),
      want: { ips: ['10.0.0.1', 'fd00::1'] },
    },
    {
      name: 'only the older podIP',
      tweak: (p) => {
        p.status = { phase: 'Running', podIP: '10.0.0.2' };
      },
      want: { ips: ['10.0.0.2'] },
    },
    {
      name: 'addresses canonical, invalid ones dropped',
      tweak: (p) => {
        p.status = {
          phase: 'Running',
          podIPs: [{ ip: 'FD00:0::1' }, { ip: 'nonsense' }, {}, { ip: 'fd00::1' }],
        };
      },
      want: { ips: ['fd00::1'] },
    },
    {
      name: 'hostNetwork: never an endpoint',
      tweak: (p) => {
        p.spec.hostNetwork = true;
        withIps('192.168.1.10')(p);
      },
      want: {},
    },
    { name: 'Succeeded: its IP may be reused', tweak: finished('Succeeded'), want: {} },
    { name: 'Failed: its IP may be reused', tweak: finished('Failed'), want: {} },
    {
      name: 'unscheduled',
      tweak: (p) => {
        delete p.spec.nodeName;
      },
      want: { node: '' },
    },
    {
      name: 'ports of every container and of sidecars; protocol defaults to TCP; bad ports skipped',
      tweak: (p) => {
        p.spec.containers = [
          {
            name: 'a',
            ports: [{ containerPort: 53, protocol: 'UDP', name: 'dns' }, { containerPort: 70000 }],
          },
          { name: 'b', ports: [{ containerPort: 9090 }, { containerPort: 1, protocol: 'ICMP' }] },
        ];
        p.spec.initContainers = [
          { name: 'init', ports: [{ containerPort: 1111 }] },
          { name: 'proxy', restartPolicy: 'Always', ports: [{ containerPort: 15001 }] },
        ];
      },
      want: {
        ports: [
          { name: 'dns', containerPort: 53, protocol: 'UDP' },
          { containerPort: 9090, protocol: 'TCP' },
          { containerPort: 15001, protocol: 'TCP' },
        ],
      },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const { workload, ...info } = toPodInfo(makePod('ns', 'p', { app: 'a' }, c.tweak));
      assert.deepEqual(info, { ...base, ...c.want });
      assert.ok(workload, 'the workload facts are there');
    });
  }

  it('never throws on a malformed object', () => {
    for (const o of [null, 42, 'pod', {}, { metadata: 'x', spec: [], status: { podIPs: 'no' } }]) {
      assert.deepEqual(toPodInfo(o), {
        namespace: '',
        name: '',
        node: '',
        ips: [],
        labels: {},
        ports: [],
        workload: { annotations: {}, containers: [], initContainers: [] },
      });
    }
  });
});

describe('toPodInfo: the workload facts chained mode selects on', () => {
  it('annotations (every key; a long value no rule could read as null), containers with their ports, init containers by name', () => {
    const pod = makePod('ns', 'p', {}, (p) => {
      (p as unknown as { metadata: Record<string, unknown> }).metadata.annotations = {
        'codesealer.com/injection': 'true',
        'kubectl.kubernetes.io/last-applied-configuration': 'x'.repeat(5000),
      };
      p.spec.containers = [
        { name: 'app', ports: [{ containerPort: 8080 }] },
        { name: 'codesealer-core', ports: [{ containerPort: 15006 }] },
      ];
      p.spec.initContainers = [{ name: 'codesealer-init-networking' }];
    });
    assert.deepEqual(toPodInfo(pod).workload, {
      annotations: {
        'codesealer.com/injection': 'true',
        'kubectl.kubernetes.io/last-applied-configuration': null,
      },
      containers: [
        { name: 'app', ports: [{ containerPort: 8080, protocol: 'TCP' }] },
        { name: 'codesealer-core', ports: [{ containerPort: 15006, protocol: 'TCP' }] },
      ],
      initContainers: [{ name: 'codesealer-init-networking' }],
    });
  });
});

describe('toNodeInfo, toNamespaceInfo', () => {
  it('a node has its InternalIP and ExternalIP addresses, and its labels (string values only)', () => {
    const addresses = [
      { type: 'Hostname', address: 'node-a' },
      { type: 'InternalIP', address: '192.168.1.10' },
      { type: 'InternalIP', address: 'fd00:1::10' },
      { type: 'ExternalIP', address: '203.0.113.7' },
      { type: 'InternalDNS', address: 'node-a.cluster' },
    ];
    const labels = { 'kubernetes.io/hostname': 'node-a', zone: 'a', bad: 7 };
    assert.deepEqual(toNodeInfo({ metadata: { name: 'node-a', labels }, status: { addresses } }), {
      name: 'node-a',
      ips: ['192.168.1.10', 'fd00:1::10', '203.0.113.7'],
      labels: { 'kubernetes.io/hostname': 'node-a', zone: 'a' },
    });
    assert.deepEqual(toNodeInfo({ metadata: { name: 'bare' } }), { name: 'bare', ips: [], labels: {} });
  });

  it("a node's pod CIDRs (spec.podCIDRs, else spec.podCIDR) and its WireGuard annotation as written", () => {
    const annotations = { 'palisade.dev/wireguard': '{"publicKey":"k","port":1}', other: 'x' };
    assert.deepEqual(
      toNodeInfo({
        metadata: { name: 'a', annotations },
        spec: { podCIDRs: ['10.244.0.0/24', 'fd00:244::/64'] },
      }),
      {
        name: 'a',
        ips: [],
        labels: {},
        podCIDRs: ['10.244.0.0/24', 'fd00:244::/64'],
        wireguard: '{"publicKey":"k","port":1}',
      },
    );
    assert.deepEqual(toNodeInfo({ metadata: { name: 'b' }, spec: { podCIDR: '10.244.1.0/24' } }).podCIDRs, [
      '10.244.1.0/24',
    ]);
  });

  it('a namespace has its labels (string values only)', () => {
    const labels = { 'kubernetes.io/metadata.name': 'prod', env: 'prod', bad: 7 };
    assert.deepEqual(toNamespaceInfo({ metadata: { name: 'prod', labels } }), {
      name: 'prod',
      labels: { 'kubernetes.io/metadata.name': 'prod', env: 'prod' },
    });
  });
});

describe('toClusterNetworkPolicy', () => {
  const spec = { tier: 'Baseline', priority: 7, subject: { namespaces: {} } };
  it('fills in kind and apiVersion that list items leave out, and keeps the ones given', () => {
    const p = toClusterNetworkPolicy({ metadata: { name: 'b', resourceVersion: '4' }, spec });
    assert.deepEqual([p.name, p.tier, p.priority, p.problems], ['b', 'Baseline', 7, []]);
    const other = toClusterNetworkPolicy({
      apiVersion: 'policy.networking.k8s.io/v1',
      metadata: { name: 'b' },
      spec,
    });
    assert.deepEqual(other.problems, [
      'apiVersion: "policy.networking.k8s.io/v1" must be "policy.networking.k8s.io/v1alpha2"',
    ]);
  });
  it('accepts a status (the implementations write it) and fails closed on anything else it does not know', () => {
    const p = toClusterNetworkPolicy({ metadata: { name: 'b' }, spec, status: { conditions: [] }, extra: 1 });
    assert.deepEqual(p.problems, ['extra: unknown field']);
    assert.deepEqual(toClusterNetworkPolicy('junk').problems.length > 0, true);
  });
});

describe('toNetworkPolicy', () => {
  const meta = { namespace: 'prod', name: 'p', resourceVersion: '7', uid: 'u' };

  it('fills in kind and apiVersion that list items leave out', () => {
    const p = toNetworkPolicy({ metadata: meta, spec: { podSelector: {} } });
    assert.deepEqual(p.problems, []);
    assert.deepEqual([p.namespace, p.name, p.policyTypes], ['prod', 'p', ['Ingress']]);
  });

  it('keeps a kind or apiVersion the object does name, so the parser reports it', () => {
    const p = toNetworkPolicy({ apiVersion: 'networking.k8s.io/v2', metadata: meta, spec: {} });
    assert.deepEqual(p.problems, ['apiVersion: "networking.k8s.io/v2" must be "networking.k8s.io/v1"']);
  });

  it('is total', () => {
    assert.deepEqual(toNetworkPolicy(null).problems, ['document: must be an object, got null']);
  });
});

describe('isNewerResourceVersion', () => {
  const cases: [string, string, boolean][] = [
    ['10', '9', true],
    ['9', '10', false],
    ['10', '10', false],
    ['18446744073709551617', '18446744073709551616', true],
    ['5', '', true],
    ['', '5', false],
    ['', '', false],
    ['abc', '5', true],
  ];
  for (const [a, b, want] of cases) {
    it(`${JSON.stringify(a)} newer than ${JSON.stringify(b)}: ${want}`, () => {
      assert.equal(isNewerResourceVersion(a, b), want);
    });
  }
});

describe('compactObject', () => {
  // A pod as a real API server sends it: managedFields, annotations, image, env, resources, volumes, conditions.
  const fat = {
    kind: 'Pod',
    apiVersion: 'v1',
    metadata: {
      namespace: 'shop',
      name: 'web-7d9f',
      uid: 'u-1',
      resourceVersion: '42',
      labels: { app: 'web', 'pod-template-hash': '7d9f' },
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': 'x'.repeat(2000) },
      ownerReferences: [{ kind: 'ReplicaSet', name: 'web-7d9f', uid: 'u-0' }],
      managedFields: [
        { manager: 'kube-controller-manager', fieldsV1: { 'f:spec': { x: 'y'.repeat(1000) } } },
      ],
    },
    spec: {
      nodeName: 'node-a',
      hostNetwork: false,
      containers: [
        {
          name: 'web',
          image: 'registry.example/web:1.2.3',
          env: [{ name: 'A', value: 'b' }],
          resources: { requests: { cpu: '100m' } },
          ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
        },
      ],
      initContainers: [
        {
          name: 'proxy',
          restartPolicy: 'Always',
          image: 'p',
          ports: [{ name: 'admin', containerPort: 9901 }],
        },
      ],
      volumes: [{ name: 'v', emptyDir: {} }],
    },
    status: {
      phase: 'Running',
      podIP: '10.244.1.5',
      podIPs: [{ ip: '10.244.1.5' }, { ip: 'fd00::5' }],
      conditions: [{ type: 'Ready', status: 'True' }],
      containerStatuses: [{ name: 'web', ready: true, image: 'registry.example/web:1.2.3' }],
    },
  };
  it('holds the model of the pod and the metadata the informer keys on, nothing else', () => {
    const compact = compactObject('pods', fat);
    assert.deepEqual(modelOf(compact, toPodInfo), toPodInfo(fat));
    assert.deepEqual(metaOf(compact), metaOf(fat));
    assert.ok(JSON.stringify(compact).length * 5 < JSON.stringify(fat).length, 'a fifth of the size or less');
    assert.deepEqual(Object.keys(compact).sort(), ['apiVersion', 'kind', 'metadata', 'model']);
  });
  it('nodes and namespaces hold their models; policies are kept whole', () => {
    const node = {
      metadata: { name: 'n', resourceVersion: '1' },
      status: { addresses: [{ type: 'InternalIP', address: '192.168.1.1' }], images: ['big'] },
    };
    assert.deepEqual(modelOf(compactObject('nodes', node), toNodeInfo), toNodeInfo(node));
    const ns = { metadata: { name: 'shop', labels: { team: 'a' }, managedFields: [] } };
    assert.deepEqual(modelOf(compactObject('namespaces', ns), toNamespaceInfo), toNamespaceInfo(ns));
    const policy = { metadata: { name: 'p', namespace: 'shop' }, spec: { podSelector: {}, unknownField: 1 } };
    assert.equal(compactObject('networkpolicies', policy), policy);
  });
  it('a ClusterNetworkPolicy holds its parsed model, uid, generation and stored conditions', () => {
    const conditions = [{ type: 'Accepted', status: 'True' }];
    const cnp = {
      metadata: { name: 'deny', uid: 'u1', resourceVersion: '9', generation: 3, managedFields: [] },
      spec: { tier: 'Admin', priority: 1, subject: { namespaces: {} } },
      status: { conditions },
    };
    const compact = compactObject('clusternetworkpolicies', cnp);
    assert.deepEqual(compact, {
      metadata: { name: 'deny', uid: 'u1', resourceVersion: '9', generation: 3 },
      conditions,
      model: toClusterNetworkPolicy(cnp),
    });
    assert.deepEqual(modelOf(compact, toClusterNetworkPolicy), toClusterNetworkPolicy(cnp));
  });
  it("a GlobalNetworkPolicy or HostEndpoint holds its model, parsed as of its resource's group", () => {
    const gnp = {
      metadata: { name: 'drop', uid: 'u2', resourceVersion: '7', managedFields: [] },
      spec: { order: 20, preDNAT: true, applyOnForward: true, ingress: [{ action: 'Deny' }] },
    };
    const compact = compactObject('globalnetworkpolicies.projectcalico.org', gnp) as CompactCalicoKind;
    assert.deepEqual(compact.metadata, { name: 'drop', uid: 'u2', resourceVersion: '7' });
    assert.deepEqual(
      [compact.model.kind, compact.model.group, compact.model.name, compact.model.problems],
      ['GlobalNetworkPolicy', 'projectcalico.org', 'drop', []],
    );
    const hep = { metadata: { name: 'n', resourceVersion: '8' }, spec: { node: 'n', interfaceName: '*' } };
    const model = (compactObject('hostendpoints.crd.projectcalico.org', hep) as CompactCalicoKind).model;
    assert.deepEqual(
      [model.kind, model.group, model.problems],
      ['HostEndpoint', 'crd.projectcalico.org', []],
    );
    // A watch event carries its apiVersion: one that does not match is the parser's to report.
    const odd = { ...hep, apiVersion: 'projectcalico.org/v1', kind: 'HostEndpoint' };
    assert.equal(
      (compactObject('hostendpoints.palisade.dev', odd) as CompactCalicoKind).model.problems.length,
      1,
    );
  });
  it('is total', () => {
    for (const junk of [{}, { metadata: 'x' }, { spec: 3, status: [] }]) {
      for (const r of [
        'pods',
        'nodes',
        'namespaces',
        'clusternetworkpolicies',
        'globalnetworkpolicies.palisade.dev',
        'hostendpoints.projectcalico.org',
      ])
        metaOf(compactObject(r, junk));
    }
  });
});
