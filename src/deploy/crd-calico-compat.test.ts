// The GlobalNetworkPolicy and HostEndpoint CRDs: one schema per kind in every group served, every field of
// Calico's v3 API the parser reads declared, unknown fields kept exactly where the module says, and Calico's spec
// rules as CEL, each judged by an oracle written from Calico's validator (libcalico-go validatePolicySpec,
// validateHostEndpointSpec) rather than from the rule's text. The rules run on a real kube-apiserver in
// test/kube-calico-compat.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gnpFuzzer } from '../model/global-network-policy-parse.fuzzer.js';
import { parseGlobalNetworkPolicy } from '../model/global-network-policy-parse.js';
import { parseHostEndpoint } from '../model/host-endpoint-parse.js';
import { seedDocuments } from '../model/testdata/seed-003-calico.js';
import { prng } from '../policy/testdata/random.js';
import { GLOBAL_POLICY_RULES, HOST_ENDPOINT_RULES } from './crd-calico-compat.js';
import { renderCrds } from './crds.js';
import { validate } from './schema-validator.testkit.js';

type Obj = Record<string, unknown>;
// biome-ignore lint/suspicious/noExplicitAny: a test walking plain objects by known paths
type Crd = any;

const kindCrds = (crds: Obj[]): Crd[] =>
  crds.filter((c) => ['GlobalNetworkPolicy', 'HostEndpoint'].includes((c.spec as Crd).names.kind));
const schemaOf = (crd: Crd): Obj => crd.spec.versions[0].schema.openAPIV3Schema;

const on = (o: Obj, f: string) => o[f] === true;
const size = (v: unknown) => (Array.isArray(v) ? v.length : 0);

/** Calico's checks, written from its validator. */
function cel(rule: string, self: unknown): boolean {
  const o = self as Obj;
  const [dnt, tooMany, egressType, forward] = GLOBAL_POLICY_RULES.map((r) => r.rule);
  switch (rule) {
    case dnt:
      return !(on(o, 'preDNAT') && on(o, 'doNotTrack'));
    case tooMany:
      return !on(o, 'preDNAT') || size(o.egress) === 0;
    case egressType:
      return !on(o, 'preDNAT') || !(Array.isArray(o.types) && o.types.includes('Egress'));
    case forward:
      return on(o, 'applyOnForward') || !(on(o, 'preDNAT') || on(o, 'doNotTrack'));
    case HOST_ENDPOINT_RULES[0]?.rule:
      return (typeof o.interfaceName === 'string' && o.interfaceName !== '') || size(o.expectedIPs) > 0;
    default:
      throw new Error(`no oracle for CEL rule ${rule}`);
  }
}

const [palisadeGnp, palisadeHep] = kindCrds(renderCrds());

function problemsOf(doc: Obj): string[] {
  const crd = kindCrds(renderCrds()).find(
    (c) => c.spec.names.kind === doc.kind && `${c.spec.group}/${c.spec.versions[0].name}` === doc.apiVersion,
  );
  assert.ok(crd, `no CRD serves ${String(doc.apiVersion)} ${String(doc.kind)}`);
  const out: string[] = [];
  validate(schemaOf(crd), doc, 'doc', out, cel);
  return out;
}

/** Whether the parser accepts the document whole. */
const parserAccepts = (doc: Obj): boolean =>
  (doc.kind === 'HostEndpoint' ? parseHostEndpoint(doc) : parseGlobalNetworkPolicy(doc)).problems.length ===
  0;

/** Which of GLOBAL_POLICY_RULES a parser problem is (the parser's flag checks), or -1. */
function flagRule(problem: string): number {
  if (/^spec\.doNotTrack: .* cannot be combined with preDNAT/.test(problem)) return 0;
  if (/^spec\.egress: .* must be empty in a preDNAT policy/.test(problem)) return 1;
  if (/^spec\.types: .* may not include Egress in a preDNAT policy/.test(problem)) return 2;
  if (/^spec\.applyOnForward: .* must be true with/.test(problem)) return 3;
  return -1;
}

const gnp = (spec: Obj): Obj => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'GlobalNetworkPolicy',
  metadata: { name: 'p' },
  spec,
});
const hep = (spec: Obj): Obj => ({
  apiVersion: 'crd.projectcalico.org/v1',
  kind: 'HostEndpoint',
  metadata: { name: 'h' },
  spec,
});

/** Where a schema keeps unknown fields, as dotted paths ([] for list items). */
function preserving(s: Obj, path: string, out: string[]): string[] {
  if (s['x-kubernetes-preserve-unknown-fields']) out.push(path);
  for (const [k, sub] of Object.entries((s.properties ?? {}) as Record<string, Obj>))
    preserving(sub, `${path}.${k}`, out);
  if (s.items) preserving(s.items as Obj, `${path}[]`, out);
  return out;
}

/** Whether a dotted path (with [] for list items) is declared by the schema. */
function declared(s: Obj, path: string): boolean {
  let node: Obj | undefined = s;
  for (const part of path.split('.')) {
    const [name, ...items] = part.split('[]');
    node = (node?.properties as Record<string, Obj> | undefined)?.[name as string];
    for (const _ of items) node = node?.items as Obj | undefined;
  }
  return node !== undefined;
}

describe('GlobalNetworkPolicy and HostEndpoint CRDs', () => {
  it('both kinds in palisade.dev/v1, crd.projectcalico.org/v1 and projectcalico.org/v3, one schema per kind', () => {
    const crds = kindCrds(renderCrds());
    assert.deepEqual(
      crds.map(
        (c) => `${c.metadata.name} ${c.spec.versions[0].name} ${c.spec.scope} ${c.spec.names.shortNames}`,
      ),
      [
        'globalnetworkpolicies.palisade.dev v1 Cluster gnp',
        'hostendpoints.palisade.dev v1 Cluster hep',
        'globalnetworkpolicies.crd.projectcalico.org v1 Cluster undefined',
        'hostendpoints.crd.projectcalico.org v1 Cluster undefined',
        'globalnetworkpolicies.projectcalico.org v3 Cluster undefined',
        'hostendpoints.projectcalico.org v3 Cluster undefined',
      ],
    );
    for (const c of crds) {
      const own = c.spec.names.kind === 'GlobalNetworkPolicy' ? palisadeGnp : palisadeHep;
      assert.deepEqual(c.spec.versions[0].schema, own.spec.versions[0].schema);
      assert.deepEqual([c.spec.versions[0].served, c.spec.versions[0].storage], [true, true]);
    }
  });
  it("only palisade.dev when none of Calico's groups is served; one when one is", () => {
    const names = (calicoGroups: Parameters<typeof renderCrds>[0]) =>
      kindCrds(renderCrds(calicoGroups)).map((c) => c.metadata.name);
    assert.deepEqual(names({ calicoGroups: [] }), [
      'globalnetworkpolicies.palisade.dev',
      'hostendpoints.palisade.dev',
    ]);
    assert.deepEqual(names({ calicoGroups: ['projectcalico.org'] }).slice(2), [
      'globalnetworkpolicies.projectcalico.org',
      'hostendpoints.projectcalico.org',
    ]);
  });
  it("declares every field of Calico's v3 API that the parser reads", () => {
    const entity = ['nets', 'notNets', 'selector', 'notSelector', 'namespaceSelector', 'ports', 'notPorts'];
    const rule = [
      'action',
      'protocol',
      'notProtocol',
      'ipVersion',
      'icmp.type',
      'icmp.code',
      'notICMP.type',
      'notICMP.code',
      ...entity.flatMap((f) => [`source.${f}`, `destination.${f}`]),
    ];
    const gnpFields = [
      'order',
      'selector',
      'namespaceSelector',
      'types',
      'preDNAT',
      'applyOnForward',
      'doNotTrack',
      ...rule.flatMap((f) => [`ingress[].${f}`, `egress[].${f}`]),
    ];
    const hepFields = ['node', 'interfaceName', 'expectedIPs', 'profiles', 'ports[].name', 'ports[].port'];
    const missing = [
      ...gnpFields.map((f) => `spec.${f}`).filter((f) => !declared(schemaOf(palisadeGnp), f)),
      ...[...hepFields, 'ports[].protocol']
        .map((f) => `spec.${f}`)
        .filter((f) => !declared(schemaOf(palisadeHep), f)),
    ];
    assert.deepEqual(missing, []);
    assert.ok(!declared(schemaOf(palisadeGnp), 'spec.ingress[].source.nots'), 'the check is not vacuous');
  });
  it('keeps unknown fields inside spec, for the parser to report, and nowhere else', () => {
    const R = ['', '.icmp', '.notICMP', '.source', '.source.serviceAccounts', '.source.services'];
    const rule = (dir: string) => [
      ...R.map((r) => `${dir}[]${r}`),
      ...['destination', 'destination.serviceAccounts', 'destination.services'].map((r) => `${dir}[].${r}`),
      `${dir}[].http`,
      `${dir}[].http.paths[]`,
    ];
    assert.deepEqual(
      preserving(schemaOf(palisadeGnp), '', []).sort(),
      ['.spec', ...rule('.spec.egress'), ...rule('.spec.ingress')].sort(),
    );
    assert.deepEqual(preserving(schemaOf(palisadeHep), '', []), ['.spec', '.spec.ports[]']);
    assert.deepEqual(
      problemsOf(gnp({ ingress: [{ action: 'Allow', source: { nots: 1 }, futureMatch: {} }] })),
      [],
    );
    // The status (the agents' conditions) is declared, and pruned of anything else.
    assert.deepEqual(problemsOf({ ...gnp({}), status: { conditions: [] } }), []);
    assert.deepEqual(problemsOf({ ...gnp({}), status: { phase: 'x' } }), ['doc.status.phase: unknown field']);
    assert.deepEqual(problemsOf({ ...gnp({}), extra: {} }), ['doc.extra: unknown field']);
  });
  it("seed 003's policies and host endpoint pass as written", () => {
    for (const doc of seedDocuments('node-a')) assert.deepEqual(problemsOf(doc), [], JSON.stringify(doc));
  });
  it("refuses what Calico's validator refuses, and only that", () => {
    const R = (i: number) => `doc.spec: ${GLOBAL_POLICY_RULES[i]?.rule}`;
    const allow = [{ action: 'Allow' }];
    const cases: [string, Obj, string[]][] = [
      ['preDNAT, applyOnForward, ingress', { preDNAT: true, applyOnForward: true, ingress: allow }, []],
      ['preDNAT with egress rules', { preDNAT: true, applyOnForward: true, egress: allow }, [R(1)]],
      ['preDNAT with an empty egress', { preDNAT: true, applyOnForward: true, egress: [] }, []],
      ['preDNAT with the Egress type', { preDNAT: true, applyOnForward: true, types: ['Egress'] }, [R(2)]],
      ['preDNAT with the Ingress type', { preDNAT: true, applyOnForward: true, types: ['Ingress'] }, []],
      ['preDNAT without applyOnForward', { preDNAT: true, ingress: allow }, [R(3)]],
      ['doNotTrack without applyOnForward', { doNotTrack: true, applyOnForward: false }, [R(3)]],
      ['doNotTrack with applyOnForward', { doNotTrack: true, applyOnForward: true, egress: allow }, []],
      ['preDNAT and doNotTrack', { preDNAT: true, doNotTrack: true, applyOnForward: true }, [R(0)]],
      ['applyOnForward alone', { applyOnForward: true }, []],
      ['a type twice', { types: ['Ingress', 'Ingress'] }, ['doc.spec.types: duplicate']],
      ['an unknown type', { types: ['Forward'] }, ['doc.spec.types[0]: not in enum']],
      ['an unknown action', { ingress: [{ action: 'Accept' }] }, ['doc.spec.ingress[0].action: not in enum']],
      ['a rule without action', { egress: [{}] }, ['doc.spec.egress[0].action: required']],
      [
        'ipVersion 5',
        { egress: [{ action: 'Deny', ipVersion: 5 }] },
        ['doc.spec.egress[0].ipVersion: not in enum'],
      ],
      [
        'icmp type 255',
        { egress: [{ action: 'Deny', icmp: { type: 255 } }] },
        ['doc.spec.egress[0].icmp.type: out of range'],
      ],
      ['order as text', { order: 'first' }, ['doc.spec.order: not a number']],
      ['a fractional order', { order: 10.5 }, []],
    ];
    const got = cases.map(([name, spec]) => [name, problemsOf(gnp(spec))]);
    assert.deepEqual(
      got,
      cases.map(([name, , want]) => [name, want]),
    );
    // The parser, which the agent runs, says the same of each.
    assert.deepEqual(
      cases.map(([name, spec]) => `${name}: ${parserAccepts(gnp(spec))}`),
      cases.map(([name, , want]) => `${name}: ${want.length === 0}`),
    );
    const H = `doc.spec: ${HOST_ENDPOINT_RULES[0]?.rule}`;
    const heps: [string, Obj, string[]][] = [
      ['all interfaces', { node: 'n', interfaceName: '*' }, []],
      ['expected IPs only', { node: 'n', expectedIPs: ['10.0.0.1'] }, []],
      ['neither interface nor IPs', { node: 'n', interfaceName: '', expectedIPs: [] }, [H]],
      ['no node', { interfaceName: 'eth0' }, ['doc.spec.node: required']],
      ['an empty node', { node: '', interfaceName: 'eth0' }, ['doc.spec.node: too short']],
      [
        'a port name twice',
        {
          node: 'n',
          interfaceName: 'eth0',
          ports: [
            { name: 'a', port: 1 },
            { name: 'a', port: 2 },
          ],
        },
        ['doc.spec.ports: duplicate'],
      ],
      [
        'port 0',
        { node: 'n', interfaceName: 'eth0', ports: [{ name: 'a', port: 0 }] },
        ['doc.spec.ports[0].port: out of range'],
      ],
    ];
    assert.deepEqual(
      heps.map(([name, spec]) => [name, problemsOf(hep(spec))]),
      heps.map(([name, , want]) => [name, want]),
    );
    assert.deepEqual(
      heps.map(([name, spec]) => `${name}: ${parserAccepts(hep(spec))}`),
      heps.map(([name, , want]) => `${name}: ${want.length === 0}`),
    );
  });
  it('agrees with the parser on 2000 random policies: what it accepts passes; the CEL rules are its flag checks', () => {
    const f = gnpFuzzer(prng(11));
    const schema = schemaOf(palisadeGnp);
    let accepted = 0;
    let celChecked = 0;
    for (let i = 0; i < 2000; i++) {
      const doc = JSON.parse(JSON.stringify(f.doc())) as Obj;
      const fromSchema: string[] = [];
      validate(schema, doc, 'doc', fromSchema, cel);
      const parsed = parseGlobalNetworkPolicy(doc).problems.filter(
        (p) => !p.startsWith('metadata.') && !p.startsWith('apiVersion:'),
      );
      const why = `document ${i}: ${JSON.stringify(doc)}\nschema: ${fromSchema.join('; ')}\nparser: ${parsed.join('; ')}`;
      if (parsed.length === 0) assert.deepEqual(fromSchema, [], why);
      if (fromSchema.length === 0) accepted++;
      const celFailures = fromSchema.filter((p) =>
        GLOBAL_POLICY_RULES.some((r) => p === `doc.spec: ${r.rule}`),
      );
      if (celFailures.length < fromSchema.length) continue; // CEL runs only on what passes the schema
      celChecked++;
      assert.deepEqual(
        celFailures.map((p) => GLOBAL_POLICY_RULES.findIndex((r) => p === `doc.spec: ${r.rule}`)).sort(),
        parsed
          .map(flagRule)
          .filter((r) => r >= 0)
          .sort(),
        why,
      );
    }
    assert.ok(accepted >= 300 && accepted <= 1900, `${accepted} of 2000 accepted by the schema`);
    assert.ok(celChecked >= 300, `${celChecked} of 2000 reached the CEL rules`);
  });
});
