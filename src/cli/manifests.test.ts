import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isAlias, parseAllDocuments, visit } from 'yaml';
import { runManifestsCommand } from './manifests.js';
import { UsageError } from './usage.js';

function render(argv: readonly string[]): string {
  let text = '';
  assert.equal(
    runManifestsCommand(argv, (s) => {
      text += s;
    }),
    0,
  );
  return text;
}

describe('palisade manifests output', () => {
  for (const mode of ['main', 'chained']) {
    it(`--mode ${mode}: plain YAML, no anchors or aliases (read by people, diffed in reviews)`, () => {
      const text = render(['--mode', mode]);
      const docs = parseAllDocuments(text);
      assert.ok(Array.isArray(docs) && docs.length > 5, 'several documents');
      const aliases: string[] = [];
      for (const doc of docs) {
        assert.deepEqual(doc.errors, []);
        visit(doc, {
          Alias: (_key, node) => {
            if (isAlias(node)) aliases.push(`*${node.source}`);
          },
          Node: (_key, node) => {
            if (node.anchor) aliases.push(`&${node.anchor}`);
          },
        });
      }
      assert.deepEqual(aliases, []);
    });
  }
  // biome-ignore lint/suspicious/noExplicitAny: a test walking plain objects by known paths
  const objects = (argv: readonly string[]): any[] => parseAllDocuments(render(argv)).map((d) => d.toJS());
  const agentArgs = (argv: readonly string[]) => {
    const ds = objects(argv).find((o) => o.kind === 'DaemonSet');
    const command = ds.spec.template.spec.containers[1].command as string[];
    return command.slice(command.indexOf('--log-level') + 2);
  };
  const crdNames = (argv: readonly string[]) =>
    objects(argv)
      .filter((o) => o.kind === 'CustomResourceDefinition')
      .map((o) => o.metadata.name as string);
  it('--calico-groups: none, one, or both (the default), as groups or apiVersions', () => {
    assert.equal(crdNames([]).length, 7);
    assert.deepEqual(crdNames(['--calico-groups', 'none']), [
      'globalnetworkpolicies.palisade.dev',
      'hostendpoints.palisade.dev',
      'clusternetworkpolicies.policy.networking.k8s.io',
    ]);
    assert.deepEqual(agentArgs(['--calico-groups', 'none']), ['--calico-groups', 'none']);
    // The agents write the status of GlobalNetworkPolicies and HostEndpoints of the groups they read, no other.
    const statusWrites = (argv: readonly string[]) =>
      objects(argv)
        .find((o) => o.kind === 'ClusterRole')
        .rules.filter((r: { resources: string[] }) => r.resources.includes('hostendpoints/status'));
    assert.deepEqual(statusWrites(['--calico-groups', 'none']), [
      {
        apiGroups: ['palisade.dev'],
        resources: ['globalnetworkpolicies/status', 'hostendpoints/status'],
        verbs: ['update', 'patch'],
      },
    ]);
    assert.deepEqual(statusWrites([])[0].apiGroups, [
      'palisade.dev',
      'crd.projectcalico.org',
      'projectcalico.org',
    ]);
    assert.deepEqual(crdNames(['--calico-groups', 'crd.projectcalico.org/v1']).slice(2, 4), [
      'globalnetworkpolicies.crd.projectcalico.org',
      'hostendpoints.crd.projectcalico.org',
    ]);
    assert.equal(render(['--calico-groups', 'crd.projectcalico.org/v1,projectcalico.org/v3']), render([]));
    assert.throws(
      () => render(['--calico-groups', 'projectcalico.org/v1']),
      (err: unknown) =>
        err instanceof UsageError && /"projectcalico.org\/v1" is not one of/.test(err.message),
    );
  });
  it('--host-endpoint-controller with repeated --host-endpoint-label', () => {
    assert.deepEqual(
      agentArgs([
        '--host-endpoint-controller',
        '--host-endpoint-label',
        'host-endpoint=ingress',
        '--host-endpoint-label',
        'tier=edge',
      ]),
      [
        '--auto-host-endpoints',
        '--host-endpoint-label',
        'host-endpoint=ingress',
        '--host-endpoint-label',
        'tier=edge',
      ],
    );
    const role = objects(['--host-endpoint-controller']).find((o) => o.kind === 'ClusterRole');
    assert.deepEqual(role.rules.at(-1), {
      apiGroups: ['palisade.dev'],
      resources: ['hostendpoints'],
      verbs: ['create', 'patch'],
    });
    for (const [argv, message] of [
      [['--host-endpoint-label', 'a=b'], /given without hostEndpointController/],
      [['--host-endpoint-controller', '--host-endpoint-label', 'novalue'], /"novalue" must be KEY=VALUE/],
      [
        ['--host-endpoint-controller', '--host-endpoint-label', 'a=b c'],
        /value "b c" is not a valid label value/,
      ],
    ] as const) {
      assert.throws(
        () => render(argv),
        (err: unknown) => err instanceof UsageError && message.test(err.message),
      );
    }
  });
});
