// Layers point inward (conventions.md): pure modules import no node:* and no runner; only the runner spawns
// processes. A scan of import lines keeps this true as the code grows.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';

const SRC = import.meta.dirname;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'testdata' ? [] : sources(p); // test support, like *.test.ts
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [p] : [];
  });
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^\s*(?:import|export)[^'"]*from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
}

/** Modules that decide and must stay pure: no node:* and no side-effect seams. */
const PURE = [
  'model/',
  'cni/errors.ts',
  'cni/version.ts',
  'cni/env.ts',
  'cni/config.ts',
  'cni/result.ts',
  'dataplane/pod-link-script.ts',
  'dataplane/nft-render.ts',
  'dataplane/nft-diff.ts',
  'dataplane/ipsec-plan.ts',
  'dataplane/ipsec-sas.ts',
  'dataplane/wireguard-plan.ts',
  'policy/',
  'ir/',
  'util/hash.ts',
  'ipam/allocator.ts',
  'ipam/config.ts',
  'ipam/range.ts',
  'ipam/record.ts',
  'ipam/types.ts',
  'lab/plan.ts',
  'chained/',
  'install/cni-conf.ts',
];

describe('architecture', () => {
  const files = sources(SRC).map((f) => ({ file: f, rel: relative(SRC, f), imports: importsOf(f) }));

  it('pure modules import no node:* module and no runner', () => {
    const offenders = files
      .filter((f) => PURE.some((p) => f.rel === p || (p.endsWith('/') && f.rel.startsWith(p))))
      .flatMap((f) =>
        f.imports
          .filter((i) => i.startsWith('node:') || i.endsWith('/runner.js'))
          .map((i) => `${f.rel} imports ${i}`),
      );
    assert.deepEqual(offenders, []);
  });

  it('only the runner touches child_process', () => {
    // The pod server is a program of its own (bundled apart, run inside each lab pod) with its own spawns.
    const allowed = (rel: string) =>
      rel === join('dataplane', 'runner.ts') || rel.startsWith(join('lab', 'pod-server'));
    const offenders = files
      .filter((f) => f.imports.includes('node:child_process') && !allowed(f.rel))
      .map((f) => f.rel);
    assert.deepEqual(offenders, []);
  });

  it('the dataplane reads the IR (src/ir/), never the compiler that makes it (src/policy/)', () => {
    const offenders = files
      .filter((f) => f.rel.startsWith(`dataplane${'/'}`))
      .flatMap((f) => f.imports.filter((i) => /(^|\/)policy\//.test(i)).map((i) => `${f.rel} imports ${i}`));
    assert.deepEqual(offenders, []);
  });

  it('only src/datastore/kube* imports the Kubernetes client', () => {
    const offenders = files
      .filter(
        (f) =>
          f.imports.some((i) => i.startsWith('@kubernetes/')) && !f.rel.startsWith(join('datastore', 'kube')),
      )
      .map((f) => f.rel);
    assert.deepEqual(offenders, []);
  });
});
