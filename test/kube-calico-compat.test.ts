// GlobalNetworkPolicy and HostEndpoint in palisade.dev/v1, crd.projectcalico.org/v1 and projectcalico.org/v3 on a
// real API server (the pinned release of kube/, test/helpers/kube-api.ts), with the CRDs `palisade manifests`
// renders and the agent's ServiceAccount holding exactly the ClusterRole it renders: the kubernetes datastore
// before the CRDs (synced, none) and after; seed 003's objects applied unchanged with kubectl; what the API
// server refuses (Calico's CEL rules) and what it lets through for the parser to report (unknown fields); the
// snapshot holding every object exactly as the parser reads its document; an update and a delete followed; and
// `--calico-groups none` (the agent neither may nor does read Calico's groups).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createKubeDatastore } from '../src/datastore/kube.js';
import type { Datastore } from '../src/datastore/types.js';
import { renderCrds } from '../src/deploy/crds.js';
import { globalPolicyKey } from '../src/model/global-network-policy.js';
import { parseGlobalNetworkPolicy } from '../src/model/global-network-policy-parse.js';
import { hostEndpointKey } from '../src/model/host-endpoint.js';
import { parseHostEndpoint } from '../src/model/host-endpoint-parse.js';
import { SEED_POLICY_NAMES, seedDocuments, seedYaml } from '../src/model/testdata/seed-003-calico.js';
import { createLineLogger } from '../src/util/log.js';
import { agentClusterRoleRules } from './helpers/agent-rbac.js';
import { type KubeApi, startKubeApi } from './helpers/kube-api.js';

type Json = Record<string, unknown>;
type LogRecord = { level: number; msg: string; [k: string]: unknown };

const GROUPS = ['palisade.dev', 'crd.projectcalico.org', 'projectcalico.org'];
const CRDS = GROUPS.flatMap((g) => [`globalnetworkpolicies.${g}`, `hostendpoints.${g}`]);

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

function startDatastore(kubeConfig: string, records: LogRecord[], calicoGroups?: []): Datastore {
  const log = createLineLogger({ level: 'debug', write: (l) => records.push(JSON.parse(l) as LogRecord) });
  const ds = createKubeDatastore({
    kubeConfig,
    log,
    backoff: { initialMs: 100, maxMs: 500 },
    clusterPolicyStatus: false,
    ...(calicoGroups ? { calicoGroups } : {}),
  });
  datastores.push(ds);
  return ds;
}

function gnp(apiVersion: string, name: string, spec: Json): Json {
  return { apiVersion, kind: 'GlobalNetworkPolicy', metadata: { name }, spec };
}

/** Palisade's own policy, named as one of the seed's: a different object. */
const OWN = gnp('palisade.dev/v1', 'drop-other-ingress', {
  order: 5,
  selector: "role == 'edge'",
  ingress: [{ action: 'Deny', protocol: 'TCP', destination: { ports: [22, '8000:8080'] } }],
  egress: [{ action: 'Allow', destination: { nets: ['10.0.0.0/8'] } }],
});

/** What `kubectl apply` prints when the API server refuses the document. */
async function refusal(doc: Json): Promise<string> {
  try {
    await api.apply([doc]);
  } catch (err) {
    return String((err as { stderr?: unknown }).stderr ?? err);
  }
  assert.fail(`the API server accepted ${JSON.stringify(doc)}`);
}

/** Every object of both kinds in every group, as `kubectl get` returns them (the API server's defaulting applied). */
async function stored(): Promise<Json[]> {
  const resources = GROUPS.flatMap((g) => [`globalnetworkpolicies.${g}`, `hostendpoints.${g}`]).join(',');
  return (JSON.parse(await api.kubectl('get', resources, '-o', 'json')) as { items: Json[] }).items;
}

before(async () => {
  api = await startKubeApi('pcc');
  agentKubeconfig = await api.serviceAccount('palisade-agent', agentClusterRoleRules());
});
after(async () => {
  for (const ds of datastores) await ds.stop();
  await api?.cleanup();
});

describe('GlobalNetworkPolicy and HostEndpoint on a real API server', () => {
  const records: LogRecord[] = [];
  let ds: Datastore;

  it('without the CRDs the datastore syncs with none; once they are installed it lists them', async () => {
    ds = startDatastore(agentKubeconfig, records);
    await ds.start(() => {});
    const s = await eventually('synced', () => (ds.snapshot().synced ? ds.snapshot() : undefined));
    assert.deepEqual([s.globalPolicies, s.hostEndpoints], [[], []]);
    const notServed = records.filter((r) => r.msg.startsWith('not served (CRD not installed?)'));
    assert.deepEqual(
      notServed.map((r) => r.resource).sort(),
      [...CRDS.map((c) => c), 'clusternetworkpolicies'].sort(),
    );
    assert.deepEqual(
      records.filter((r) => r.level >= 40).map((r) => r.msg),
      [],
    );

    const crds = join(api.fx.tmp, 'crds.json');
    writeFileSync(crds, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: renderCrds() }));
    await api.kubectl('apply', '-f', crds);
    for (const c of CRDS)
      await api.kubectl('wait', '--for=condition=Established', `crd/${c}`, '--timeout=30s');
    // A list that got through sets the resource's revision (a resource not served has none).
    await eventually('every group listed', () =>
      CRDS.every((c) => Number(ds.snapshot().revisions?.[c]) > 0) ? true : undefined,
    );
  });

  it("seed 003's policies and host endpoint apply unchanged with kubectl, and so does a palisade.dev/v1 policy", async () => {
    const file = join(api.fx.tmp, 'seed.yaml');
    writeFileSync(file, seedYaml('node-a'));
    const out = await api.kubectl('apply', '-f', file);
    assert.deepEqual(out.trim().split('\n'), [
      ...SEED_POLICY_NAMES.map((n) => `globalnetworkpolicy.projectcalico.org/${n} created`),
      'hostendpoint.crd.projectcalico.org/node-a created',
    ]);
    // The seed's script finds its endpoint with `kubectl get hostendpoint $NODE_NAME`: the kind alone resolves to
    // crd.projectcalico.org (discovery order), where the seed creates it.
    assert.match(
      await api.kubectl('get', 'hostendpoint', 'node-a', '-o', 'name'),
      /^hostendpoint\.crd\.projectcalico\.org\/node-a$/m,
    );
    await api.apply([OWN]);
    // `kubectl get gnp` is Palisade's own group (the short name is only there).
    assert.match(await api.kubectl('get', 'gnp'), /drop-other-ingress\s+5\s+role == 'edge'/);
  });

  it("the API server refuses what Calico's validator refuses, with the CRD's messages", async () => {
    const v3 = 'projectcalico.org/v3';
    assert.match(
      await refusal(
        gnp(v3, 'prednat-egress', { preDNAT: true, applyOnForward: true, egress: [{ action: 'Allow' }] }),
      ),
      /The GlobalNetworkPolicy "prednat-egress" is invalid: spec: Invalid value: a preDNAT policy cannot have egress rules/,
    );
    assert.match(
      await refusal(
        gnp('crd.projectcalico.org/v1', 'prednat-type', {
          preDNAT: true,
          applyOnForward: true,
          types: ['Egress'],
        }),
      ),
      /a preDNAT policy cannot have the 'Egress' type/,
    );
    assert.match(
      await refusal(
        gnp('palisade.dev/v1', 'untracked', { doNotTrack: true, ingress: [{ action: 'Allow' }] }),
      ),
      /applyOnForward must be true when preDNAT or doNotTrack is/,
    );
    assert.match(
      await refusal(gnp(v3, 'both', { preDNAT: true, doNotTrack: true, applyOnForward: true })),
      /preDNAT and doNotTrack cannot both be true/,
    );
    assert.match(
      await refusal(gnp(v3, 'twice', { types: ['Ingress', 'Ingress'] })),
      /spec\.types\[1\]: Duplicate value: "Ingress"/,
    );
    assert.match(
      await refusal({
        apiVersion: 'crd.projectcalico.org/v1',
        kind: 'HostEndpoint',
        metadata: { name: 'nowhere' },
        spec: { node: 'node-a' },
      }),
      /a host endpoint must name an interfaceName or expectedIPs/,
    );
    const names = (await stored()).map((o) => (o.metadata as Json).name);
    assert.ok(
      !names.some((n) =>
        ['prednat-egress', 'prednat-type', 'untracked', 'both', 'twice', 'nowhere'].includes(String(n)),
      ),
    );
  });

  it('an unknown field inside spec reaches the parser (not pruned), which fails the policy closed', async () => {
    const typo = gnp('projectcalico.org/v3', 'typo', {
      selector: 'all()',
      ingress: [{ action: 'Allow', source: { nets: ['192.0.2.0/24'], notNet: ['192.0.2.7/32'] } }],
    });
    await api.apply([typo]);
    const kept = (await stored()).find((o) => (o.metadata as Json).name === 'typo') as { spec: Json };
    assert.deepEqual(kept.spec, typo.spec, 'stored as written');
    const got = await eventually('typo in the snapshot', () =>
      ds.snapshot().globalPolicies?.find((p) => p.name === 'typo'),
    );
    assert.deepEqual(got.problems, ['spec.ingress[0].source.notNet: unknown field']);
    assert.deepEqual(got.ingress, [], 'its Allow rule is dropped');
    await api.kubectl('delete', 'globalnetworkpolicies.projectcalico.org', 'typo');
  });

  it('the snapshot holds every object of every group, exactly as the parser reads it, sorted by key', async () => {
    const s = await eventually('all in the snapshot', () => {
      const snap = ds.snapshot();
      return snap.globalPolicies?.length === 4 && snap.hostEndpoints?.length === 1 ? snap : undefined;
    });
    const docs = [...seedDocuments('node-a'), OWN];
    const want = docs.filter((d) => d.kind === 'GlobalNetworkPolicy').map(parseGlobalNetworkPolicy);
    assert.deepEqual(
      s.globalPolicies,
      want.sort((a, b) => (globalPolicyKey(a) < globalPolicyKey(b) ? -1 : 1)),
    );
    assert.deepEqual(s.globalPolicies?.map(globalPolicyKey), [
      'gnp:drop-other-ingress',
      'gnp:projectcalico.org/allow-cluster-internal-ingress',
      'gnp:projectcalico.org/allow-outbound-external',
      'gnp:projectcalico.org/drop-other-ingress',
    ]);
    assert.ok(s.globalPolicies?.every((p) => p.problems.length === 0));
    assert.deepEqual(s.hostEndpoints, [parseHostEndpoint(seedDocuments('node-a')[3])]);
    assert.deepEqual(s.hostEndpoints?.map(hostEndpointKey), ['hep:crd.projectcalico.org/node-a']);
  });

  it('follows an update and a delete', async () => {
    const [outbound] = seedDocuments('node-a') as [Json];
    await api.apply([{ ...outbound, spec: { ...(outbound.spec as Json), order: 30 } }]);
    await eventually('the new order', () =>
      ds
        .snapshot()
        .globalPolicies?.find((p) => p.group === 'projectcalico.org' && p.name === 'allow-outbound-external')
        ?.order === 30
        ? true
        : undefined,
    );
    await api.kubectl('delete', 'hostendpoints.crd.projectcalico.org', 'node-a');
    await api.kubectl('delete', 'globalnetworkpolicies.palisade.dev', 'drop-other-ingress');
    const s = await eventually('both gone', () => {
      const snap = ds.snapshot();
      return snap.hostEndpoints?.length === 0 && snap.globalPolicies?.length === 3 ? snap : undefined;
    });
    assert.deepEqual(
      s.globalPolicies?.map((p) => [p.group, p.name, p.order]),
      [
        ['projectcalico.org', 'allow-cluster-internal-ingress', 10],
        ['projectcalico.org', 'allow-outbound-external', 30],
        ['projectcalico.org', 'drop-other-ingress', 20],
      ],
    );
    assert.deepEqual(
      records.filter((r) => r.level >= 40).map((r) => `${r.msg} ${r.resource} ${JSON.stringify(r.err)}`),
      [],
    );
  });

  it("--calico-groups none: the agent may not read Calico's groups and does not watch them", async () => {
    await api.apply([OWN]);
    const kubeconfig = await api.serviceAccount(
      'palisade-agent-none',
      agentClusterRoleRules({ mode: 'main', calicoGroups: [] }),
    );
    const forbidden = await api
      .kubectl(
        `--as=system:serviceaccount:default:palisade-agent-none`,
        'get',
        'globalnetworkpolicies.projectcalico.org',
      )
      .then(
        () => '',
        (err: unknown) => String((err as { stderr?: unknown }).stderr),
      );
    assert.match(forbidden, /forbidden/);
    const own: LogRecord[] = [];
    const none = startDatastore(kubeconfig, own, []);
    await none.start(() => {});
    const s = await eventually('synced', () => {
      const snap = none.snapshot();
      return snap.synced && snap.globalPolicies?.length === 1 ? snap : undefined;
    });
    assert.deepEqual(s.globalPolicies?.map(globalPolicyKey), ['gnp:drop-other-ingress']);
    assert.deepEqual(
      Object.keys(s.revisions ?? {}).filter((r) => r.includes('projectcalico')),
      [],
    );
    assert.deepEqual(
      own.filter((r) => r.level >= 40).map((r) => r.msg),
      [],
    );
  });
});
