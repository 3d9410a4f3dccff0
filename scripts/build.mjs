// Bundles the executables with esbuild. The CNI plugin and the lab's pod server are single CommonJS files
// that load nothing else at start-up: a runtime execs the plugin for every pod, so start-up time is latency.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

const common = { bundle: true, platform: 'node', target: 'node20', sourcemap: false, logLevel: 'warning' };
mkdirSync('dist', { recursive: true });
// dist/palisade-cni has no extension, so Node takes its module type from the nearest package.json: make the
// bundles' directory CommonJS (a copy in /opt/cni/bin has no package.json above it and is CommonJS anyway).
writeFileSync('dist/package.json', '{ "type": "commonjs" }\n');

await Promise.all([
  build({
    ...common,
    // Split, so that what only some commands need (the Kubernetes client) loads only when they run.
    entryPoints: { palisade: 'src/cli/main.ts' },
    outdir: 'dist',
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunks/[name]-[hash]',
    splitting: true,
    format: 'esm',
    packages: 'external',
  }),
  build({
    ...common,
    entryPoints: ['src/cni/main.ts'],
    outfile: 'dist/palisade-cni',
    format: 'cjs',
    // A self-contained executable: what a runtime execs and what install-cni copies. NODE_EXTRA_CA_CERTS is
    // dropped because parsing a CA bundle costs ~45 ms per start and the plugin makes no TLS connections.
    banner: { js: '#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS node' },
  }),
  build({
    ...common,
    entryPoints: ['src/lab/pod-server-main.ts'],
    outfile: 'dist/pod-server.cjs',
    format: 'cjs',
  }),
]);
chmodSync('dist/palisade-cni', 0o755);
