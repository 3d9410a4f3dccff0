// 2000 random JSON documents, from a seeded PRNG so a failure reproduces: parseNetworkPolicy never throws, its
// result is always well-formed, and a valid result written back as a manifest parses to itself.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { prng } from '../policy/testdata/random.js';
import { cidrContains, formatCidr, parseCidr } from './cidr.js';
import { PROTOCOLS, portNameProblems } from './k8s.js';
import type { LabelSelector, NetworkPolicy, PolicyPeer, PolicyRule } from './network-policy.js';
import { NETWORK_POLICY_API_VERSION as API, parseNetworkPolicy } from './network-policy-parse.js';
import { npDoc } from './network-policy-parse.testkit.js';

// biome-ignore format: a table of values, one line per kind
const SCALARS: unknown[] = [
  null, true, false, 0, 1, 53, 80, 443, 65535, 65536, -1, 3.5,
  '', 'x', 'web', 'a b', 'app', 'kubernetes.io/metadata.name', 'x'.repeat(70), API, 'NetworkPolicy',
  'TCP', 'UDP', 'SCTP', 'ICMP', 'http', 'HTTP', 'a--b', 'Ingress', 'Egress', 'In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt',
  '10.0.0.0/8', '10.1.0.0/16', '10.0.0.1/8', '10.0.0.0/33', '10.0.0.0/08', '0.0.0.0/0', 'fd00::/64', 'fd00::/120',
  '::ffff:10.0.0.0/104',
];
// biome-ignore format: a table of field names
const FIELDS = [
  'apiVersion', 'kind', 'metadata', 'spec', 'status', 'name', 'namespace', 'labels', 'podSelector', 'namespaceSelector',
  'ipBlock', 'cidr', 'except', 'policyTypes', 'ingress', 'egress', 'from', 'to', 'ports', 'protocol', 'port', 'endPort',
  'matchLabels', 'matchExpressions', 'key', 'operator', 'values', 'app', 'bogus',
];

function fuzzer(rnd: () => number) {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const times = <T>(max: number, f: () => T): T[] => Array.from({ length: Math.floor(rnd() * (max + 1)) }, f);
  const any = (depth: number): unknown => {
    const r = rnd();
    if (depth > 4 || r < 0.45) return pick(SCALARS);
    if (r < 0.7) return times(3, () => any(depth + 1));
    return Object.fromEntries(times(4, () => [pick(FIELDS), any(depth + 1)]));
  };
  // Plausible structure where each slot is sometimes left out, rarely replaced by anything, and each value
  // is now and then one the API server rejects.
  const slot = (f: () => unknown): unknown => {
    const r = rnd();
    return r < 0.01 ? any(2) : r < 0.2 ? undefined : f();
  };
  const choose = <T>(good: readonly T[], bad: readonly unknown[]): unknown =>
    rnd() < 0.03 ? pick(bad) : pick(good);
  const selector = () => ({
    matchLabels: slot(() =>
      Object.fromEntries(times(2, () => [choose(['app', 'tier'], ['a b']), choose(['web', ''], [1])])),
    ),
    matchExpressions: slot(() =>
      times(2, () => {
        const operator = choose(['In', 'NotIn', 'Exists', 'DoesNotExist'], ['Gt', null]);
        const values = operator === 'In' || operator === 'NotIn' ? ['web', 'db'] : [];
        return { key: choose(['app', 'tier'], ['-x']), operator, values: choose([values], [['a b'], []]) };
      }),
    ),
  });
  const cidr = () => choose(['10.0.0.0/8', 'fd00::/64', '0.0.0.0/0'], ['10.0.0.1/8', '10.0.0.0/33', 'x']);
  const except = (c: unknown) =>
    c === '10.0.0.0/8'
      ? choose(['10.1.0.0/16', '10.1.2.0/24'], ['fd00::/64', '10.0.0.0/8'])
      : choose(['fd00::/120'], ['11.0.0.0/8']);
  const peer = () =>
    pick([
      () => ({ podSelector: slot(selector) }),
      () => ({ namespaceSelector: slot(selector), podSelector: slot(selector) }),
      () => {
        const c = cidr();
        return {
          ipBlock: { cidr: c, except: slot(() => times(2, () => except(c))) },
          podSelector: choose([undefined], [{}]),
        };
      },
    ])();
  const portDoc = () => {
    const port = choose([80, 443, 'http', 'dns-udp', undefined], [0, 'HTTP', '80', true]);
    const endPort = typeof port === 'number' && rnd() < 0.3 ? choose([1000, 65535], [70000, 1]) : undefined;
    return { protocol: slot(() => choose(['TCP', 'UDP', 'SCTP'], ['ICMP'])), port, endPort };
  };
  const rules = (field: string) =>
    times(3, () => ({ [field]: slot(() => times(3, peer)), ports: slot(() => times(2, portDoc)) }));
  const doc = () => ({
    apiVersion: choose([API], ['v1']),
    kind: 'NetworkPolicy',
    metadata: {
      name: choose(['p', 'deny-all'], ['Bad_Name', undefined]),
      namespace: slot(() => choose(['shop'], ['Shop'])),
    },
    spec: slot(() => ({
      podSelector: slot(selector),
      policyTypes: slot(() =>
        choose([['Ingress'], ['Egress'], ['Ingress', 'Egress'], []], [['ingress'], ['Egress', 'Egress']]),
      ),
      ingress: slot(() => rules('from')),
      egress: slot(() => rules('to')),
    })),
  });
  return { any, doc };
}

function assertSelector(s: LabelSelector): void {
  for (const v of Object.values(s.matchLabels)) assert.equal(typeof v, 'string');
  for (const e of s.matchExpressions) {
    assert.ok(['In', 'NotIn', 'Exists', 'DoesNotExist'].includes(e.operator));
    assert.ok(e.values.every((v) => typeof v === 'string'));
    assert.equal(e.values.length > 0, e.operator === 'In' || e.operator === 'NotIn');
  }
}

function assertRule(r: PolicyRule): void {
  for (const p of r.peers) {
    if (p.ipBlock) {
      assert.ok(!p.podSelector && !p.namespaceSelector);
      const cidr = parseCidr(p.ipBlock.cidr, { strict: true });
      assert.equal(formatCidr(cidr), p.ipBlock.cidr);
      for (const e of p.ipBlock.except.map((t) => parseCidr(t, { strict: true }))) {
        assert.ok(
          e.family === cidr.family &&
            e.prefix > cidr.prefix &&
            cidrContains(cidr, { family: e.family, value: e.network }),
        );
      }
    } else {
      assert.ok(p.podSelector || p.namespaceSelector);
      if (p.podSelector) assertSelector(p.podSelector);
      if (p.namespaceSelector) assertSelector(p.namespaceSelector);
    }
  }
  for (const p of r.ports) {
    assert.ok(PROTOCOLS.includes(p.protocol));
    if (typeof p.port === 'string') assert.deepStrictEqual(portNameProblems(p.port), []);
    if (typeof p.port === 'number') assert.ok(Number.isInteger(p.port) && p.port >= 1 && p.port <= 65535);
    if (p.endPort !== undefined)
      assert.ok(typeof p.port === 'number' && p.endPort >= p.port && p.endPort <= 65535);
  }
}

function assertWellFormed(np: NetworkPolicy): void {
  assert.equal(np.kind, 'NetworkPolicy');
  assert.equal(typeof np.namespace, 'string');
  assert.equal(typeof np.name, 'string');
  assertSelector(np.podSelector);
  assert.ok(np.policyTypes.length > 0 && new Set(np.policyTypes).size === np.policyTypes.length);
  assert.ok(np.policyTypes.every((t) => t === 'Ingress' || t === 'Egress'));
  assert.ok(np.problems.every((p) => typeof p === 'string' && p.includes(': ')));
  if (np.problems.length > 0) assert.deepStrictEqual([np.ingress, np.egress], [[], []]);
  for (const r of [...np.ingress, ...np.egress]) assertRule(r);
}

/** A valid policy written back as a manifest: parsing it again must give the same policy. */
function toDoc(np: NetworkPolicy): unknown {
  const peerDoc = (p: PolicyPeer) => ({ ...p, ...(p.ipBlock && { ipBlock: { ...p.ipBlock } }) });
  const ruleDoc = (field: string) => (r: PolicyRule) => ({ [field]: r.peers.map(peerDoc), ports: r.ports });
  return npDoc(
    {
      podSelector: np.podSelector,
      policyTypes: np.policyTypes,
      ingress: np.ingress.map(ruleDoc('from')),
      egress: np.egress.map(ruleDoc('to')),
    },
    { name: np.name, namespace: np.namespace },
  );
}

describe('parseNetworkPolicy fuzz', () => {
  it('2000 random documents: never throws, always well-formed, valid ones round-trip', () => {
    const f = fuzzer(prng(20240601));
    let valid = 0;
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const doc = i % 4 === 0 ? f.any(0) : f.doc();
      const json = JSON.parse(JSON.stringify(doc ?? null)) as unknown;
      const np = parseNetworkPolicy(json);
      assert.doesNotThrow(() => assertWellFormed(np), `document ${i}: ${JSON.stringify(json)}`);
      for (const p of np.problems) seen.add(p.replace(/\[\d+\]/g, '[]').replace(/: .*/, ''));
      if (np.problems.length === 0) {
        valid++;
        assert.deepStrictEqual(parseNetworkPolicy(toDoc(np)), np, `round trip of document ${i}`);
      }
    }
    assert.ok(valid >= 300, `only ${valid} of 2000 fuzzed documents were valid: the fuzzer is too blunt`);
    assert.ok(seen.size >= 30, `only ${seen.size} distinct problem fields: the fuzzer is too narrow`);
  });
});
