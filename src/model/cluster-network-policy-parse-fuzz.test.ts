// 2000 random JSON documents from a seeded PRNG (a failure reproduces): parseClusterNetworkPolicy never throws,
// its result is always well-formed, a policy with problems only denies, a valid one written back as a manifest
// parses to itself, and the same valid policy with a broken name is exactly its fail-closed form.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { prng } from '../policy/testdata/random.js';
import { formatCidr, parseCidr } from './cidr.js';
import type {
  ClusterEgressPeer,
  ClusterNetworkPolicy,
  ClusterPolicyProtocol,
  ClusterPolicyRule,
} from './cluster-network-policy.js';
import { cnpFuzzer } from './cluster-network-policy-parse.fuzzer.js';
import { parseClusterNetworkPolicy } from './cluster-network-policy-parse.js';
import { toDoc } from './cluster-network-policy-parse.testkit.js';
import { DOMAIN_NAME_PATTERN } from './cluster-network-policy-parse-peers.js';
import { portNameProblems } from './k8s.js';
import type { LabelSelector } from './network-policy.js';

function assertSelector(s: LabelSelector): void {
  for (const v of Object.values(s.matchLabels)) assert.equal(typeof v, 'string');
  for (const e of s.matchExpressions)
    assert.ok(['In', 'NotIn', 'Exists', 'DoesNotExist'].includes(e.operator));
}

function assertPeer(p: ClusterEgressPeer, cnp: ClusterNetworkPolicy, action: string): void {
  if (p.kind === 'any') {
    assert.ok(cnp.problems.length > 0, 'AnyPeer only when failing closed');
  } else if (p.kind === 'networks') {
    assert.ok(
      p.networks.length >= 1 && p.networks.length <= 25 && new Set(p.networks).size === p.networks.length,
    );
    for (const n of p.networks) assert.equal(formatCidr(parseCidr(n)), n);
  } else if (p.kind === 'domainNames') {
    assert.ok(p.domainNames.every((d) => new RegExp(DOMAIN_NAME_PATTERN).test(d)) && action === 'Accept');
  } else if (p.kind === 'nodes') assertSelector(p.nodeSelector);
  else {
    assertSelector(p.namespaceSelector);
    if (p.kind === 'pods') assertSelector(p.podSelector);
  }
}

function assertProtocol(p: ClusterPolicyProtocol): void {
  if (p.kind === 'namedPort') {
    assert.deepStrictEqual(portNameProblems(p.name), []);
    return;
  }
  assert.ok(['TCP', 'UDP', 'SCTP'].includes(p.protocol));
  const [lo, hi] = p.kind === 'port' ? [p.port, p.port] : [p.start, p.end];
  assert.ok(Number.isInteger(lo) && lo >= 1 && hi <= 65535 && (p.kind === 'port' || lo < hi));
}

function assertWellFormed(cnp: ClusterNetworkPolicy): void {
  assert.equal(cnp.kind, 'ClusterNetworkPolicy');
  assert.ok(cnp.tier === 'Admin' || cnp.tier === 'Baseline');
  assert.ok(Number.isInteger(cnp.priority) && cnp.priority >= 0 && cnp.priority <= 1000);
  assertSelector(cnp.subject.namespaceSelector);
  if (cnp.subject.kind === 'pods') assertSelector(cnp.subject.podSelector);
  assert.ok(cnp.problems.every((p) => typeof p === 'string' && p.includes(': ')));
  assert.ok(cnp.notProgrammed.every((p) => /\.domainNames: not programmed/.test(p)));
  const rules: ClusterPolicyRule<ClusterEgressPeer>[] = [...cnp.ingress, ...cnp.egress];
  for (const r of rules) {
    if (cnp.problems.length > 0) assert.equal(r.action, 'Deny', 'a policy with problems only denies');
    assert.ok(r.peers.length >= 1 && r.peers.length <= 25 && r.protocols.length <= 25);
    assert.ok(r.name === undefined || (r.name.length > 0 && r.name.length <= 100));
    for (const p of r.peers) assertPeer(p, cnp, r.action);
    for (const p of r.protocols) assertProtocol(p);
  }
  assert.ok(cnp.problems.length > 0 || (cnp.ingress.length <= 25 && cnp.egress.length <= 25));
}

/** What failing closed must make of a valid policy's rules. */
const closed = <P>(rules: readonly ClusterPolicyRule<P>[]) =>
  rules.filter((r) => r.action !== 'Accept').map((r) => ({ ...r, action: 'Deny' as const }));

describe('parseClusterNetworkPolicy fuzz', () => {
  it('2000 random documents: never throws, well-formed, fails closed, valid ones round-trip', () => {
    const f = cnpFuzzer(prng(20260421));
    let valid = 0;
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const doc = i % 5 === 0 ? f.any(0) : f.doc();
      const json = JSON.parse(JSON.stringify(doc ?? null)) as unknown;
      const cnp = parseClusterNetworkPolicy(json);
      assert.doesNotThrow(() => assertWellFormed(cnp), `document ${i}: ${JSON.stringify(json)}`);
      for (const p of cnp.problems) seen.add(p.replace(/\[\d+\]/g, '[]').replace(/: .*/, ''));
      if (cnp.problems.length > 0) continue;
      valid++;
      assert.deepStrictEqual(parseClusterNetworkPolicy(toDoc(cnp)), cnp, `round trip of document ${i}`);
      const broken = parseClusterNetworkPolicy({ ...toDoc(cnp), metadata: { name: cnp.name.toUpperCase() } });
      assert.deepStrictEqual(
        { ...broken, problems: [] },
        { ...cnp, name: cnp.name.toUpperCase(), ingress: closed(cnp.ingress), egress: closed(cnp.egress) },
        `fail-closed form of document ${i}`,
      );
    }
    assert.ok(valid >= 200, `only ${valid} of 2000 fuzzed documents were valid: the fuzzer is too blunt`);
    assert.ok(seen.size >= 30, `only ${seen.size} distinct problem fields: the fuzzer is too narrow`);
  });
});
