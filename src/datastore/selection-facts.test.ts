// Chained-mode selection decides the same on the pod model either datastore keeps as on the whole Pod: a long
// annotation value (an injector's status, a long port list, kubectl's last-applied-configuration) never makes
// its key look absent, and never changes a decision. The model may leave a long value out (memory: 10k pods),
// but only one no selection rule could read differently; the key stays, with null for "present, value not kept".
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CODESEALER_PROFILE } from '../chained/profile.js';
import { type Decision, decideRedirect, type PodFacts, podFactsOf } from '../chained/selection.js';
import type { PodInfo } from '../model/cluster.js';
import { ValidationError } from '../model/k8s.js';
import { parseManifests } from '../model/manifests.js';
import { snapshotFromObjects } from './dir.js';
import { compactObject, modelOf, toPodInfo } from './kube-convert.js';

const CFG = { excludeNamespaces: [], profile: CODESEALER_PROFILE };
const NS = { name: 'shop', labels: { 'codesealer.com/webhook': 'enabled' } };
const STATUS = 'sidecar.codesealer.com/status';
const PORTS = 'codesealer.com/dport';
const INJECTION = 'codesealer.com/injection';
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/** What a sidecar injector writes: a JSON status of a few KiB. */
const LONG_STATUS = JSON.stringify({
  version: 'a'.repeat(64),
  initContainers: null,
  containers: ['codesealer-core'],
  volumes: Array.from({ length: 60 }, (_, i) => `codesealer-volume-${i}`),
  imagePullSecrets: null,
  revision: 'default',
});
const MANY_PORTS = Array.from({ length: 400 }, (_, i) => String(20_000 + i)).join(',');

/** A Pod as the API server sends it: an app container on 8080/TCP and the proxy sidecar. */
function apiPod(annotations: Record<string, string>): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { namespace: 'shop', name: 'web', uid: 'u1', annotations },
    spec: {
      nodeName: 'n1',
      containers: [
        { name: 'app', ports: [{ containerPort: 8080 }] },
        { name: 'codesealer-core', ports: [{ containerPort: 15006 }] },
      ],
    },
    status: { phase: 'Running', podIP: '10.0.0.5' },
  };
}

/** The same pod's facts with every annotation whole: what selection would see with nothing left out. */
function wholeFacts(annotations: Record<string, string>): PodFacts {
  return {
    namespace: 'shop',
    name: 'web',
    labels: {},
    annotations,
    containers: [
      { name: 'app', ports: [{ containerPort: 8080, protocol: 'TCP' }] },
      { name: 'codesealer-core', ports: [{ containerPort: 15006, protocol: 'TCP' }] },
    ],
    initContainers: [],
  };
}

/** The pod model of each way a pod reaches selection in the agent. */
const MODELS: Readonly<Record<string, (annotations: Record<string, string>) => PodInfo>> = {
  'kubernetes datastore (compacted in the informer cache)': (a) =>
    modelOf(compactObject('pods', apiPod(a)), toPodInfo),
  'dir datastore (manifest files)': (a) => {
    const pods = snapshotFromObjects(parseManifests(JSON.stringify(apiPod(a)), 'pod.json'), '1').pods;
    assert.equal(pods.length, 1);
    return pods[0]!;
  },
};

/** The facts the agent's socket sends the plugin: JSON, so null must survive the trip. */
const overSocket = (pod: PodInfo): PodFacts => JSON.parse(JSON.stringify(podFactsOf(pod))) as PodFacts;

interface Row {
  readonly name: string;
  readonly annotations: Record<string, string>;
  readonly kind: Decision['kind'];
  readonly ports?: readonly number[];
}

const ROWS: readonly Row[] = [
  {
    name: 'a status annotation of a few KiB is present',
    annotations: { [STATUS]: LONG_STATUS },
    kind: 'redirect',
    ports: [8080],
  },
  {
    name: 'a port list over 1 KiB is read whole',
    annotations: { [STATUS]: LONG_STATUS, [PORTS]: MANY_PORTS },
    kind: 'redirect',
    ports: MANY_PORTS.split(',').map(Number),
  },
  {
    name: 'a long malformed port list is still invalid (the ADD fails), not ignored',
    annotations: { [STATUS]: 'injected', [PORTS]: `8080,${'x'.repeat(2000)}` },
    kind: 'invalid',
  },
  {
    name: 'a long injection value is no off word',
    annotations: { [STATUS]: LONG_STATUS, [INJECTION]: 'false'.repeat(300) },
    kind: 'redirect',
    ports: [8080],
  },
  {
    name: 'an off word padded past 1 KiB is still off',
    annotations: { [STATUS]: LONG_STATUS, [INJECTION]: `${' '.repeat(2000)}Off\n` },
    kind: 'skip',
  },
  {
    name: 'long values of keys no rule reads change nothing',
    annotations: { [STATUS]: 'injected', [LAST_APPLIED]: 'y'.repeat(5000), [INJECTION]: 'off' },
    kind: 'skip',
  },
];

describe('selection on the pod model of both datastores', () => {
  for (const [model, toModel] of Object.entries(MODELS)) {
    for (const row of ROWS) {
      it(`${model}: ${row.name}`, () => {
        const want = decideRedirect(CFG, NS, wholeFacts(row.annotations));
        assert.equal(want.kind, row.kind, want.reason);
        const got = decideRedirect(CFG, NS, overSocket(toModel(row.annotations)));
        assert.equal(got.kind, want.kind, got.reason);
        if (row.ports) assert.deepEqual(got.kind === 'redirect' && got.ports, row.ports);
      });
    }
  }

  it('every key is kept; a long value no rule could read is left out as null (memory)', () => {
    const annotations = {
      [STATUS]: LONG_STATUS,
      [PORTS]: MANY_PORTS,
      [LAST_APPLIED]: 'y'.repeat(5000),
      short: 'kept',
    };
    for (const toModel of Object.values(MODELS)) {
      assert.deepEqual(toModel(annotations).workload?.annotations, {
        [STATUS]: null,
        [PORTS]: MANY_PORTS,
        [LAST_APPLIED]: null,
        short: 'kept',
      });
    }
  });

  it('dir datastore: an annotation value that is not a string is a problem naming it, never a dropped key', () => {
    const pod = apiPod({ [STATUS]: 'injected' });
    (pod.metadata as { annotations: Record<string, unknown> }).annotations[PORTS] = 8080; // unquoted in YAML
    assert.throws(
      () => parseManifests(JSON.stringify(pod), 'pod.json'),
      (err: unknown) =>
        err instanceof ValidationError &&
        /^pod\.json: document 1 \(Pod shop\/web\): metadata\.annotations\["codesealer\.com\/dport"\]: 8080 must be a string \(quote it\)$/.test(
          err.message,
        ),
    );
  });
});
