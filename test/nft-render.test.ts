// Every golden ruleset is accepted by the real nft and kernel, and applies as one replace transaction.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { renderReplace } from '../src/dataplane/nft-render.js';
import { compileNode } from '../src/policy/compile.js';
import { demoCluster } from '../src/policy/testdata/builders.js';
import { SCENARIOS } from '../src/policy/testdata/scenarios.js';
import { createFixture, REPO, runner } from './helpers/netns.js';

const fx = createFixture('pnr');
const GOLDEN = join(REPO, 'src', 'policy', 'testdata', 'golden');
let ns = '';

before(async () => {
  ns = await fx.netns('nft');
});
after(() => fx.cleanup());

describe('rendered rulesets in the kernel', () => {
  for (const file of readdirSync(GOLDEN).filter((f) => f.endsWith('.nft'))) {
    it(`nft -c accepts ${file}`, async () => {
      await runner.run(['nft', '-c', '-f', '-'], {
        netns: ns,
        input: readFileSync(join(GOLDEN, file), 'utf8'),
      });
    });
  }
  it('applies as a replace transaction, twice, and lists back the same objects', async () => {
    const table = compileNode(demoCluster(SCENARIOS.mixed), 'node-1').table;
    for (let i = 0; i < 2; i++)
      await runner.run(['nft', '-f', '-'], { netns: ns, input: renderReplace(table) });
    const { stdout } = await runner.run(['nft', '-j', 'list', 'table', 'inet', 'palisade'], { netns: ns });
    const objs = (JSON.parse(stdout) as { nftables: Record<string, { name?: string }>[] }).nftables;
    const names = (kind: string) => objs.flatMap((o) => (o[kind] ? [o[kind].name] : [])).sort();
    assert.deepEqual(names('chain'), table.chains.map((c) => c.name).sort());
    assert.deepEqual(names('set'), table.sets.map((s) => s.name).sort());
    assert.deepEqual(names('map'), table.maps.map((m) => m.name).sort());
  });
});
