// 3000 random JSON documents from a seeded PRNG (a failure reproduces): parseGlobalNetworkPolicy never throws, its
// result is always well-formed, a policy with problems keeps no Allow, Pass or Log rule and no preDNAT or
// doNotTrack, a valid one written back as a manifest parses to itself, and the same valid policy with a broken
// name is exactly its fail-closed form.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { prng } from '../policy/testdata/random.js';
import { parseCalicoSelector } from './calico-selector.js';
import { formatCidr, parseCidr } from './cidr.js';
import type {
  EntityRule,
  GlobalNetworkPolicy,
  GlobalPolicyRule,
  ParsedSelector,
} from './global-network-policy.js';
import { GLOBAL_POLICY_ACTIONS } from './global-network-policy.js';
import { gnpFuzzer } from './global-network-policy-parse.fuzzer.js';
import { parseGlobalNetworkPolicy } from './global-network-policy-parse.js';
import { toDoc } from './global-network-policy-parse.testkit.js';

function assertSelector(s: ParsedSelector | undefined): void {
  if (s === undefined) return;
  const parsed = parseCalicoSelector(s.text);
  assert.ok(parsed.ok);
  assert.deepStrictEqual(parsed.selector, s.selector);
}

function assertEntity(e: EntityRule): void {
  for (const n of [...e.nets, ...e.notNets]) assert.equal(formatCidr(parseCidr(n)), n);
  for (const s of [e.selector, e.notSelector, e.namespaceSelector]) assertSelector(s);
  for (const p of [...e.ports, ...e.notPorts]) {
    if (p.kind === 'named') assert.match(p.name, /^[a-zA-Z0-9_.-]{1,128}$/);
    else assert.ok(Number.isInteger(p.from) && p.from >= 1 && p.from <= p.to && p.to <= 65535);
  }
}

function assertRule(r: GlobalPolicyRule, gnp: GlobalNetworkPolicy): void {
  assert.ok(GLOBAL_POLICY_ACTIONS.includes(r.action));
  if (gnp.problems.length > 0) assert.equal(r.action, 'Deny', 'a policy with problems only denies');
  for (const p of [r.protocol, r.notProtocol]) {
    if (p?.kind === 'number') assert.ok(Number.isInteger(p.number) && p.number >= 1 && p.number <= 255);
  }
  assert.ok(r.ipVersion === undefined || r.ipVersion === 4 || r.ipVersion === 6);
  for (const m of [r.icmp, r.notICMP]) {
    if (m)
      assert.ok(m.type >= 0 && m.type <= 254 && (m.code === undefined || (m.code >= 0 && m.code <= 255)));
  }
  assertEntity(r.source);
  assertEntity(r.destination);
}

function assertWellFormed(gnp: GlobalNetworkPolicy): void {
  assert.equal(gnp.kind, 'GlobalNetworkPolicy');
  assert.ok(['palisade.dev', 'crd.projectcalico.org', 'projectcalico.org'].includes(gnp.group));
  assert.ok(gnp.order === undefined || Number.isFinite(gnp.order));
  assertSelector(gnp.selector);
  assertSelector(gnp.namespaceSelector);
  assert.ok([['Ingress'], ['Egress'], ['Ingress', 'Egress']].some((t) => t.join() === gnp.types.join()));
  assert.ok(gnp.problems.every((p) => typeof p === 'string' && p.includes(': ')));
  if (gnp.problems.length > 0)
    assert.ok(!gnp.preDNAT && !gnp.doNotTrack, 'failed: preDNAT/doNotTrack cleared');
  if (gnp.preDNAT || gnp.doNotTrack) assert.ok(gnp.applyOnForward);
  for (const r of [...gnp.ingress, ...gnp.egress]) assertRule(r, gnp);
}

/** What failing closed must make of a valid policy. */
const closed = (p: GlobalNetworkPolicy): GlobalNetworkPolicy => ({
  ...p,
  ingress: p.ingress.filter((r) => r.action === 'Deny'),
  egress: p.egress.filter((r) => r.action === 'Deny'),
  preDNAT: false,
  doNotTrack: false,
});

describe('parseGlobalNetworkPolicy fuzz', () => {
  it('3000 random documents: never throws, well-formed, fails closed, valid ones round-trip', () => {
    const f = gnpFuzzer(prng(20261207));
    let valid = 0;
    const seen = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      const doc = i % 5 === 0 ? f.any(0) : f.doc();
      const json = JSON.parse(JSON.stringify(doc ?? null)) as unknown;
      const gnp = parseGlobalNetworkPolicy(json);
      assert.doesNotThrow(() => assertWellFormed(gnp), `document ${i}: ${JSON.stringify(json)}`);
      for (const p of gnp.problems.filter((x) => !x.endsWith(': unknown field'))) {
        seen.add(
          p
            .replace(/\[\d+\]/g, '[]')
            .replace(/\.(ingress|egress)\[\]/, '.rules[]')
            .replace(/: .*/, ''),
        );
      }
      if (gnp.problems.length > 0) continue;
      valid++;
      assert.deepStrictEqual(parseGlobalNetworkPolicy(toDoc(gnp)), gnp, `round trip of document ${i}`);
      const broken = parseGlobalNetworkPolicy({ ...toDoc(gnp), metadata: { name: gnp.name.toUpperCase() } });
      assert.deepStrictEqual(
        { ...broken, problems: [] },
        closed({ ...gnp, name: gnp.name.toUpperCase() }),
        `fail-closed form of document ${i}`,
      );
    }
    assert.ok(valid >= 500, `only ${valid} of 3000 fuzzed documents were valid: the fuzzer is too blunt`);
    assert.ok(seen.size >= 40, `only ${seen.size} distinct fields with problems: the fuzzer is too narrow`);
  });
});
