// The install manifests: every object checked field by field against the Kubernetes API's own types (the
// attribute type maps of @kubernetes/client-node's generated models: an unknown field or a wrong type is an
// error), and the properties an operator relies on: least privilege, every node, the CNI entry the plugin
// accepts.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { parseRedirectConf } from '../cni/redirect-config.js';
import { parseNetworkConfigEnv } from '../install/cni-conf.js';
import { DEFAULT_VALUES, parseValues, renderManifests, type Values } from './manifests.js';

type AttributeMap = readonly { name: string; baseName: string; type: string }[];
const models = k8s as unknown as Record<string, { getAttributeTypeMap?: () => AttributeMap } | undefined>;

/** Problems of `value` against the API type `type` (a model name, a primitive, Array<T> or a map). */
function check(value: unknown, type: string, path: string, out: string[]): void {
  if (value === undefined || value === null) return;
  if (type.startsWith('Array<')) {
    if (!Array.isArray(value)) out.push(`${path}: must be a list`);
    else for (const [i, v] of value.entries()) check(v, type.slice(6, -1), `${path}[${i}]`, out);
    return;
  }
  if (type.startsWith('{ [key: string]: ')) {
    if (typeof value !== 'object' || Array.isArray(value)) out.push(`${path}: must be a map`);
    else for (const [k, v] of Object.entries(value)) check(v, type.slice(17, -3), `${path}.${k}`, out);
    return;
  }
  switch (type) {
    case 'string':
    case 'Date':
      if (typeof value !== 'string') out.push(`${path}: must be a string, got ${JSON.stringify(value)}`);
      return;
    case 'number':
      if (typeof value !== 'number') out.push(`${path}: must be a number, got ${JSON.stringify(value)}`);
      return;
    case 'boolean':
      if (typeof value !== 'boolean') out.push(`${path}: must be a boolean, got ${JSON.stringify(value)}`);
      return;
    case 'IntOrString':
      if (typeof value !== 'string' && typeof value !== 'number') out.push(`${path}: must be int or string`);
      return;
    case 'any':
    case 'object':
      return;
  }
  const attrs = models[type]?.getAttributeTypeMap?.();
  if (!attrs) {
    out.push(`${path}: unknown API type ${type}`);
    return;
  }
  if (typeof value !== 'object' || Array.isArray(value)) {
    out.push(`${path}: must be an object (${type})`);
    return;
  }
  for (const [k, v] of Object.entries(value)) {
    const a = attrs.find((x) => x.baseName === k);
    if (!a) out.push(`${path}.${k}: unknown field of ${type}`);
    else check(v, a.type, `${path}.${k}`, out);
  }
}

const MODEL: Record<string, string> = {
  Namespace: 'V1Namespace',
  ServiceAccount: 'V1ServiceAccount',
  ClusterRole: 'V1ClusterRole',
  ClusterRoleBinding: 'V1ClusterRoleBinding',
  ConfigMap: 'V1ConfigMap',
  DaemonSet: 'V1DaemonSet',
  CustomResourceDefinition: 'V1CustomResourceDefinition',
  ValidatingAdmissionPolicy: 'V1ValidatingAdmissionPolicy',
  ValidatingAdmissionPolicyBinding: 'V1ValidatingAdmissionPolicyBinding',
};

/** A structural schema (what apiextensions/v1 requires): every node typed, arrays with items, no empty nodes. */
function structural(schema: Record<string, unknown>, path: string, out: string[]): void {
  const isIntOrString = schema['x-kubernetes-int-or-string'] === true;
  if (!isIntOrString && typeof schema.type !== 'string') out.push(`${path}: no type`);
  if (schema.type === 'array') {
    if (!schema.items) out.push(`${path}: an array without items`);
    else structural(schema.items as Record<string, unknown>, `${path}[]`, out);
  }
  const props = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
  for (const [k, sub] of Object.entries(props)) structural(sub, `${path}.${k}`, out);
  if (schema.additionalProperties && typeof schema.additionalProperties === 'object')
    structural(schema.additionalProperties as Record<string, unknown>, `${path}.*`, out);
  for (const r of (schema.required ?? []) as string[])
    if (!(r in props)) out.push(`${path}: required ${r} is not a property`);
}

function problems(objs: readonly Record<string, unknown>[]): string[] {
  const out: string[] = [];
  for (const o of objs)
    check(o, MODEL[String(o.kind)] ?? `(no model for ${String(o.kind)})`, String(o.kind), out);
  return out;
}

const byKind = (objs: readonly Record<string, unknown>[], kind: string) =>
  // biome-ignore lint/suspicious/noExplicitAny: a test walking plain objects by known paths
  objs.find((o) => o.kind === kind) as Record<string, any>;

describe('install manifests', () => {
  for (const mode of ['main', 'chained'] as const) {
    it(`${mode}: every object is valid for its API type`, () => {
      assert.deepEqual(problems(renderManifests({ ...DEFAULT_VALUES, mode })), []);
    });
  }
  it("the CRDs' schemas are structural, and each resource is cluster-scoped", () => {
    const crds = renderManifests(DEFAULT_VALUES).filter((o) => o.kind === 'CustomResourceDefinition');
    // biome-ignore lint/suspicious/noExplicitAny: a test walking plain objects by known paths
    const specs = crds.map((c) => c.spec as any);
    assert.deepEqual(
      specs.map((s) => `${s.names.kind} ${s.group} ${s.scope}`),
      [
        'GlobalNetworkPolicy palisade.dev Cluster',
        'HostEndpoint palisade.dev Cluster',
        'GlobalNetworkPolicy crd.projectcalico.org Cluster',
        'HostEndpoint crd.projectcalico.org Cluster',
        'GlobalNetworkPolicy projectcalico.org Cluster',
        'HostEndpoint projectcalico.org Cluster',
        'ClusterNetworkPolicy policy.networking.k8s.io Cluster',
      ],
    );
    const out: string[] = [];
    for (const s of specs) structural(s.versions[0].schema.openAPIV3Schema, s.names.kind, out);
    assert.deepEqual(out, []);
    const broken: string[] = [];
    structural({ type: 'object', properties: { x: { type: 'array' }, y: {} }, required: ['z'] }, 'T', broken);
    assert.deepEqual(broken, [
      'T.x: an array without items',
      'T.y: no type',
      'T: required z is not a property',
    ]);
  });
  it('the check is not vacuous: a misspelt field and a wrong type are caught', () => {
    const objs = renderManifests(DEFAULT_VALUES);
    const ds = structuredClone(byKind(objs, 'DaemonSet'));
    ds.spec.template.spec.hostNetwrok = true;
    ds.spec.template.spec.containers[0].securityContext.runAsUser = 'root';
    assert.deepEqual(problems([ds]).sort(), [
      'DaemonSet.spec.template.spec.containers[0].securityContext.runAsUser: must be a number, got "root"',
      'DaemonSet.spec.template.spec.hostNetwrok: unknown field of V1PodSpec',
    ]);
  });
  it('least privilege: read what the agent watches, write only events and policy status; no wildcards, no secrets', () => {
    const role = byKind(renderManifests(DEFAULT_VALUES), 'ClusterRole');
    const rules = role.rules as { apiGroups: string[]; resources: string[]; verbs: string[] }[];
    for (const r of rules) {
      assert.ok(!r.verbs.includes('*') && !r.resources.includes('*') && !r.apiGroups.includes('*'));
      assert.ok(!r.resources.includes('secrets'));
    }
    const writes = rules.filter((r) => r.verbs.some((v) => !['get', 'list', 'watch'].includes(v)));
    assert.deepEqual(writes, [
      {
        apiGroups: ['policy.networking.k8s.io'],
        resources: ['clusternetworkpolicies/status'],
        verbs: ['update', 'patch'],
      },
      {
        apiGroups: ['palisade.dev', 'crd.projectcalico.org', 'projectcalico.org'],
        resources: ['globalnetworkpolicies/status', 'hostendpoints/status'],
        verbs: ['update', 'patch'],
      },
      { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
    ]);
    const reads = (group: string, resource: string) =>
      rules.some(
        (r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes('watch'),
      );
    assert.ok(reads('policy.networking.k8s.io', 'clusternetworkpolicies'));
    assert.ok(reads('networking.k8s.io', 'networkpolicies'));
  });
  it('the ClusterRole, exactly: by default, with the host endpoint controller, and with no Calico group', () => {
    const read = ['get', 'list', 'watch'];
    const base = (calicoKindGroups: string[]) => [
      { apiGroups: [''], resources: ['pods', 'namespaces', 'nodes'], verbs: read },
      { apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'], verbs: read },
      { apiGroups: ['policy.networking.k8s.io'], resources: ['clusternetworkpolicies'], verbs: read },
      { apiGroups: calicoKindGroups, resources: ['globalnetworkpolicies', 'hostendpoints'], verbs: read },
      {
        apiGroups: ['policy.networking.k8s.io'],
        resources: ['clusternetworkpolicies/status'],
        verbs: ['update', 'patch'],
      },
      {
        apiGroups: calicoKindGroups,
        resources: ['globalnetworkpolicies/status', 'hostendpoints/status'],
        verbs: ['update', 'patch'],
      },
      { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
    ];
    const all = ['palisade.dev', 'crd.projectcalico.org', 'projectcalico.org'];
    const rulesOf = (v: Partial<Values>) =>
      byKind(renderManifests({ ...DEFAULT_VALUES, ...v }), 'ClusterRole').rules;
    assert.deepEqual(rulesOf({}), base(all));
    assert.deepEqual(rulesOf({ calicoGroups: [] }), base(['palisade.dev']));
    assert.deepEqual(
      rulesOf({ calicoGroups: ['projectcalico.org'] }),
      base(['palisade.dev', 'projectcalico.org']),
    );
    // The controller: writes Palisade's own HostEndpoints (it reads them, and its Node, already).
    const controllerWrites = {
      apiGroups: ['palisade.dev'],
      resources: ['hostendpoints'],
      verbs: ['create', 'patch'],
    };
    assert.deepEqual(rulesOf({ hostEndpointController: true }), [...base(all), controllerWrites]);
    assert.deepEqual(rulesOf({ hostEndpointController: true, calicoGroups: [] }), [
      ...base(['palisade.dev']),
      controllerWrites,
    ]);
  });
  it('the agent: host endpoint controller flags only when on, --calico-groups only when not the default', () => {
    const agentArgs = (v: Partial<Values>) => {
      const objs = renderManifests({ ...DEFAULT_VALUES, ...v });
      assert.deepEqual(problems(objs), []);
      const command = byKind(objs, 'DaemonSet').spec.template.spec.containers[1].command as string[];
      return command.slice(command.indexOf('--log-level') + 2);
    };
    assert.deepEqual(agentArgs({}), []);
    assert.deepEqual(agentArgs({ hostEndpointController: true }), ['--auto-host-endpoints']);
    assert.deepEqual(
      agentArgs({
        hostEndpointController: true,
        hostEndpointLabels: { 'host-endpoint': 'ingress', 'example.com/role': 'edge' },
      }),
      [
        '--auto-host-endpoints',
        '--host-endpoint-label',
        'host-endpoint=ingress',
        '--host-endpoint-label',
        'example.com/role=edge',
      ],
    );
    assert.deepEqual(agentArgs({ calicoGroups: [] }), ['--calico-groups', 'none']);
    assert.deepEqual(agentArgs({ calicoGroups: ['crd.projectcalico.org'] }), [
      '--calico-groups',
      'crd.projectcalico.org',
    ]);
    const crds = renderManifests({ ...DEFAULT_VALUES, calicoGroups: [] }).filter(
      (o) => o.kind === 'CustomResourceDefinition',
    );
    assert.deepEqual(
      crds.map((c) => (c.metadata as { name: string }).name),
      [
        'globalnetworkpolicies.palisade.dev',
        'hostendpoints.palisade.dev',
        'clusternetworkpolicies.policy.networking.k8s.io',
      ],
    );
  });
  it('encryption: --encryption, a patch of nodes narrowed by an admission policy, the key dir and the TUN device', () => {
    const off = renderManifests(DEFAULT_VALUES);
    assert.ok(!off.some((o) => o.kind === 'ValidatingAdmissionPolicy'));
    const objs = renderManifests({ ...DEFAULT_VALUES, encryption: 'wireguard' });
    assert.deepEqual(problems(objs), []);
    const rules = byKind(objs, 'ClusterRole').rules as { resources: string[]; verbs: string[] }[];
    assert.deepEqual(
      rules.filter((r) => r.verbs.includes('patch') && r.resources.includes('nodes')),
      [{ apiGroups: [''], resources: ['nodes'], verbs: ['patch'] }],
    );
    const policy = byKind(objs, 'ValidatingAdmissionPolicy');
    assert.match(
      JSON.stringify(policy.spec.matchConditions),
      /system:serviceaccount:palisade-system:palisade/,
    );
    assert.equal(byKind(objs, 'ValidatingAdmissionPolicyBinding').spec.policyName, policy.metadata.name);
    const pod = byKind(objs, 'DaemonSet').spec.template.spec;
    const command = pod.containers[1].command as string[];
    assert.deepEqual(command.slice(command.indexOf('--log-level') + 2), ['--encryption', 'wireguard']);
    const mounts = (pod.containers[1].volumeMounts as { mountPath: string }[]).map((m) => m.mountPath);
    assert.ok(mounts.includes('/var/lib/palisade') && mounts.includes('/dev/net/tun'));
    assert.deepEqual((parseValues({ encryption: 'ipsec2' }, 'v.yaml') as { errors: string[] }).errors, [
      'v.yaml: encryption: "ipsec2" must be one of off, wireguard, ipsec',
    ]);
  });
  it('IPsec: no API write, the pre-shared key from the Secret, owner-readable only', () => {
    const objs = renderManifests({ ...DEFAULT_VALUES, encryption: 'ipsec' });
    assert.deepEqual(problems(objs), []);
    assert.ok(!objs.some((o) => o.kind === 'ValidatingAdmissionPolicy'));
    const rules = byKind(objs, 'ClusterRole').rules as { resources: string[]; verbs: string[] }[];
    assert.ok(!rules.some((r) => r.resources.includes('nodes') && r.verbs.includes('patch')));
    const pod = byKind(objs, 'DaemonSet').spec.template.spec;
    const psk = (
      pod.volumes as { name: string; secret?: { secretName: string; defaultMode: number } }[]
    ).find((v) => v.secret);
    assert.deepEqual([psk?.secret?.secretName, psk?.secret?.defaultMode], ['palisade-ipsec', 0o400]);
    const command = pod.containers[1].command as string[];
    assert.deepEqual(command.slice(command.indexOf('--log-level') + 2), ['--encryption', 'ipsec']);
  });
  it('repair on: the agent gets --repair and exactly the one pod verb it needs', () => {
    for (const [repair, verb] of [
      ['label', 'patch'],
      ['delete', 'delete'],
    ] as const) {
      const objs = renderManifests({ ...DEFAULT_VALUES, mode: 'chained', repair });
      assert.deepEqual(problems(objs), []);
      const rules = byKind(objs, 'ClusterRole').rules as { resources: string[]; verbs: string[] }[];
      const podWrites = rules.filter((r) => r.resources.includes('pods') && !r.verbs.includes('get'));
      assert.deepEqual(
        podWrites.map((r) => r.verbs),
        [[verb]],
      );
      const agent = byKind(objs, 'DaemonSet').spec.template.spec.containers[1];
      assert.deepEqual(agent.command.slice(-4), [
        '--repair',
        repair,
        '--redirect-config',
        '$(CNI_NETWORK_CONFIG)',
      ]);
    }
  });
  it('the DaemonSet runs on every node, on the host network, with only the capabilities it needs', () => {
    const ds = byKind(renderManifests(DEFAULT_VALUES), 'DaemonSet');
    const pod = ds.spec.template.spec;
    assert.equal(pod.hostNetwork, true);
    assert.deepEqual(pod.tolerations, [{ operator: 'Exists' }]);
    const [install, agent] = pod.containers;
    assert.deepEqual(install.securityContext.capabilities, { drop: ['ALL'] });
    assert.deepEqual(agent.securityContext.capabilities.add, ['NET_ADMIN', 'NET_RAW', 'SYS_ADMIN']);
    assert.ok(!install.securityContext.privileged && !agent.securityContext.privileged);
    for (const c of pod.containers) assert.ok(c.readinessProbe?.httpGet, `${c.name} has a readiness probe`);
  });
  it('chained: the ConfigMap entry is one the plugin accepts, with the install namespace excluded', () => {
    const v: Values = { ...DEFAULT_VALUES, mode: 'chained', namespace: 'palisade' };
    const cm = byKind(renderManifests(v), 'ConfigMap');
    const parsed = parseNetworkConfigEnv(cm.data.cni_network_config, {
      KUBECONFIG_FILEPATH: '/etc/cni/net.d/palisade-kubeconfig',
    });
    assert.ok('entry' in parsed, JSON.stringify(parsed));
    const conf = parseRedirectConf({ cniVersion: '1.0.0', name: 'k8s', ...parsed.entry }, 'DEL');
    assert.deepEqual(conf.excludeNamespaces, ['kube-system', 'palisade']);
    assert.equal(conf.kubeconfig, '/etc/cni/net.d/palisade-kubeconfig');
  });
  it("the default image is this release's, as `make image` tags it (image/build.sh takes the tag from here)", () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    assert.equal(DEFAULT_VALUES.image, `localhost/palisade:${(pkg as { version: string }).version}`);
  });
  it('values: defaults, overrides, and every problem named', () => {
    assert.deepEqual(parseValues(undefined), DEFAULT_VALUES);
    const v = parseValues({ mode: 'chained', image: 'registry.local/palisade:dev', proxyPort: 15010 });
    assert.ok(!('errors' in v) && v.mode === 'chained' && v.proxyPort === 15010);
    const bad = parseValues({ mode: 'sidecar', proxyPort: 0, imag: 'x', cniBinDir: 'opt/cni' }, 'v.yaml');
    assert.ok('errors' in bad);
    assert.equal(bad.errors.length, 4, bad.errors.join('\n'));
    assert.ok(bad.errors.some((e) => e.startsWith('v.yaml: imag: unknown key')));
  });
  it("values: Calico's groups and the host endpoint controller, every problem named", () => {
    const ok = (raw: Record<string, unknown>) => {
      const v = parseValues(raw);
      assert.ok(!('errors' in v), JSON.stringify(v));
      return v;
    };
    assert.deepEqual(ok({ calicoGroups: [] }).calicoGroups, []);
    assert.deepEqual(ok({ calicoGroups: 'none' }).calicoGroups, []);
    assert.deepEqual(ok({ calicoGroups: ['projectcalico.org/v3', 'crd.projectcalico.org'] }).calicoGroups, [
      'crd.projectcalico.org',
      'projectcalico.org',
    ]);
    assert.deepEqual(ok({ calicoGroups: 'projectcalico.org/v3' }).calicoGroups, ['projectcalico.org']);
    assert.deepEqual(
      ok({ hostEndpointController: true, hostEndpointLabels: { 'host-endpoint': 'ingress' } })
        .hostEndpointLabels,
      { 'host-endpoint': 'ingress' },
    );
    const bad = parseValues(
      {
        calicoGroups: ['projectcalico.org/v1', 'palisade.dev'],
        hostEndpointController: 'yes',
        hostEndpointLabels: { 'bad key!': 'x', ok: 'a b' },
      },
      'v.yaml',
    );
    assert.deepEqual('errors' in bad && bad.errors, [
      'v.yaml: hostEndpointController: "yes" must be true or false',
      'v.yaml: hostEndpointLabels: key "bad key!" is not a valid label key',
      'v.yaml: hostEndpointLabels["ok"]: value "a b" is not a valid label value',
      'v.yaml: hostEndpointLabels: given without hostEndpointController: true',
      'v.yaml: calicoGroups: "projectcalico.org/v1" is not one of crd.projectcalico.org/v1, projectcalico.org/v3 (or "none")',
      'v.yaml: calicoGroups: "palisade.dev" is not one of crd.projectcalico.org/v1, projectcalico.org/v3 (or "none")',
    ]);
  });
});
