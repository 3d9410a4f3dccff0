// The ClusterNetworkPolicy status writer with a scripted `send` (the requests it makes, and answers such as a
// conflict or a failure on demand, which a real API server cannot be made to give at the right moment). The
// writes themselves, by one agent and by two at once, run on the real API server in
// test/kube-cluster-policy.test.ts.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { HttpMethod } from '@kubernetes/client-node';
import { KubeApiError } from './kube-client.js';
import {
  CLUSTER_POLICIES_PATH,
  type ClusterPolicyStatusWriter,
  clusterPolicyEventMessage,
  clusterPolicyEventName,
  createClusterPolicyStatusWriter,
} from './kube-cluster-policy-status.js';
import { type CompactClusterPolicy, compactObject } from './kube-convert.js';
import type { JsonRequest } from './kube-rest.js';
import { captureLogger, eventually } from './testdata/kube-testkit.js';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const T = '2026-03-01T12:00:00Z';
const VALID = { tier: 'Admin', priority: 1, subject: { namespaces: {} } };
const INVALID = { ...VALID, subject: { namespaces: { matchLabels: { app: 'a b' } } } };
const PROBLEM = 'spec.subject.namespaces.matchLabels["app"]: value "a b" is not a valid label value';

function cnp(spec: object, rv: string, conditions?: unknown, generation = 1): Record<string, unknown> {
  return {
    apiVersion: 'policy.networking.k8s.io/v1alpha2',
    kind: 'ClusterNetworkPolicy',
    metadata: { name: 'p', uid: 'uid-1', resourceVersion: rv, generation },
    spec,
    ...(conditions ? { status: { conditions } } : {}),
  };
}
const compact = (o: Record<string, unknown>) =>
  compactObject('clusternetworkpolicies', o) as CompactClusterPolicy;

const ACCEPTED = [
  {
    type: 'Accepted',
    status: 'True',
    reason: 'Accepted',
    message: 'The policy is valid',
    observedGeneration: 1,
    lastTransitionTime: T,
  },
  {
    type: 'Programmed',
    status: 'True',
    reason: 'Programmed',
    message: 'Programmed as written',
    observedGeneration: 1,
    lastTransitionTime: T,
  },
];

type Answer = (req: JsonRequest) => unknown;
const conflict = (req: JsonRequest) => {
  throw new KubeApiError(req.path, 409, 'the object has been modified');
};

function setup(objects: () => readonly CompactClusterPolicy[], answers: Answer[] = []) {
  const requests: JsonRequest[] = [];
  const { log, records } = captureLogger();
  const writer = createClusterPolicyStatusWriter({
    objects,
    log,
    node: 'node-a',
    jitterMs: 0,
    retryMs: 20,
    now: () => NOW,
    send: async (req) => {
      requests.push(req);
      const answer = answers.shift();
      return JSON.stringify(answer ? answer(req) : {});
    },
  });
  current = writer;
  const brief = () => requests.map((r) => `${r.method} ${r.path}`);
  return { writer, requests, records, brief };
}

let current: ClusterPolicyStatusWriter | undefined;
afterEach(async () => {
  await current?.stop();
  current = undefined;
});

const PATH = `${CLUSTER_POLICIES_PATH}/p`;

describe('ClusterNetworkPolicy status writer', () => {
  it('writes Accepted and Programmed through the status subresource, from the version it read', async () => {
    const { writer, requests, brief } = setup(() => [compact(cnp(VALID, '5'))]);
    writer.changed();
    await writer.idle();
    assert.deepEqual(brief(), [`${HttpMethod.PATCH} ${PATH}/status`]);
    assert.equal(requests[0]!.patch, 'merge');
    assert.deepEqual(requests[0]!.body, {
      metadata: { resourceVersion: '5' },
      status: { conditions: ACCEPTED },
    });
    // Until its own write comes back through the watch, the same version is not written again.
    writer.changed();
    await writer.idle();
    assert.equal(requests.length, 1);
  });

  it('writes nothing when the stored conditions are the wanted ones (their times aside)', async () => {
    const stored = ACCEPTED.map((c) => ({ ...c, lastTransitionTime: '2020-01-01T00:00:00Z' }));
    const { writer, requests } = setup(() => [compact(cnp(VALID, '5', stored))]);
    writer.changed();
    await writer.idle();
    assert.deepEqual(requests, []);
  });

  it('on a conflict reads the policy again: another agent wrote the same, so nothing more', async () => {
    const { writer, brief } = setup(
      () => [compact(cnp(VALID, '5'))],
      [conflict, () => cnp(VALID, '6', ACCEPTED)],
    );
    writer.changed();
    await writer.idle();
    assert.deepEqual(brief(), [`${HttpMethod.PATCH} ${PATH}/status`, `${HttpMethod.GET} ${PATH}`]);
  });

  it('on a conflict with a changed spec decides again from the new version; a rejected one gets its Event', async () => {
    const { writer, requests, brief } = setup(
      () => [compact(cnp(VALID, '5'))],
      [conflict, () => cnp(INVALID, '7', ACCEPTED, 2)],
    );
    writer.changed();
    await writer.idle();
    assert.deepEqual(brief(), [
      `${HttpMethod.PATCH} ${PATH}/status`,
      `${HttpMethod.GET} ${PATH}`,
      `${HttpMethod.PATCH} ${PATH}/status`,
      `${HttpMethod.POST} /api/v1/namespaces/default/events`,
    ]);
    const body = requests[2]!.body as {
      metadata: unknown;
      status: { conditions: Record<string, unknown>[] };
    };
    assert.deepEqual(body.metadata, { resourceVersion: '7' });
    assert.deepEqual(
      body.status.conditions.map((c) => [c.type, c.status, c.reason, c.observedGeneration]),
      [
        ['Accepted', 'False', 'InvalidSpec', 2],
        ['Programmed', 'False', 'Invalid', 2],
      ],
    );
    const message = clusterPolicyEventMessage([PROBLEM]);
    assert.deepEqual(requests[3]!.body, {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: clusterPolicyEventName('p', 'uid-1', message), namespace: 'default' },
      involvedObject: {
        apiVersion: 'policy.networking.k8s.io/v1alpha2',
        kind: 'ClusterNetworkPolicy',
        name: 'p',
        uid: 'uid-1',
      },
      type: 'Warning',
      reason: 'PolicyRejected',
      message,
      count: 1,
      firstTimestamp: T,
      lastTimestamp: T,
      source: { component: 'palisade-agent', host: 'node-a' },
      reportingComponent: 'palisade-agent',
      reportingInstance: 'node-a',
    });
    assert.ok(message.includes(PROBLEM), message);
  });

  it('a policy deleted meanwhile (404) is done', async () => {
    const notFound = (req: JsonRequest) => {
      throw new KubeApiError(req.path, 404, 'not found');
    };
    const { writer, records } = setup(() => [compact(cnp(VALID, '5'))], [notFound]);
    writer.changed();
    await writer.idle();
    assert.deepEqual(
      records.filter((r) => r.level >= 40),
      [],
    );
  });

  it('an Event that exists already (409) counts as posted; one that fails is posted again later', async () => {
    let objects = [compact(cnp(INVALID, '5'))];
    const failing = (req: JsonRequest) => {
      throw new KubeApiError(req.path, 0, 'connection refused');
    };
    const { writer, brief, records } = setup(() => objects, [() => ({}), failing, conflict]);
    writer.changed();
    await eventually(() => assert.equal(brief().length, 3));
    await writer.idle();
    assert.deepEqual(brief(), [
      `${HttpMethod.PATCH} ${PATH}/status`,
      `${HttpMethod.POST} /api/v1/namespaces/default/events`,
      `${HttpMethod.POST} /api/v1/namespaces/default/events`,
    ]);
    assert.ok(records.some((r) => r.msg.startsWith('could not post a ClusterNetworkPolicy event')));
    objects = [];
    writer.changed();
    await writer.idle();
    assert.equal(brief().length, 3, 'nothing more to post');
  });

  it('a failing API is logged and tried again, never thrown', async () => {
    const failing = (req: JsonRequest) => {
      throw new KubeApiError(req.path, 403, 'forbidden');
    };
    const { writer, brief, records } = setup(() => [compact(cnp(VALID, '5'))], [failing, failing]);
    writer.changed();
    await eventually(() => assert.equal(brief().length, 3));
    await writer.idle();
    assert.equal(records.filter((r) => r.msg.startsWith('could not write')).length, 2);
  });
});
