// GlobalNetworkPolicy and HostEndpoint status, and a node's host Warning Events (kube-host-status.ts), with a
// scripted `send` and a recorder that keeps what it is given. The same on a real API server, with the agent:
// test/kube-host-status.test.ts.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { HttpMethod } from '@kubernetes/client-node';
import { KubeApiError } from './kube-client.js';
import { type CompactCalicoKind, compactCalicoKind } from './kube-convert-calico.js';
import type { Warning } from './kube-events.js';
import { createHostStatusReporter, HOST_EVENTS_SOURCE, type HostStatusReporter } from './kube-host-status.js';
import type { JsonRequest } from './kube-rest.js';
import { captureLogger } from './testdata/kube-testkit.js';

type Json = Record<string, unknown>;
const NOW = Date.parse('2026-03-01T12:00:00Z');
const T = '2026-03-01T12:00:00Z';
const PRE_DNAT = { preDNAT: true, applyOnForward: true, ingress: [{ action: 'Deny' }] };

function object(
  resource: string,
  name: string,
  spec: Json,
  more: { rv?: string; conditions?: unknown; labels?: Json } = {},
) {
  const doc = {
    metadata: {
      name,
      uid: `uid-${name}`,
      resourceVersion: more.rv ?? '5',
      generation: 1,
      labels: more.labels ?? {},
    },
    spec,
    ...(more.conditions ? { status: { conditions: more.conditions } } : {}),
  };
  return compactCalicoKind(resource, doc)!;
}
const gnp = (name: string, spec: Json, more = {}) =>
  object('globalnetworkpolicies.palisade.dev', name, spec, more);
const hep = (name: string, spec: Json, more = {}, group = 'palisade.dev') =>
  object(`hostendpoints.${group}`, name, spec, more);

let current: HostStatusReporter | undefined;
afterEach(async () => {
  await current?.stop();
  current = undefined;
});

function setup(objects: () => readonly CompactCalicoKind[], answers: ((req: JsonRequest) => unknown)[] = []) {
  const requests: JsonRequest[] = [];
  const reported: [string, readonly Warning[]][] = [];
  const { log, records } = captureLogger();
  const reporter = createHostStatusReporter({
    node: 'node-a',
    objects,
    events: { report: async (source, warnings) => void reported.push([source, warnings]) },
    log,
    jitterMs: 0,
    retryMs: 20,
    now: () => NOW,
    send: async (req) => {
      requests.push(req);
      const answer = answers.shift();
      return JSON.stringify(answer ? answer(req) : {});
    },
  });
  current = reporter;
  const brief = () => requests.map((r) => `${r.method} ${r.path}`);
  const conditions = (i: number) =>
    ((requests[i]?.body ?? {}) as { status: { conditions: Json[] } }).status.conditions.map((c) => [
      c.type,
      c.status,
      c.reason,
    ]);
  return { reporter, requests, reported, records, brief, conditions };
}

const GNP_PATH = '/apis/palisade.dev/v1/globalnetworkpolicies';

describe('host policy status', () => {
  it('a preDNAT policy selecting no endpoint: its conditions, and one SelectsNoHostEndpoint Event', async () => {
    const { reporter, requests, brief, conditions } = setup(() => [
      gnp('edge', { ...PRE_DNAT, selector: "role == 'edge'" }),
      hep('node-b', { node: 'node-b', interfaceName: '*' }, { labels: { role: 'core' } }),
    ]);
    reporter.report({ refusals: [] });
    await reporter.idle();
    assert.deepEqual(brief(), [
      `${HttpMethod.PATCH} ${GNP_PATH}/edge/status`,
      `${HttpMethod.POST} /api/v1/namespaces/default/events`,
    ]);
    assert.deepEqual(conditions(0), [
      ['Accepted', 'True', 'Accepted'],
      ['SelectsHostEndpoints', 'False', 'NoHostEndpointSelected'],
    ]);
    assert.deepEqual(((requests[0]?.body ?? {}) as Json).metadata, { resourceVersion: '5' });
    const event = requests[1]?.body as Json;
    assert.deepEqual(
      [
        event.reason,
        event.type,
        event.involvedObject,
        (event.metadata as Json).namespace,
        event.firstTimestamp,
      ],
      [
        'SelectsNoHostEndpoint',
        'Warning',
        { apiVersion: 'palisade.dev/v1', kind: 'GlobalNetworkPolicy', name: 'edge', uid: 'uid-edge' },
        'default',
        T,
      ],
    );
    assert.match(String(event.message), /No HostEndpoint matches spec.selector "role == 'edge'"/);
  });

  it('no Event when the stored condition already says so (another agent wrote it first)', async () => {
    const stored = [
      {
        type: 'Accepted',
        status: 'True',
        reason: 'Accepted',
        message: 'The policy is valid',
        lastTransitionTime: T,
      },
      {
        type: 'SelectsHostEndpoints',
        status: 'False',
        reason: 'NoHostEndpointSelected',
        message: 'older words',
        lastTransitionTime: T,
      },
    ];
    const { reporter, brief } = setup(() => [
      gnp('edge', { ...PRE_DNAT, selector: 'all()' }, { conditions: stored }),
    ]);
    reporter.report({ refusals: [] });
    await reporter.idle();
    assert.deepEqual(brief(), [`${HttpMethod.PATCH} ${GNP_PATH}/edge/status`]);
  });

  it('a policy that is no longer a host policy loses SelectsHostEndpoints; another type is kept', async () => {
    const stored = [
      { type: 'example.com/Audited', status: 'True', reason: 'Seen', message: '', lastTransitionTime: T },
      {
        type: 'SelectsHostEndpoints',
        status: 'True',
        reason: 'HostEndpointsSelected',
        message: 'm',
        lastTransitionTime: T,
      },
      {
        type: 'Accepted',
        status: 'True',
        reason: 'Accepted',
        message: 'The policy is valid',
        observedGeneration: 1,
        lastTransitionTime: T,
      },
    ];
    const pods = gnp('pods', { selector: 'all()' }, { conditions: stored });
    // The stored status is the agents' report, not policy: the parser does not see it.
    assert.deepEqual([pods.conditions, pods.model.problems], [stored, []]);
    const { reporter, conditions } = setup(() => [pods]);
    reporter.report({ refusals: [] });
    await reporter.idle();
    assert.deepEqual(conditions(0), [
      ['example.com/Audited', 'True', 'Seen'],
      ['Accepted', 'True', 'Accepted'],
    ]);
  });

  it("writes this node's HostEndpoints only, in their own group, from what the node knows", async () => {
    const { reporter, brief, conditions } = setup(() => [
      hep('mine', { node: 'node-a', interfaceName: 'eth9' }, {}, 'crd.projectcalico.org'),
      hep('theirs', { node: 'node-b', interfaceName: 'eth9' }),
    ]);
    reporter.report({ diagnostics: [], refusals: [], links: ['lo', 'eth0'] });
    await reporter.idle();
    assert.deepEqual(brief(), [
      `${HttpMethod.PATCH} /apis/crd.projectcalico.org/v1/hostendpoints/mine/status`,
    ]);
    assert.deepEqual(conditions(0), [
      ['Accepted', 'True', 'Accepted'],
      ['InterfacePresent', 'False', 'InterfaceNotFound'],
      ['Programmed', 'True', 'Programmed'],
    ]);
  });

  it('a status subresource not served (404) is not tried again until the object changes', async () => {
    const notFound = (req: JsonRequest) => {
      throw new KubeApiError(req.path, 404, 'the server could not find the requested resource');
    };
    let rv = '5';
    const { reporter, brief, records } = setup(() => [gnp('edge', { ...PRE_DNAT }, { rv })], [notFound]);
    reporter.report({ refusals: [] });
    await reporter.idle();
    reporter.report({ refusals: [] });
    await reporter.idle();
    assert.equal(brief().length, 1);
    assert.deepEqual(
      records.filter((r) => r.level >= 40),
      [],
    );
    rv = '6';
    reporter.report({ refusals: [] });
    await reporter.idle();
    assert.deepEqual(
      brief().filter((b) => b.startsWith(HttpMethod.PATCH)),
      [`${HttpMethod.PATCH} ${GNP_PATH}/edge/status`, `${HttpMethod.PATCH} ${GNP_PATH}/edge/status`],
    );
  });

  it("reports the node's warnings on the objects they name, with their uid", async () => {
    const { reporter, reported } = setup(
      () => [
        gnp('lockout', { selector: 'all()', ingress: [{ action: 'Deny' }] }),
        hep('mine', { node: 'node-a', interfaceName: 'eth9' }, {}, 'projectcalico.org'),
      ],
      [() => ({}), () => ({}), () => ({})],
    );
    const cut = 'node → API server 198.18.0.2:6443/TCP via any interface';
    reporter.report({
      diagnostics: [{ policy: 'gnp:gone', problems: ['x'] }],
      refusals: [{ object: 'gnp:lockout', reason: 'would-cut', connection: cut }],
      links: ['lo'],
    });
    await reporter.idle();
    assert.equal(reported.length, 1);
    assert.equal(reported[0]?.[0], HOST_EVENTS_SOURCE);
    assert.deepEqual(
      reported[0]?.[1].map((w) => [w.involvedObject, w.reason]),
      [
        [
          { apiVersion: 'palisade.dev/v1', kind: 'GlobalNetworkPolicy', name: 'lockout', uid: 'uid-lockout' },
          'HostPolicyRefused',
        ],
        [
          { apiVersion: 'projectcalico.org/v3', kind: 'HostEndpoint', name: 'mine', uid: 'uid-mine' },
          'InterfaceNotFound',
        ],
      ],
    );
    assert.equal(
      reported[0]?.[1][0]?.message,
      `refused on node-a: it would cut ${cut}; the version programmed before stays until this one changes`,
    );
  });
});
