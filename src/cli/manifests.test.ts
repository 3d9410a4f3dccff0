import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isAlias, parseAllDocuments, visit } from 'yaml';
import { runManifestsCommand } from './manifests.js';

function render(argv: readonly string[]): string {
  let text = '';
  assert.equal(
    runManifestsCommand(argv, (s) => {
      text += s;
    }),
    0,
  );
  return text;
}

describe('palisade manifests output', () => {
  for (const mode of ['main', 'chained']) {
    it(`--mode ${mode}: plain YAML, no anchors or aliases (read by people, diffed in reviews)`, () => {
      const text = render(['--mode', mode]);
      const docs = parseAllDocuments(text);
      assert.ok(Array.isArray(docs) && docs.length > 5, 'several documents');
      const aliases: string[] = [];
      for (const doc of docs) {
        assert.deepEqual(doc.errors, []);
        visit(doc, {
          Alias: (_key, node) => {
            if (isAlias(node)) aliases.push(`*${node.source}`);
          },
          Node: (_key, node) => {
            if (node.anchor) aliases.push(`&${node.anchor}`);
          },
        });
      }
      assert.deepEqual(aliases, []);
    });
  }
});
