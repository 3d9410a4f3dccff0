// Keeps the IPAM's decisions pure: only the file store (and test helpers) may touch node:* modules.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const IO_MODULES = new Set(['file-store.ts', 'file-store-io.ts']);
const dir = fileURLToPath(new URL('.', import.meta.url));

function importsOf(file: string): string[] {
  const text = readFileSync(`${dir}/${file}`, 'utf8');
  return [...text.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+'([^']+)'/gm)].map((m) => m[1]!);
}

test('allocator, config, ipam and store import no node:* module', () => {
  const pure = readdirSync(dir).filter(
    (f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !IO_MODULES.has(f),
  );
  assert.ok(pure.includes('allocator.ts') && pure.includes('ipam.ts'));
  const offenders = pure.flatMap((f) =>
    importsOf(f)
      .filter((s) => s.startsWith('node:'))
      .map((s) => `${f}: ${s}`),
  );
  assert.deepStrictEqual(offenders, []);
});

test('the file store is reached only through the Store seam', () => {
  const users = readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !IO_MODULES.has(f))
    .filter((f) => importsOf(f).some((s) => s.startsWith('./file-store')));
  assert.deepStrictEqual(users, []);
});
