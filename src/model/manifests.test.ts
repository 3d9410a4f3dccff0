import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ValidationError } from './k8s.js';
import {
  calicoKindProblems,
  clusterNetworkPolicyProblems,
  networkPolicyProblems,
  parseManifests,
} from './manifests.js';
import { SEED_POLICY_NAMES, seedYaml } from './testdata/seed-003-calico.js';

function problems(text: string): string[] {
  try {
    parseManifests(text, 'f.yaml');
  } catch (err) {
    assert.ok(err instanceof ValidationError);
    return [...err.problems];
  }
  assert.fail('expected a ValidationError');
}

describe('parseManifests', () => {
  it('reads namespaces and pods, defaults namespace and protocol', () => {
    const objs = parseManifests(`
apiVersion: v1
kind: Namespace
metadata: { name: shop, labels: { team: a } }
---
apiVersion: v1
kind: Pod
metadata: { name: web, labels: { app: web } }
spec:
  nodeName: node-1
  containers:
    - name: c
      ports: [{ name: http, containerPort: 80 }, { containerPort: 53, protocol: UDP }]
`);
    assert.deepEqual(objs, [
      { kind: 'Namespace', name: 'shop', labels: { team: 'a' } },
      {
        kind: 'Pod',
        namespace: 'default',
        name: 'web',
        labels: { app: 'web' },
        nodeName: 'node-1',
        ports: [
          { name: 'http', containerPort: 80, protocol: 'TCP' },
          { name: undefined, containerPort: 53, protocol: 'UDP' },
        ],
        ips: [],
        annotations: {},
        containers: [
          {
            name: 'c',
            ports: [
              { name: 'http', containerPort: 80, protocol: 'TCP' },
              { name: undefined, containerPort: 53, protocol: 'UDP' },
            ],
          },
        ],
        initContainers: [],
      },
    ]);
  });
  it('reads pod and node addresses from status', () => {
    const [pod, node] = parseManifests(`
apiVersion: v1
kind: Pod
metadata: { name: web, namespace: shop }
spec: { containers: [{ name: c }] }
status: { podIP: 10.244.1.5, podIPs: [{ ip: 10.244.1.5 }, { ip: "fd00::5" }] }
---
apiVersion: v1
kind: Node
metadata: { name: node-1, labels: { kubernetes.io/hostname: node-1, zone: a }, annotations: { a: b } }
spec: { podCIDRs: [10.244.0.0/24, "fd00:244::/64"] }
status: { addresses: [{ type: Hostname, address: node-1 }, { type: InternalIP, address: 198.18.0.11 }] }
`);
    assert.deepEqual(pod?.kind === 'Pod' && pod.ips, ['10.244.1.5', 'fd00::5']);
    assert.deepEqual(node, {
      kind: 'Node',
      name: 'node-1',
      labels: { 'kubernetes.io/hostname': 'node-1', zone: 'a' },
      ips: ['198.18.0.11'],
      podCIDRs: ['10.244.0.0/24', 'fd00:244::/64'],
      annotations: { a: 'b' },
    });
    assert.deepEqual(
      problems('apiVersion: v1\nkind: Node\nmetadata: {name: n}\nspec: {podCIDR: 10.0.0.1/8}\n'),
      [
        'f.yaml: document 1 (Node n): spec.podCIDR: "10.0.0.1/8" is not a CIDR ("10.0.0.1/8" has host bits set; the network is 10.0.0.0/8)',
      ],
    );
    assert.deepEqual(problems('apiVersion: v1\nkind: Node\nmetadata: {name: n, labels: {zone: "a b"}}\n'), [
      'f.yaml: document 1 (Node n): metadata.labels["zone"]: value "a b" is not a valid label value',
    ]);
    assert.match(
      problems(
        'apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{}]}\nstatus: {podIP: nope}\n',
      ).join('\n'),
      /status.podIP: "nope" is not an IP address/,
    );
  });
  it('flattens a List and skips empty documents', () => {
    const objs = parseManifests(
      '---\n---\n{"kind":"List","apiVersion":"v1","items":[{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a"}}]}',
    );
    assert.equal(objs.length, 1);
  });
  it('keeps other kinds for the caller to judge', () => {
    const [o, calico] = parseManifests(
      'apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec: {}\n---\n' +
        'apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: shop}\n',
    );
    assert.equal(o?.kind, 'Other');
    assert.equal(calico?.kind, 'Other');
  });
  it('returns NetworkPolicies, with their problems rather than throwing', () => {
    const objs = parseManifests(
      'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: shop}\nspec: {}\n---\n' +
        'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: bad}\n' +
        'spec: {ingress: [{ports: [{protocol: ICMP}]}]}\n',
    );
    assert.deepEqual(
      objs.map((o) =>
        o.kind === 'NetworkPolicy' ? [o.namespace, o.name, o.policyTypes, o.problems.length] : o.kind,
      ),
      [
        ['shop', 'deny', ['Ingress'], 0],
        ['default', 'bad', ['Ingress'], 1],
      ],
    );
    assert.deepEqual(networkPolicyProblems(objs), [
      'default/bad: spec.ingress[0].ports[0].protocol: "ICMP" must be one of TCP, UDP, SCTP',
    ]);
  });
  it('returns ClusterNetworkPolicies (policy.networking.k8s.io only), with their problems rather than throwing', () => {
    const objs = parseManifests(
      'apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: deny-db}\n' +
        'spec: {tier: Admin, priority: 5, subject: {namespaces: {}},\n' +
        '  egress: [{action: Deny, to: [{networks: [10.1.2.3/16]}]}]}\n---\n' +
        'apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: bad}\n' +
        'spec: {tier: Middle, priority: 5, subject: {namespaces: {}}}\n---\n' +
        'apiVersion: crd.antrea.io/v1beta1\nkind: ClusterNetworkPolicy\nmetadata: {name: antrea}\nspec: {}\n',
    );
    assert.deepEqual(
      objs.map((o) =>
        o.kind === 'ClusterNetworkPolicy' ? [o.name, o.tier, o.priority, o.problems.length] : o.kind,
      ),
      [['deny-db', 'Admin', 5, 0], ['bad', 'Admin', 5, 1], 'Other'],
    );
    const first = objs[0];
    assert.deepEqual(first?.kind === 'ClusterNetworkPolicy' && first.egress[0]?.peers, [
      { kind: 'networks', networks: ['10.1.0.0/16'] },
    ]);
    assert.deepEqual(clusterNetworkPolicyProblems(objs), [
      'bad: spec.tier: "Middle" must be one of Admin, Baseline',
    ]);
    assert.deepEqual(networkPolicyProblems(objs), []);
  });
  it('returns GlobalNetworkPolicies and HostEndpoints of each group they are served as, with their problems', () => {
    const objs = parseManifests(
      `${seedYaml('node-a')}---
apiVersion: palisade.dev/v1
kind: GlobalNetworkPolicy
metadata: {name: allow-outbound-external}
spec: {selector: all(), egress: [{action: Allow, source: {nets: [10.0.0.1/8]}}]}
---
apiVersion: palisade.dev/v1
kind: HostEndpoint
metadata: {name: node-a-eth0}
spec: {node: node-a, interfaceName: eth0, expectedIPs: [198.18.0.11]}
---
apiVersion: projectcalico.org/v1
kind: GlobalNetworkPolicy
metadata: {name: old}
spec: {}
`,
      'f.yaml',
    );
    assert.deepEqual(
      objs.map(
        (o) =>
          `${o.kind} ${'group' in o ? o.group : '-'} ${o.name} ${'problems' in o ? o.problems.length : '-'}`,
      ),
      [
        ...SEED_POLICY_NAMES.map((n) => `GlobalNetworkPolicy projectcalico.org ${n} 0`),
        'HostEndpoint crd.projectcalico.org node-a 0',
        'GlobalNetworkPolicy palisade.dev allow-outbound-external 1',
        'HostEndpoint palisade.dev node-a-eth0 0',
        'Other - old -',
      ],
    );
    assert.deepEqual(calicoKindProblems(objs), [
      'gnp:allow-outbound-external: spec.egress[0].source.nets[0]: "10.0.0.1/8" has host bits set (the network is 10.0.0.0/8)',
    ]);
  });
  it('reports every problem with document, field and value', () => {
    const got = problems(`
apiVersion: v1
kind: Pod
metadata: { name: Web_1, namespace: shop, labels: { "bad key!": x, ok: "no spaces" } }
spec:
  containers:
    - ports: [{ containerPort: 70000 }, { containerPort: 80, protocol: ICMP }, { name: Http, containerPort: 81 }]
`);
    assert.deepEqual(got, [
      'f.yaml: document 1 (Pod shop/Web_1): metadata.name: "Web_1" is not a valid pod name',
      'f.yaml: document 1 (Pod shop/Web_1): metadata.labels: key "bad key!" is not a valid label key',
      'f.yaml: document 1 (Pod shop/Web_1): metadata.labels["ok"]: value "no spaces" is not a valid label value',
      'f.yaml: document 1 (Pod shop/Web_1): spec.containers[0].ports[0].containerPort: 70000 must be an integer from 1 to 65535',
      'f.yaml: document 1 (Pod shop/Web_1): spec.containers[0].ports[1].protocol: "ICMP" must be one of TCP, UDP, SCTP',
      'f.yaml: document 1 (Pod shop/Web_1): spec.containers[0].ports[2].name: "Http" is not a valid port name (IANA_SVC_NAME, at most 15 chars)',
    ]);
  });
  it('rejects a duplicate port and a missing container list', () => {
    assert.match(
      problems(
        'apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{ports: [{containerPort: 80}, {containerPort: 80}]}]}\n',
      ).join('\n'),
      /port 80\/TCP is declared twice/,
    );
    assert.match(
      problems('apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {}\n').join('\n'),
      /spec.containers: must list/,
    );
  });
  it('reports invalid YAML with its document number', () => {
    assert.match(problems('a: b\n---\nkey: [unclosed\n').join('\n'), /f.yaml: document 2: invalid YAML/);
  });
});
