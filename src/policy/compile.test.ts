// Golden rulesets: the compiler's output for each scenario and node, rendered, compared as exact text.
// Regenerate with UPDATE_GOLDEN=1 and review the diff.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { renderTable } from '../dataplane/nft-render.js';
import { compileNode } from './compile.js';
import { demoCluster } from './testdata/builders.js';
import { SCENARIOS } from './testdata/scenarios.js';

const GOLDEN = join(import.meta.dirname, 'testdata', 'golden');

describe('compiler golden rulesets', () => {
  for (const [name, policies] of Object.entries(SCENARIOS)) {
    for (const node of ['node-1', 'node-2']) {
      it(`${name} on ${node}`, () => {
        const got = renderTable(compileNode(demoCluster(policies), node).table);
        const file = join(GOLDEN, `${name}.${node}.nft`);
        if (process.env.UPDATE_GOLDEN === '1' || !existsSync(file)) writeFileSync(file, got);
        assert.equal(got, readFileSync(file, 'utf8'));
      });
    }
  }
});

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
