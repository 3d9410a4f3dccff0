// The agent's right to publish its WireGuard key, on the real API server (issue 12): the manifests' RBAC lets
// the agents' ServiceAccount patch Nodes, and their ValidatingAdmissionPolicy narrows that to the one
// annotation: the kube datastore's annotateNode (the agent's own code path) succeeds, while the same account
// changing a label, another annotation or the spec is refused with the policy's message; with a token bound to
// a Node (as a pod's is, with its node's name), only that Node. Objects as `palisade manifests --encryption
// wireguard` renders them, applied with kubectl.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createKubeDatastore } from '../src/datastore/kube.js';
import { loadKubeConfig } from '../src/datastore/kube-client.js';
import { HttpMethod, sendJson } from '../src/datastore/kube-rest.js';
import { parseValues, renderManifests, SERVICE_ACCOUNT } from '../src/deploy/manifests.js';
import { kubeconfig } from '../src/lab/kube/kubeconfig.js';
import { WIREGUARD_ANNOTATION } from '../src/model/wireguard.js';
import { createNullLogger } from '../src/util/log.js';
import { type KubeApi, startKubeApi } from './helpers/kube-api.js';

const NAMESPACE = 'palisade-system';
const VALUE = JSON.stringify({ publicKey: `${'A'.repeat(43)}=`, port: 51820 });

describe('publishing the WireGuard key: RBAC and the admission policy, on the real API server', () => {
  let api: KubeApi;
  const kubeconfigs: Record<'any' | 'node1', string> = { any: '', node1: '' };

  /** A kubeconfig for a token of the agents' ServiceAccount (extra kubectl create token flags). */
  async function tokenKubeconfig(name: string, ...flags: string[]): Promise<string> {
    const token = join(api.fx.tmp, `${name}.token`);
    writeFileSync(
      token,
      (
        await api.kubectl('create', 'token', SERVICE_ACCOUNT, '-n', NAMESPACE, '--duration=1h', ...flags)
      ).trim(),
    );
    const path = join(api.fx.tmp, `${name}.kubeconfig`);
    writeFileSync(
      path,
      JSON.stringify(
        kubeconfig({
          server: api.server,
          caFile: api.paths.pki.caCert,
          user: name,
          credentials: { tokenFile: token },
        }),
      ),
    );
    return path;
  }

  const annotate = (who: 'any' | 'node1', node: string, key = WIREGUARD_ANNOTATION, value = VALUE) =>
    createKubeDatastore({
      log: createNullLogger(),
      kubeConfig: kubeconfigs[who],
      clusterPolicyStatus: false,
    }).annotateNode(node, key, value);
  const patch = (who: 'any' | 'node1', node: string, body: object) =>
    sendJson(loadKubeConfig(kubeconfigs[who]), {
      method: HttpMethod.PATCH,
      path: `/api/v1/nodes/${node}`,
      patch: 'merge',
      body,
    });

  before(async () => {
    api = await startKubeApi('per');
    const v = parseValues({ mode: 'main', namespace: NAMESPACE, encryption: 'wireguard' });
    if ('errors' in v) throw new Error(v.errors.join('; '));
    const kinds = ['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding'];
    const objs = renderManifests(v);
    await api.apply(objs.filter((o) => kinds.includes(String(o.kind))));
    await api.apply(objs.filter((o) => String(o.kind).startsWith('ValidatingAdmissionPolicy')));
    await api.apply(
      ['node-1', 'node-2'].map((name) => ({
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name, labels: { 'kubernetes.io/hostname': name }, annotations: { keep: 'me' } },
        spec: { podCIDR: name === 'node-1' ? '10.244.0.0/24' : '10.244.1.0/24' },
      })),
    );
    const uid = (await api.kubectl('get', 'node', 'node-1', '-o', 'jsonpath={.metadata.uid}')).trim();
    kubeconfigs.any = await tokenKubeconfig('any');
    kubeconfigs.node1 = await tokenKubeconfig(
      'node1',
      '--bound-object-kind',
      'Node',
      '--bound-object-name',
      'node-1',
      '--bound-object-uid',
      uid,
    );
    // The policy takes effect once the API server has loaded it: retry the first refusal for a while.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const refused = await patch('any', 'node-2', { metadata: { labels: { probe: 'x' } } }).then(
        () => false,
        () => true,
      );
      if (refused) break;
      await api.kubectl('label', 'node', 'node-2', 'probe-');
      if (Date.now() > deadline) throw new Error('the admission policy did not take effect within 30 s');
      await new Promise((r) => setTimeout(r, 500));
    }
  });
  after(async () => {
    await api?.cleanup();
  });

  it("the agent's own annotateNode publishes the key", async () => {
    await annotate('any', 'node-1');
    const got = await api.kubectl('get', 'node', 'node-1', '-o', 'json');
    const annotations = JSON.parse(got).metadata.annotations as Record<string, string>;
    assert.equal(annotations[WIREGUARD_ANNOTATION], VALUE);
    assert.equal(annotations.keep, 'me', 'the other annotations stay');
  });

  it('anything else of a Node is refused with the policy message: a label, another annotation, the spec', async () => {
    const refused = async (what: string, p: Promise<unknown>) =>
      assert.rejects(p, /may change only the palisade\.dev\/wireguard annotation/, what);
    await refused('a label', patch('any', 'node-1', { metadata: { labels: { role: 'x' } } }));
    await refused('another annotation', annotate('any', 'node-1', 'keep', 'changed'));
    await refused('removing one', patch('any', 'node-1', { metadata: { annotations: { keep: null } } }));
    await refused('the spec', patch('any', 'node-1', { spec: { unschedulable: true } }));
    const node = JSON.parse(await api.kubectl('get', 'node', 'node-1', '-o', 'json'));
    assert.equal(node.metadata.labels.role, undefined);
    assert.equal(node.spec.unschedulable, undefined);
  });

  it('a token bound to node-1 publishes on node-1 only', async () => {
    await annotate('node1', 'node-1');
    await assert.rejects(
      annotate('node1', 'node-2'),
      /the palisade agent of node node-1 may not change Node node-2/,
    );
  });

  it('RBAC: the account cannot write a Node it may only annotate through the main resource (no status, no delete)', async () => {
    await assert.rejects(
      sendJson(loadKubeConfig(kubeconfigs.any), {
        method: HttpMethod.PATCH,
        path: '/api/v1/nodes/node-1/status',
        patch: 'merge',
        body: { status: { phase: 'x' } },
      }),
      /forbidden/i,
    );
    await assert.rejects(
      sendJson(loadKubeConfig(kubeconfigs.any), { method: HttpMethod.DELETE, path: '/api/v1/nodes/node-2' }),
      /forbidden/i,
    );
  });
});
