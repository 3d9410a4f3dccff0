// policy.networking.k8s.io/v1alpha2 ClusterNetworkPolicy on a real API server (the pinned release of kube/,
// test/helpers/kube-api.ts), with the CRD `palisade manifests` renders and the agent's ServiceAccount holding
// exactly the ClusterRole it renders: the kubernetes datastore without the CRD (synced, none) and after it is
// installed, what the API server itself refuses (so never reaches an agent), the status each policy gets
// (Accepted, Programmed, PartiallyProgrammed, InvalidSpec) and the Warning Event of a rejected one, two agents
// writing one status, node labels, deletion, and the CRD removed again.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createKubeDatastore } from '../src/datastore/kube.js';
import type { Datastore } from '../src/datastore/types.js';
import { renderCrds } from '../src/deploy/crds.js';
import { findCondition } from '../src/model/cluster-policy-conditions.js';
import { createLineLogger } from '../src/util/log.js';
import { agentClusterRoleRules } from './helpers/agent-rbac.js';
import { type KubeApi, startKubeApi } from './helpers/kube-api.js';

type Json = Record<string, unknown>;
type Record_ = { level: number; msg: string; [k: string]: unknown };

const CRD = 'clusternetworkpolicies.policy.networking.k8s.io';
const BAD_KEY_PROBLEM = 'spec.subject.pods.podSelector.matchLabels: key "bad key!" is not a valid label key';

let api: KubeApi;
let agentKubeconfig = '';
const datastores: Datastore[] = [];

async function eventually<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, ms = 20_000) {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms (${String(last ?? '')})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function cnp(name: string, spec: Json): Json {
  return {
    apiVersion: 'policy.networking.k8s.io/v1alpha2',
    kind: 'ClusterNetworkPolicy',
    metadata: { name },
    spec,
  };
}

const ADMIN_DENY = cnp('admin-deny', {
  tier: 'Admin',
  priority: 10,
  subject: { namespaces: { matchLabels: { env: 'prod' } } },
  ingress: [{ name: 'no-dev', action: 'Deny', from: [{ namespaces: { matchLabels: { env: 'dev' } } }] }],
  egress: [
    {
      action: 'Deny',
      to: [{ networks: ['192.0.2.7/24'] }],
      protocols: [{ tcp: { destinationPort: { number: 25 } } }],
    },
  ],
});
const PARTIAL = cnp('partial', {
  tier: 'Baseline',
  priority: 5,
  subject: { namespaces: {} },
  egress: [{ action: 'Accept', to: [{ domainNames: ['example.com'] }] }],
});
/** What the CRD's schema admits and only the parser refuses: a label key (the schema cannot say its syntax). */
const BROKEN = cnp('broken', {
  tier: 'Admin',
  priority: 1,
  subject: { pods: { namespaceSelector: {}, podSelector: { matchLabels: { 'bad key!': 'x' } } } },
  ingress: [{ action: 'Accept', from: [{ namespaces: {} }] }],
});

function startDatastore(node: string, records: Record_[]): Datastore {
  const log = createLineLogger({ level: 'debug', write: (l) => records.push(JSON.parse(l) as Record_) });
  const ds = createKubeDatastore({
    kubeConfig: agentKubeconfig,
    log,
    backoff: { initialMs: 100, maxMs: 500 },
    clusterPolicyStatus: { node, jitterMs: 0 },
  });
  datastores.push(ds);
  return ds;
}

async function getCnp(name: string): Promise<Json & { metadata: Json; status?: { conditions?: unknown } }> {
  return JSON.parse(await api.kubectl('get', 'clusternetworkpolicy', name, '-o', 'json'));
}

/** [type, status, reason, observedGeneration === metadata.generation] of each condition, once both are there. */
async function conditionsOf(name: string): Promise<unknown[][] | undefined> {
  const o = await getCnp(name);
  const conditions = o.status?.conditions;
  if (!Array.isArray(conditions) || conditions.length < 2) return undefined;
  return (conditions as Json[]).map((c) => [
    c.type,
    c.status,
    c.reason,
    c.observedGeneration === o.metadata.generation,
  ]);
}

/** What `kubectl apply` prints when the API server refuses the document. */
async function refusal(doc: Json): Promise<string> {
  try {
    await api.apply([doc]);
  } catch (err) {
    return String((err as { stderr?: unknown }).stderr ?? err);
  }
  assert.fail(`the API server accepted ${JSON.stringify(doc)}`);
}

before(async () => {
  api = await startKubeApi('pkc');
  agentKubeconfig = await api.serviceAccount('palisade-agent', agentClusterRoleRules());
  await api.apply([
    {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'node-a', labels: { 'kubernetes.io/hostname': 'node-a', zone: 'a' } },
    },
  ]);
});
after(async () => {
  for (const ds of datastores) await ds.stop();
  await api?.cleanup();
});

describe('ClusterNetworkPolicy on a real API server', () => {
  const records: Record_[] = [];
  let ds: Datastore;

  it('without the CRD the datastore syncs and delivers none; the CRD installed later is picked up', async () => {
    ds = startDatastore('node-a', records);
    await ds.start(() => {});
    const s = await eventually('synced', () => (ds.snapshot().synced ? ds.snapshot() : undefined));
    assert.deepEqual(s.clusterPolicies, []);
    assert.deepEqual(s.nodes.find((n) => n.name === 'node-a')?.labels, {
      'kubernetes.io/hostname': 'node-a',
      zone: 'a',
    });
    assert.ok(records.some((r) => r.msg.startsWith('not served (CRD not installed?)')));
    assert.deepEqual(
      records.filter((r) => r.level >= 40).map((r) => r.msg),
      [],
    );

    const crds = join(api.fx.tmp, 'crds.json');
    writeFileSync(crds, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: renderCrds() }));
    await api.kubectl('apply', '-f', crds);
    await api.kubectl('wait', '--for=condition=Established', `crd/${CRD}`, '--timeout=30s');
    await api.apply([ADMIN_DENY]);
    const got = await eventually('the policy in the snapshot', () =>
      ds.snapshot().clusterPolicies?.find((p) => p.name === 'admin-deny'),
    );
    assert.deepEqual(got.problems, []);
    assert.deepEqual([got.tier, got.priority, got.ingress[0]?.name], ['Admin', 10, 'no-dev']);
    assert.deepEqual(got.egress[0]?.peers, [{ kind: 'networks', networks: ['192.0.2.0/24'] }]);
    assert.ok(Number(ds.snapshot().revisions?.clusternetworkpolicies) > 0);
  });

  it('the API server refuses what the CRD schema forbids, with its own message', async () => {
    const base = ADMIN_DENY.spec as Json;
    assert.match(
      await refusal(cnp('bad-tier', { ...base, tier: 'Middle' })),
      /spec\.tier: Unsupported value: "Middle": supported values: "Admin", "Baseline"/,
    );
    assert.match(
      await refusal(cnp('bad-priority', { ...base, priority: 1001 })),
      /spec\.priority: Invalid value: 1001: spec\.priority in body should be less than or equal to 1000/,
    );
    assert.match(
      await refusal(
        cnp('deny-domains', {
          ...base,
          egress: [{ action: 'Deny', to: [{ domainNames: ['example.com'] }] }],
        }),
      ),
      /domainNames peers may only be used in Accept rules/,
    );
    assert.match(
      await refusal(
        cnp('two-peers', {
          ...base,
          ingress: [{ action: 'Deny', from: [{ namespaces: {}, pods: { podSelector: {} } }] }],
        }),
      ),
      /exactly one of namespaces, pods must be set/,
    );
    const names = JSON.parse(await api.kubectl('get', 'clusternetworkpolicies', '-o', 'json')) as {
      items: { metadata: { name: string } }[];
    };
    assert.deepEqual(
      names.items.map((i) => i.metadata.name),
      ['admin-deny'],
    );
  });

  it('writes Accepted and Programmed; PartiallyProgrammed for domainNames; InvalidSpec and a Warning Event', async () => {
    await api.apply([PARTIAL, BROKEN]);
    const want: Record<string, unknown[][]> = {
      'admin-deny': [
        ['Accepted', 'True', 'Accepted', true],
        ['Programmed', 'True', 'Programmed', true],
      ],
      partial: [
        ['Accepted', 'True', 'Accepted', true],
        ['Programmed', 'True', 'PartiallyProgrammed', true],
      ],
      broken: [
        ['Accepted', 'False', 'InvalidSpec', true],
        ['Programmed', 'False', 'Invalid', true],
      ],
    };
    for (const [name, conditions] of Object.entries(want)) {
      const got = await eventually(`${name}'s conditions`, () => conditionsOf(name));
      assert.deepEqual(got, conditions, name);
    }
    const partial = await getCnp('partial');
    assert.match(
      String(findCondition(partial.status?.conditions, 'Programmed')?.message),
      /spec\.egress\[0\]\.to\[0\]\.domainNames: not programmed/,
    );
    const broken = await getCnp('broken');
    assert.equal(
      findCondition(broken.status?.conditions, 'Accepted')?.message,
      `1 problem: ${BAD_KEY_PROBLEM}`,
    );

    const events = await eventually('the Warning Event', async () => {
      const list = JSON.parse(
        await api.kubectl(
          'get',
          'events',
          '-n',
          'default',
          '--field-selector',
          'involvedObject.kind=ClusterNetworkPolicy,reason=PolicyRejected',
          '-o',
          'json',
        ),
      ) as { items: Json[] };
      return list.items.length > 0 ? list.items : undefined;
    });
    assert.equal(events.length, 1, 'one event per rejection, not one per agent');
    const e = events[0] as { type: string; message: string; involvedObject: Json };
    assert.equal(e.type, 'Warning');
    assert.deepEqual(e.involvedObject.uid, broken.metadata.uid);
    assert.ok(e.message.includes(BAD_KEY_PROBLEM), e.message);
    assert.match(await api.kubectl('describe', 'clusternetworkpolicy', 'broken'), /Warning\s+PolicyRejected/);

    const s = ds.snapshot();
    assert.deepEqual(
      s.clusterPolicies?.map((p) => [p.name, p.problems]),
      [
        ['admin-deny', []],
        ['broken', [BAD_KEY_PROBLEM]],
        ['partial', []],
      ],
    );
    // Fail closed: the broken policy's Accept rule is dropped.
    assert.deepEqual(s.clusterPolicies?.find((p) => p.name === 'broken')?.ingress, []);
  });

  it('a second agent finds every status right and writes nothing; a fix is written once between the two', async () => {
    const second: Record_[] = [];
    const ds2 = startDatastore('node-b', second);
    await ds2.start(() => {});
    await eventually('the second agent synced', () => ds2.snapshot().clusterPolicies?.length === 3);
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(
      second.filter((r) => r.msg === 'status written'),
      [],
    );
    const before = (await getCnp('broken')).status?.conditions;
    const fixedAt = records.length;
    const fixed = structuredClone(BROKEN);
    (fixed.spec as { subject: unknown }).subject = {
      pods: { namespaceSelector: {}, podSelector: { matchLabels: { app: 'x' } } },
    };
    await api.apply([fixed]);
    const got = await eventually('the fixed conditions', async () => {
      const c = await conditionsOf('broken');
      return c?.[0]?.[1] === 'True' ? c : undefined;
    });
    assert.deepEqual(got, [
      ['Accepted', 'True', 'Accepted', true],
      ['Programmed', 'True', 'Programmed', true],
    ]);
    const after = (await getCnp('broken')).status?.conditions;
    assert.notEqual(findCondition(after, 'Accepted')?.lastTransitionTime, undefined);
    assert.ok(findCondition(before, 'Accepted'));
    await new Promise((r) => setTimeout(r, 500));
    const writes = [...records.slice(fixedAt), ...second].filter(
      (r) => r.msg === 'status written' && r.policy === 'broken',
    );
    assert.equal(writes.length, 1, JSON.stringify(writes));
    await eventually('both agents see the fix', () =>
      [ds, ds2].every(
        (d) => d.snapshot().clusterPolicies?.find((p) => p.name === 'broken')?.problems.length === 0,
      ),
    );
  });

  it('a deleted policy leaves the snapshot; the CRD removed leaves none, said so', async () => {
    await api.kubectl('delete', 'clusternetworkpolicy', 'admin-deny');
    await eventually('admin-deny gone', () =>
      ds.snapshot().clusterPolicies?.every((p) => p.name !== 'admin-deny') ? true : undefined,
    );
    const at = records.length;
    await api.kubectl('delete', 'crd', CRD, '--wait=true');
    await eventually('no policies', () => (ds.snapshot().clusterPolicies?.length === 0 ? true : undefined));
    await eventually('said so', () =>
      records.slice(at).some((r) => r.msg.startsWith('not served (CRD not installed?)')) ? true : undefined,
    );
    assert.equal(ds.snapshot().synced, true);
  });
});
