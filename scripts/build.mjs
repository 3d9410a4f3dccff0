// Bundles the executables with esbuild. The CNI plugin and the lab's pod server are single CommonJS files
// that load nothing else at start-up: a runtime execs the plugin for every pod, so start-up time is latency.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';

const common = { bundle: true, platform: 'node', target: 'node20', sourcemap: false, logLevel: 'warning' };
mkdirSync('dist', { recursive: true });
// dist/palisade-cni has no extension, so Node takes its module type from the nearest package.json: make the
// bundles' directory CommonJS (a copy in /opt/cni/bin has no package.json above it and is CommonJS anyway).
writeFileSync('dist/package.json', '{ "type": "commonjs" }\n');

/**
 * npm packages stay external (loaded from node_modules), except @kubernetes/client-node, which is bundled with
 * its files marked free of side effects so that esbuild drops what the agent never reaches: its generated
 * client for every API group. Loaded whole, it held ~70 MB of the agent's RSS (source text, compiled code and
 * ~2,700 modules), against the 150 MB budget at 10k pods.
 */
const kubeClientSlim = {
  name: 'kube-client-slim',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (args.pluginData === 'inner' || args.path.startsWith('node:')) return undefined;
      const inClient = args.importer.includes('/node_modules/@kubernetes/client-node/');
      if (!args.path.startsWith('@kubernetes/client-node') && !inClient) return { external: true };
      if (inClient && !args.path.startsWith('@kubernetes/client-node')) return { external: true };
      const r = await b.resolve(args.path, {
        kind: args.kind,
        resolveDir: args.resolveDir,
        pluginData: 'inner',
      });
      return { path: r.path, sideEffects: false };
    });
    b.onResolve({ filter: /^\./ }, async (args) => {
      if (args.pluginData === 'inner' || !args.importer.includes('/node_modules/@kubernetes/client-node/'))
        return undefined;
      const r = await b.resolve(args.path, {
        kind: args.kind,
        resolveDir: args.resolveDir,
        pluginData: 'inner',
      });
      return { path: r.path, sideEffects: false };
    });
  },
};

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
    plugins: [kubeClientSlim],
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

// The native shim a runtime execs as palisade-cni (src/cni/shim/palisade-cni.c): it hands the invocation to the
// node agent, or execs the Node plugin (installed beside it as palisade-cni-node) when there is none.
try {
  execFileSync(
    'gcc',
    ['-O2', '-Wall', '-Wextra', '-Werror', '-o', 'dist/palisade-cni-shim', 'src/cni/shim/palisade-cni.c'],
    { stdio: 'inherit' },
  );
} catch (err) {
  throw new Error(`building the native CNI shim needs gcc (scripts/setup.sh installs it): ${err.message}`);
}

// The agent's native addon (src/dataplane/native/palisade-native.c): netlink sockets in any network namespace and
// libnftables in-process. N-API only, so it builds against the running Node's headers with gcc alone. The agent
// falls back to `ip` and `nft` processes when it is missing (src/dataplane/native.ts).
try {
  const nodeInclude = join(dirname(dirname(process.execPath)), 'include', 'node');
  execFileSync(
    'gcc',
    [
      '-O2',
      '-Wall',
      '-Wextra',
      '-Werror',
      '-shared',
      '-fPIC',
      `-I${nodeInclude}`,
      '-o',
      'dist/palisade-native.node',
      'src/dataplane/native/palisade-native.c',
      '-lnftables',
    ],
    { stdio: 'inherit' },
  );
} catch (err) {
  throw new Error(
    `building the native addon needs gcc, Node's headers and libnftables-dev (scripts/setup.sh installs them): ${err.message}`,
  );
}
