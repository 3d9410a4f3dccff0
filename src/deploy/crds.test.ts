// The ClusterNetworkPolicy CRD against the parser: a small validator of the schema's OpenAPI subset (types,
// unknown fields, required, enums, ranges, lengths, patterns, list sizes, sets; schema-validator.testkit.ts) with an
// oracle for each CEL rule the schema carries, run over 2000 random documents. A document the parser accepts, the schema must accept; a
// document the schema accepts, the parser must accept but for what only it checks (matchLabels keys). An unknown
// CEL rule fails the test, so a new rule comes with its oracle. The same corpora (seeds 99, 20260421), sent as
// dry-run creates to a kube-apiserver 1.37 with this CRD, split exactly as here; test/kube-lab applies the CRD for
// real.
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { describe, it } from 'node:test';
import { cnpFuzzer } from '../model/cluster-network-policy-parse.fuzzer.js';
import { parseClusterNetworkPolicy } from '../model/cluster-network-policy-parse.js';
import { cnpDoc, cnpSpec } from '../model/cluster-network-policy-parse.testkit.js';
import { prng } from '../policy/testdata/random.js';
import { renderCrds } from './crds.js';
import { validate } from './schema-validator.testkit.js';

type Schema = Record<string, unknown>;
type Obj = Record<string, unknown>;

const has = (o: unknown, f: string) => typeof o === 'object' && o !== null && (o as Obj)[f] != null;

function isV4Mapped(addr: string): boolean {
  const hex = addr.includes('.') ? addr.replace(/[\d.]+$/, '0:0') : addr;
  const [l = '', r] = hex.split('::');
  const left = l ? l.split(':') : [];
  const right = r ? r.split(':') : [];
  const zeros: string[] = Array(8 - left.length - right.length).fill('0');
  const groups = [...left, ...zeros, ...right].map((g) => Number.parseInt(g, 16));
  return groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
}

/** isCIDR, independently of src/model/cidr.ts: node's address parser, a canonical prefix length, no zone or 4in6. */
function isCidr(s: string): boolean {
  const [addr = '', bits, extra] = s.split('/');
  const family = isIP(addr);
  if (family === 0 || extra !== undefined || bits === undefined || addr.includes('%')) return false;
  if (!/^(0|[1-9]\d*)$/.test(bits) || Number(bits) > (family === 4 ? 32 : 128)) return false;
  return family === 4 || !isV4Mapped(addr);
}

const SELECTOR_VALUES_RULE =
  "self.operator in ['In', 'NotIn'] ? has(self.values) && size(self.values) > 0 : !has(self.values) || size(self.values) == 0";
const NAMED_PORT_RULE =
  '!has(self.protocols) || !self.protocols.exists(p, has(p.destinationNamedPort)) || ' +
  'self.to.all(t, !has(t.networks) && !has(t.nodes) && !has(t.domainNames))';

/** An oracle per CEL rule text; the exactly-one-of rules are read from their text. */
function cel(rule: string, self: unknown): boolean {
  const oneOf = [...rule.matchAll(/has\(self\.(\w+)\)/g)].map((m) => m[1] as string);
  if (/^(\(has\(self\.\w+\) \? 1 : 0\)( \+ )?)+ == 1$/.test(rule)) {
    return oneOf.filter((f) => has(self, f)).length === 1;
  }
  const o = self as Obj;
  const to = (Array.isArray(o?.to) ? o.to : []) as unknown[];
  switch (rule) {
    case 'self.start < self.end':
      return (o.start as number) < (o.end as number);
    case "self.matches('[a-z]')":
      return /[a-z]/.test(self as string);
    case SELECTOR_VALUES_RULE:
      return ['In', 'NotIn'].includes(o.operator as string)
        ? Array.isArray(o.values) && o.values.length > 0
        : !Array.isArray(o.values) || o.values.length === 0;
    case 'isCIDR(self)':
      return isCidr(self as string);
    case "self.action == 'Accept' || self.to.all(t, !has(t.domainNames))":
      return o.action === 'Accept' || to.every((t) => !has(t, 'domainNames'));
    case NAMED_PORT_RULE: {
      const named = Array.isArray(o.protocols) && o.protocols.some((p) => has(p, 'destinationNamedPort'));
      return !named || to.every((t) => ['networks', 'nodes', 'domainNames'].every((f) => !has(t, f)));
    }
    default:
      throw new Error(`no oracle for CEL rule ${rule}`);
  }
}

const crd = renderCrds().find((c) => (c.spec as Obj).group === 'policy.networking.k8s.io') as Obj;
// biome-ignore lint/suspicious/noExplicitAny: a test walking a plain object by known paths
const version = (crd.spec as any).versions[0];
const schema = version.schema.openAPIV3Schema as Schema;
const schemaProblems = (doc: unknown) => {
  const out: string[] = [];
  validate(schema, doc, 'doc', out, cel);
  return out;
};

/** What the parser checks that the schema cannot (CEL over a selector's unbounded map costs too much): its keys. */
const PARSER_ONLY = /\.matchLabels: key /;

describe('ClusterNetworkPolicy CRD', () => {
  it('is the v1alpha2 API of network-policy-api v0.2.0, cluster-scoped, with a status subresource', () => {
    // biome-ignore lint/suspicious/noExplicitAny: a test walking a plain object by known paths
    const spec = crd.spec as any;
    assert.equal((crd.metadata as Obj).name, 'clusternetworkpolicies.policy.networking.k8s.io');
    assert.ok(((crd.metadata as Obj).annotations as Obj)['api-approved.kubernetes.io']);
    assert.deepEqual(
      [spec.scope, spec.names.kind, spec.names.shortNames],
      ['Cluster', 'ClusterNetworkPolicy', ['cnp']],
    );
    assert.deepEqual(
      [version.name, version.served, version.storage, version.subresources],
      ['v1alpha2', true, true, { status: {} }],
    );
    assert.deepEqual(schema.required, ['metadata', 'spec']);
  });
  it('the validator is not vacuous: each kind of schema problem is caught', () => {
    const bad = cnpDoc({
      tier: 'admin',
      priority: 1001,
      subject: {},
      ingress: [{ action: 'Deny', from: [{ namespaces: {}, pods: { podSelector: {} } }], ports: [] }],
      egress: [
        {
          action: 'Deny',
          to: [{ networks: ['10.0.0.0/8', '10.0.0.0/8', 'x'] }, { domainNames: ['localhost'] }],
          protocols: [
            { destinationNamedPort: 'http' },
            { tcp: { destinationPort: { range: { start: 2, end: 1 } } } },
          ],
        },
      ],
    });
    const E = 'doc.spec.egress[0]';
    assert.deepEqual(schemaProblems(bad).sort(), [
      'doc.spec.egress[0].protocols[1].tcp.destinationPort.range: self.start < self.end',
      `${E}.to[0].networks: duplicate`,
      `${E}.to[0].networks[2]: isCIDR(self)`,
      `${E}.to[1].domainNames[0]: pattern`,
      'doc.spec.ingress[0].from[0]: (has(self.namespaces) ? 1 : 0) + (has(self.pods) ? 1 : 0) == 1',
      'doc.spec.ingress[0].ports: unknown field',
      'doc.spec.priority: out of range',
      'doc.spec.subject: (has(self.namespaces) ? 1 : 0) + (has(self.pods) ? 1 : 0) == 1',
      'doc.spec.tier: not in enum',
    ]);
    const cels = schemaProblems(
      cnpDoc(
        cnpSpec({
          egress: [
            {
              action: 'Pass',
              to: [{ domainNames: ['a.io'] }, { nodes: {} }],
              protocols: [{ destinationNamedPort: 'http' }],
            },
          ],
        }),
      ),
    );
    assert.equal(cels.length, 2, cels.join('\n'));
  });
  it('agrees with the parser at every limit, on both sides of it', () => {
    const many = (n: number, f: (i: number) => unknown) => Array.from({ length: n }, (_, i) => f(i));
    const deny = (to: unknown[], more: Obj = {}) => cnpSpec({ egress: [{ action: 'Deny', to, ...more }] });
    const tcp = (destinationPort: unknown) => ({ protocols: [{ tcp: { destinationPort } }] });
    const cases: [string, Obj][] = [];
    for (const n of [25, 26]) {
      cases.push([
        `${n} rules`,
        cnpSpec({ ingress: many(n, () => ({ action: 'Pass', from: [{ namespaces: {} }] })) }),
      ]);
      cases.push([`${n} peers`, deny(many(n, () => ({ nodes: {} })))]);
      cases.push([
        `${n} protocols`,
        deny([{ nodes: {} }], {
          protocols: many(n, (i) => ({ udp: { destinationPort: { number: i + 1 } } })),
        }),
      ]);
      cases.push([`${n} networks`, deny([{ networks: many(n, (i) => `10.${i}.0.0/16`) }])]);
      cases.push([
        `${n} domainNames`,
        cnpSpec({ egress: [{ action: 'Accept', to: [{ domainNames: many(n, (i) => `d${i}.io`) }] }] }),
      ]);
    }
    for (const p of [-1, 0, 1000, 1001]) cases.push([`priority ${p}`, cnpSpec({ priority: p })]);
    for (const n of [0, 1, 65535, 65536])
      cases.push([`port ${n}`, deny([{ nodes: {} }], tcp({ number: n }))]);
    for (const [a, b] of [
      [1, 2],
      [2, 2],
      [0, 2],
      [1, 65536],
    ]) {
      cases.push([`range ${a}-${b}`, deny([{ nodes: {} }], tcp({ range: { start: a, end: b } }))]);
    }
    for (const n of [100, 101]) cases.push([`name of ${n}`, deny([{ nodes: {} }], { name: 'é'.repeat(n) })]);
    for (const c of [
      '1:2:3:4:5:6:7:8/128',
      'ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128',
      '1.2.3.4/32',
      '1.2.3.4/08',
    ]) {
      cases.push([`network ${c}`, deny([{ networks: [c] }])]);
    }
    for (const name of ['h', 'a-1', 'http-alt-12345x', 'http-alt-1234567', '1-2', 'a--b', '-a', 'a-']) {
      cases.push([
        `named port ${name}`,
        cnpSpec({
          ingress: [
            { action: 'Deny', from: [{ namespaces: {} }], protocols: [{ destinationNamedPort: name }] },
          ],
        }),
      ]);
    }
    const subject = (namespaces: unknown) => cnpSpec({ subject: { namespaces } });
    for (const key of ['example.com/app', '-x']) {
      cases.push([`selector key ${key}`, subject({ matchExpressions: [{ key, operator: 'Exists' }] })]);
    }
    for (const n of [63, 64])
      cases.push([`label value of ${n}`, subject({ matchLabels: { a: 'v'.repeat(n) } })]);
    const verdicts = cases.map(([name, spec]) => {
      const doc = cnpDoc(spec);
      return `${name}: schema ${schemaProblems(doc).length === 0}, parser ${parseClusterNetworkPolicy(doc).problems.length === 0}`;
    });
    const disagree = verdicts.filter((v) => !/(true, parser true|false, parser false)$/.test(v));
    assert.deepEqual(disagree, []);
    assert.equal(verdicts.filter((v) => v.endsWith('parser true')).length, 18, verdicts.join('\n'));
  });
  it('agrees with the parser on 2000 random documents', () => {
    const f = cnpFuzzer(prng(7));
    let accepted = 0;
    for (let i = 0; i < 2000; i++) {
      const doc = JSON.parse(JSON.stringify(f.doc())) as Obj;
      const fromSchema = schemaProblems(doc);
      const parsed = parseClusterNetworkPolicy(doc).problems.filter((p) => !p.startsWith('metadata.'));
      const why = `document ${i}: ${JSON.stringify(doc)}\nschema: ${fromSchema.join('; ')}\nparser: ${parsed.join('; ')}`;
      if (parsed.length === 0) assert.deepEqual(fromSchema, [], why);
      if (fromSchema.length === 0)
        assert.deepEqual(
          parsed.filter((p) => !PARSER_ONLY.test(p)),
          [],
          why,
        );
      if (fromSchema.length === 0) accepted++;
    }
    assert.ok(
      accepted >= 300 && accepted <= 1900,
      `${accepted} of 2000 accepted: the fuzzer no longer probes both sides`,
    );
  });
});
