// The API fallback of pod facts (the plugin asks the API server itself): it holds one pod for one decision, so
// every annotation comes whole, however long, and selection decides on exactly what the pod carries.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CODESEALER_PROFILE } from '../chained/profile.js';
import { decideRedirect } from '../chained/selection.js';
import { FakeApiServer } from '../datastore/testdata/fake-apiserver.js';
import { makeNamespace, makePod } from '../datastore/testdata/kube-testkit.js';
import { createNullLogger } from '../util/log.js';
import { podFacts } from './pod-facts.js';
import { parseRedirectConf } from './redirect-config.js';

const dir = mkdtempSync(join(tmpdir(), 'palisade-facts-api-'));
const STATUS = JSON.stringify({ containers: ['codesealer-core'], volumes: 'v'.repeat(4000) });
const LAST_APPLIED = 'y'.repeat(3000);
let api: FakeApiServer;

before(async () => {
  api = await FakeApiServer.create({ token: 'tok' });
  api.add('namespaces', makeNamespace('shop', { 'codesealer.com/webhook': 'enabled' }));
  api.add(
    'pods',
    makePod('shop', 'web', { app: 'web' }, (p) => {
      (p as unknown as { metadata: Record<string, unknown> }).metadata.annotations = {
        'sidecar.codesealer.com/status': STATUS,
        'kubectl.kubernetes.io/last-applied-configuration': LAST_APPLIED,
      };
      p.spec.containers = [{ name: 'web', ports: [{ containerPort: 8080 }] }, { name: 'codesealer-core' }];
    }),
  );
});
after(async () => {
  await api.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('podFacts from the API server', () => {
  it('keeps every annotation whole, and a long status annotation selects the pod', async () => {
    const conf = parseRedirectConf(
      {
        cniVersion: '1.0.0',
        name: 'n',
        type: 'palisade-cni',
        mode: 'redirect',
        agentSocket: join(dir, 'no-agent.sock'),
        agentTimeoutMs: 1000,
        kubeconfig: api.writeKubeconfig(dir),
        prevResult: { cniVersion: '1.0.0', interfaces: [], ips: [] },
      },
      'ADD',
    );
    const f = await podFacts(conf, 'shop', 'web', createNullLogger());
    assert.equal(f.source, 'api');
    assert.deepEqual(f.pod.annotations, {
      'sidecar.codesealer.com/status': STATUS,
      'kubectl.kubernetes.io/last-applied-configuration': LAST_APPLIED,
    });
    const decision = decideRedirect(
      { excludeNamespaces: [], profile: CODESEALER_PROFILE },
      f.namespace,
      f.pod,
    );
    assert.deepEqual(decision.kind === 'redirect' && decision.ports, [8080], decision.reason);
  });
});
