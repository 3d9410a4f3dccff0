// Golden rulesets: the compiler's output for each scenario and node, rendered, compared as exact text.
// Regenerate with UPDATE_GOLDEN=1 and review the diff.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { renderRule, renderTable } from '../dataplane/nft-render.js';
import { compileNode } from './compile.js';
import { demoCluster, makePolicy, rule, sel, tcp } from './testdata/builders.js';
import { CLUSTER_SCENARIOS, GLOBAL_SCENARIOS, SCENARIOS } from './testdata/scenarios.js';

const GOLDEN = join(import.meta.dirname, 'testdata', 'golden');

describe('compiler golden rulesets', () => {
  for (const [name, policies] of Object.entries(SCENARIOS)) {
    for (const [node, merged] of [
      ['node-1', false],
      ['node-2', false],
      ['node-1', true],
    ] as const) {
      it(`${name} on ${node}${merged ? ', policies merged per endpoint' : ''}`, () => {
        const opts = merged ? { mergeAbove: 0 } : {};
        const got = renderTable(compileNode(demoCluster(policies), node, opts).table);
        checkGolden(`${name}.${node}${merged ? '.merged' : ''}.nft`, got);
      });
    }
  }
  for (const [name, { cluster, policies }] of Object.entries(CLUSTER_SCENARIOS)) {
    for (const node of ['node-1', 'node-2']) {
      it(`${name} (ClusterNetworkPolicies) on ${node}`, () => {
        const state = { ...demoCluster(policies), clusterPolicies: cluster };
        checkGolden(`${name}.${node}.nft`, renderTable(compileNode(state, node).table));
      });
    }
  }
  for (const [name, { global, policies, hostEndpoints }] of Object.entries(GLOBAL_SCENARIOS)) {
    for (const [node, merged] of [
      ['node-1', false],
      ['node-2', false],
      ['node-1', true],
    ] as const) {
      it(`${name} (GlobalNetworkPolicies) on ${node}${merged ? ', policies merged per endpoint' : ''}`, () => {
        const state = { ...demoCluster(policies), globalPolicies: global, hostEndpoints };
        assert.deepEqual(
          global.flatMap((p) => p.problems),
          [],
        );
        const table = compileNode(state, node, merged ? { mergeAbove: 0 } : {}).table;
        checkGolden(`${name}.${node}${merged ? '.merged' : ''}.nft`, renderTable(table));
      });
    }
  }
});

/** Exact text against a reviewed file. A missing file fails: only UPDATE_GOLDEN=1 writes one, for review. */
function checkGolden(name: string, got: string): void {
  const file = join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, got);
  assert.ok(existsSync(file), `${file} is missing: write it with UPDATE_GOLDEN=1 and review it`);
  assert.equal(got, readFileSync(file, 'utf8'));
}

describe('compiler diagnostics', () => {
  it('a broken policy is reported by name and compiled to a chain that allows nothing', () => {
    const { table, diagnostics } = compileNode(demoCluster(SCENARIOS.mixed), 'node-1');
    assert.deepEqual(diagnostics, [
      {
        policy: 'shop/broken',
        problems: [
          'spec.ingress[0].from[0].ipBlock.cidr: "10.0.0.0/33" has an invalid prefix length (must be 0-32)',
        ],
      },
    ]);
    const chain = table.chains.find(
      (c) => c.comment === undefined && c.rules[0]?.comment.startsWith('np:shop/broken'),
    );
    assert.ok(chain, 'the broken policy has its chain');
    assert.ok(chain.rules.every((r) => r.verdict === undefined));
  });
  it('only policies selecting pods of the node get chains there', () => {
    const { table } = compileNode(demoCluster(SCENARIOS.mixed), 'node-2');
    const comments = table.chains.map((c) => c.comment ?? '').filter(Boolean);
    assert.deepEqual(comments.sort(), [
      'np:billing/egress egress',
      'np:shop/db-from-shop ingress',
      'np:shop/default-deny ingress',
    ]);
  });
});

describe('a pod many policies select', () => {
  // 30 policies select shop/web, each allowing another peer on the same ports (and one on its named port).
  const many = Array.from({ length: 30 }, (_, i) =>
    makePolicy('shop', `p${String(i).padStart(2, '0')}`, {
      podSelector: sel({ app: 'web' }),
      ingress: [rule([{ podSelector: sel({ peer: `x${i}` }) }], [tcp(80), tcp(8080)])],
    }),
  );
  const named = makePolicy('shop', 'named', {
    podSelector: sel({ app: 'web' }),
    ingress: [rule([{ namespaceSelector: sel({ team: 'billing' }) }], [tcp('http')])],
  });
  it('gets one chain with one rule per port match, on the union of the peers; no chain per policy', () => {
    const { table } = compileNode(demoCluster([...many, named]), 'node-1');
    assert.equal(table.chains.filter((c) => c.name.startsWith('np_')).length, 0);
    const ep = table.chains.find((c) => c.name.startsWith('ep_') && c.name.endsWith('_in'))!;
    const text = ep.rules.map(renderRule);
    assert.equal(text.length, 3, text.join('\n'));
    // The named port "http" is web's 80 here: a group of its own (tcp 80), beside the 30 policies' (80, 8080).
    assert.match(
      text[1]!,
      /^ip saddr @pods4_\w+ meta l4proto tcp th dport @ports_\w+ counter accept comment "np:shop\/p00,shop\/p01,shop\/p02 \+27:ingress \(merged\)"$/,
    );
    assert.match(
      text[0]!,
      /^ip saddr @pods4_\w+ meta l4proto tcp th dport 80 counter accept comment "np:shop\/named:ingress \(merged\)"$/,
    );
    assert.match(text[2]!, /drop comment "isolated ingress: shop\/web, no policy allows"/);
  });
  it('below the threshold the same pod jumps to each policy chain', () => {
    const { table } = compileNode(demoCluster([...many, named]), 'node-1', { mergeAbove: 100 });
    assert.equal(table.chains.filter((c) => c.name.startsWith('np_')).length, 31);
  });
});
