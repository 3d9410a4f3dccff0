import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseHostEndpoint } from '../model/host-endpoint-parse.js';
import {
  desiredHostEndpoint,
  type HostEndpointOptions,
  MANAGED_BY_AGENT,
  MANAGED_BY_LABEL,
  nodeFactsOf,
  parseLabelArgs,
  planHostEndpoint,
} from './host-endpoint-desired.js';

type Json = Record<string, unknown>;

const OPTS: HostEndpointOptions = { node: 'node-a', extraLabels: { 'host-endpoint': 'ingress' } };
const MANAGED = { [MANAGED_BY_LABEL]: MANAGED_BY_AGENT };

function makeNode(name: string, labels: Record<string, string>, ...tweaks: ((n: Json) => void)[]): Json {
  const n: Json = {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, uid: `uid-${name}`, labels },
    status: {
      addresses: [
        { type: 'InternalIP', address: '198.18.0.10' },
        { type: 'Hostname', address: name },
        { type: 'ExternalIP', address: '2001:DB8:0::1' },
        { type: 'InternalIP', address: '198.18.0.10' },
      ],
    },
  };
  for (const t of tweaks) t(n);
  return n;
}

const NODE = makeNode('node-a', { 'kubernetes.io/hostname': 'node-a', zone: 'z1' });

/** The endpoint as stored after the agent created it from NODE, with tweaks. */
function stored(...tweaks: ((o: Json & { metadata: Json; spec: Json }) => void)[]): Json {
  const o = structuredClone(desiredHostEndpoint(nodeFactsOf(NODE)!, OPTS)) as Json & {
    metadata: Json;
    spec: Json;
  };
  o.metadata.resourceVersion = '42';
  o.metadata.uid = 'hep-uid';
  for (const t of tweaks) t(o);
  return o;
}

describe('desiredHostEndpoint', () => {
  it('is named after the node, labelled from it plus the extra labels, owned by it', () => {
    assert.deepStrictEqual(desiredHostEndpoint(nodeFactsOf(NODE)!, OPTS), {
      apiVersion: 'palisade.dev/v1',
      kind: 'HostEndpoint',
      metadata: {
        name: 'node-a',
        labels: {
          'kubernetes.io/hostname': 'node-a',
          zone: 'z1',
          'host-endpoint': 'ingress',
          ...MANAGED,
        },
        ownerReferences: [
          {
            apiVersion: 'v1',
            kind: 'Node',
            name: 'node-a',
            uid: 'uid-node-a',
            controller: false,
            blockOwnerDeletion: false,
          },
        ],
      },
      spec: {
        node: 'node-a',
        interfaceName: '*',
        expectedIPs: ['198.18.0.10', '2001:db8::1'],
        profiles: ['projectcalico-default-allow'],
      },
    });
  });

  it("is accepted by the agent's own HostEndpoint parser, as an endpoint of every interface", () => {
    const h = parseHostEndpoint(desiredHostEndpoint(nodeFactsOf(NODE)!, OPTS));
    assert.deepStrictEqual(
      [h.problems, h.group, h.node, h.interfaceName, h.expectedIPs, h.profiles],
      [[], 'palisade.dev', 'node-a', '*', ['198.18.0.10', '2001:db8::1'], ['projectcalico-default-allow']],
    );
  });

  it('lets an extra label win over the Node label of the same key, and the managed label over both', () => {
    const node = nodeFactsOf(makeNode('node-a', { zone: 'z1', [MANAGED_BY_LABEL]: 'x' }))!;
    const o = desiredHostEndpoint(node, { node: 'node-a', extraLabels: { zone: 'edge' } });
    assert.deepStrictEqual((o.metadata as Json).labels, { zone: 'edge', ...MANAGED });
  });
});

describe('nodeFactsOf', () => {
  const cases: { name: string; raw: unknown; want: unknown }[] = [
    { name: 'not an object', raw: 'node', want: undefined },
    { name: 'no uid', raw: { metadata: { name: 'n' } }, want: undefined },
    {
      name: 'no addresses, a non-string label dropped, terminating',
      raw: { metadata: { name: 'n', uid: 'u', labels: { a: 'b', c: 1 }, deletionTimestamp: 'now' } },
      want: { name: 'n', uid: 'u', labels: { a: 'b' }, expectedIPs: [], terminating: true },
    },
    {
      name: 'an address that is no IP is skipped',
      raw: {
        metadata: { name: 'n', uid: 'u' },
        status: { addresses: [{ type: 'InternalIP', address: 'n.example' }, { type: 'ExternalIP' }] },
      },
      want: { name: 'n', uid: 'u', labels: {}, expectedIPs: [], terminating: false },
    },
  ];
  for (const c of cases) it(c.name, () => assert.deepStrictEqual(nodeFactsOf(c.raw), c.want));
});

describe('planHostEndpoint', () => {
  const cases: { name: string; node: Json | undefined; current: Json | undefined; want: unknown }[] = [
    {
      name: 'missing: created',
      node: NODE,
      current: undefined,
      want: { action: 'create', body: desiredHostEndpoint(nodeFactsOf(NODE)!, OPTS) },
    },
    { name: 'as it should be: nothing', node: NODE, current: stored(), want: { action: 'none' } },
    {
      name: 'annotations and the status of the Node are not its business',
      node: makeNode('node-a', { 'kubernetes.io/hostname': 'node-a', zone: 'z1' }, (n) => {
        (n.status as Json).conditions = [{ type: 'Ready', status: 'True' }];
      }),
      current: stored((o) => {
        o.metadata.annotations = { note: 'x' };
      }),
      want: { action: 'none' },
    },
    {
      name: 'a Node label changed, one removed: the labels follow (null removes)',
      node: makeNode('node-a', { 'kubernetes.io/hostname': 'node-a', role: 'edge' }),
      current: stored(),
      want: {
        action: 'patch',
        body: { metadata: { resourceVersion: '42', labels: { role: 'edge', zone: null } } },
        changed: ['metadata.labels'],
      },
    },
    {
      name: 'a label added by hand is removed, a hand-edited spec put back, an unknown spec field removed',
      node: NODE,
      current: stored((o) => {
        (o.metadata.labels as Json).mine = 'x';
        o.spec.interfaceName = 'eth0';
        o.spec.expectedIPs = ['2001:db8::1', '198.18.0.10'];
        o.spec.ports = [{ name: 'ssh', port: 22 }];
      }),
      want: {
        action: 'patch',
        body: {
          metadata: { resourceVersion: '42', labels: { mine: null } },
          spec: { interfaceName: '*', expectedIPs: ['198.18.0.10', '2001:db8::1'], ports: null },
        },
        changed: ['metadata.labels', 'spec.interfaceName', 'spec.expectedIPs', 'spec.ports'],
      },
    },
    {
      name: 'the Node was recreated (new uid): the owner reference follows, other owners kept',
      node: makeNode('node-a', { 'kubernetes.io/hostname': 'node-a', zone: 'z1' }, (n) => {
        (n.metadata as Json).uid = 'uid-2';
      }),
      current: stored((o) => {
        o.metadata.ownerReferences = [
          { apiVersion: 'v1', kind: 'Node', name: 'node-a', uid: 'uid-node-a' },
          { apiVersion: 'example.com/v1', kind: 'Keeper', name: 'k', uid: 'k1' },
        ];
      }),
      want: {
        action: 'patch',
        body: {
          metadata: {
            resourceVersion: '42',
            ownerReferences: [
              { apiVersion: 'example.com/v1', kind: 'Keeper', name: 'k', uid: 'k1' },
              {
                apiVersion: 'v1',
                kind: 'Node',
                name: 'node-a',
                uid: 'uid-2',
                controller: false,
                blockOwnerDeletion: false,
              },
            ],
          },
        },
        changed: ['metadata.ownerReferences'],
      },
    },
    {
      name: "someone else's (no managed-by label): left alone",
      node: NODE,
      current: stored((o) => {
        o.metadata.labels = { 'host-endpoint': 'ingress' };
      }),
      want: {
        action: 'foreign',
        reason:
          "HostEndpoint node-a exists without the label palisade.dev/managed-by=palisade-agent: someone else's, left alone",
      },
    },
    {
      name: 'managed-looking but for another node: left alone',
      node: NODE,
      current: stored((o) => {
        o.spec.node = 'node-b';
      }),
      want: { action: 'foreign', reason: 'HostEndpoint node-a names node "node-b" in spec.node: left alone' },
    },
    {
      name: 'no Node: nothing is created',
      node: undefined,
      current: undefined,
      want: { action: 'wait', reason: 'Node node-a does not exist' },
    },
    {
      name: 'the Node is being deleted: the stale endpoint is not patched (the garbage collector takes it)',
      node: makeNode('node-a', { zone: 'z9' }, (n) => {
        (n.metadata as Json).deletionTimestamp = '2026-12-07T00:00:00Z';
      }),
      current: stored(),
      want: { action: 'wait', reason: 'Node node-a is being deleted' },
    },
    {
      name: 'the endpoint is being deleted: wait for it to go',
      node: NODE,
      current: stored((o) => {
        o.metadata.deletionTimestamp = '2026-12-07T00:00:00Z';
      }),
      want: { action: 'wait', reason: 'the HostEndpoint is being deleted' },
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepStrictEqual(planHostEndpoint(c.node, c.current, OPTS), c.want));
  }
});

describe('parseLabelArgs', () => {
  const cases: { name: string; args: string[]; want: unknown }[] = [
    { name: 'none', args: [], want: { labels: {} } },
    {
      name: 'several, an empty value, a prefixed key, a repeat of the same',
      args: ['host-endpoint=ingress', 'example.com/tier=', 'host-endpoint=ingress'],
      want: { labels: { 'host-endpoint': 'ingress', 'example.com/tier': '' } },
    },
    {
      name: 'every problem, each naming the flag and the argument',
      args: ['noequals', 'bad key!=x', 'k=bad value', `${MANAGED_BY_LABEL}=me`, 'a=1', 'a=2'],
      want: {
        errors: [
          '--host-endpoint-label "noequals": must be KEY=VALUE',
          '--host-endpoint-label "bad key!=x": key "bad key!" is not a valid label key',
          '--host-endpoint-label "k=bad value": value "bad value" is not a valid label value',
          '--host-endpoint-label "palisade.dev/managed-by=me": key palisade.dev/managed-by is reserved (the agent sets it)',
          '--host-endpoint-label "a=2": key a is given twice ("1" and "2")',
        ],
      },
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepStrictEqual(parseLabelArgs(c.args, '--host-endpoint-label'), c.want));
  }
});
