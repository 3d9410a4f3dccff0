// Stages what the image holds under /opt/palisade (called by image/build.sh):
//   package.json, bin/palisade      the CLI's launcher finds ../dist/palisade.mjs; `palisade version` reads the version
//   dist/                           every file the build made (the CNI plugin and shim, the CLI, the pod server, a
//                                   native addon when there is one), but of dist/chunks only the chunks an entry
//                                   reaches: the build does not empty dist/, so it still holds earlier builds' chunks
//   node_modules/                   the production install, less what is never loaded (see trim)
// then checks that every npm package the shipped bundles import resolves and loads from there.
//   node image/stage-app.mjs REPO NODE_MODULES OUT
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';

const [repo, nodeModules, out] = process.argv.slice(2).map((p) => resolve(p));
if (!repo || !nodeModules || !out) {
  process.stderr.write('usage: node image/stage-app.mjs REPO NODE_MODULES OUT\n');
  process.exit(2);
}
const dist = join(repo, 'dist');
const isCode = (f) => /\.(m?js|cjs)$/.test(f) || f === join(dist, 'palisade-cni');

/** String literals that are relative module paths ("./chunks/x.mjs", "../chunk-y.mjs"). */
function relativeImports(file) {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/["'](\.{1,2}\/[^"'\s]+\.m?js)["']/g)].map((m) => resolve(dirname(file), m[1]));
}

/** Package names the bundles import or require: bare specifiers, not Node's own modules nor relative paths. */
function bareImports(file) {
  const text = readFileSync(file, 'utf8');
  const patterns = [
    /^\s*(?:import|export)\b[^'";]*?\bfrom\s*["']([^"']+)["']/gm, // import x from "p" (one line)
    /^\s*\}\s*from\s*["']([^"']+)["']/gm, // the end of a multi-line import { ... } from "p"
    /^\s*import\s*["']([^"']+)["']/gm, // import "p"
    /\b(?:import|require)\(\s*["']([^"']+)["']\s*\)/g, // import("p"), require("p")
  ];
  return patterns
    .flatMap((re) => [...text.matchAll(re)].map((m) => m[1]))
    .filter((s) => !s.startsWith('node:') && !s.startsWith('.') && !builtinModules.includes(s));
}

// dist/: the top level as it is (but not dist/image, where the archive goes), dist/chunks by reachability.
const shipped = [];
for (const e of readdirSync(dist, { withFileTypes: true })) {
  if (e.name === 'image' || e.name === 'chunks') continue;
  cpSync(join(dist, e.name), join(out, 'dist', e.name), { recursive: true, verbatimSymlinks: true });
  if (e.isFile()) shipped.push(join(dist, e.name));
}
const reached = new Set();
const queue = shipped.filter(isCode);
while (queue.length > 0) {
  for (const target of relativeImports(queue.pop())) {
    if (reached.has(target) || !target.startsWith(join(dist, 'chunks') + sep) || !existsSync(target))
      continue;
    reached.add(target);
    queue.push(target);
  }
}
for (const chunk of reached) cpSync(chunk, join(out, relative(repo, chunk)));
mkdirSync(join(out, 'bin'), { recursive: true });
cpSync(join(repo, 'package.json'), join(out, 'package.json'));
cpSync(join(repo, 'bin', 'palisade'), join(out, 'bin', 'palisade'));

const packages = [...new Set([...shipped.filter(isCode), ...reached].flatMap(bareImports))].sort();

/**
 * node_modules less what is never loaded: @kubernetes/client-node itself (the build bundles it into the chunks;
 * kept when a shipped bundle still imports it), the packages' command links (.bin), type declarations (@types,
 * *.d.ts), source maps and markdown.
 */
const bundlesClient = !packages.some((p) => p.startsWith('@kubernetes/client-node'));
const trim = (src) => {
  const rel = relative(nodeModules, src).split(sep).join('/');
  if (bundlesClient && (rel === '@kubernetes/client-node' || rel.startsWith('@kubernetes/client-node/')))
    return false;
  if (/^(@types|\.bin)(\/|$)/.test(rel)) return false;
  if (/\.d\.[cm]?ts$|\.map$|\.md$/i.test(rel) && statSync(src).isFile()) return false;
  return true;
};
cpSync(nodeModules, join(out, 'node_modules'), { recursive: true, filter: trim, verbatimSymlinks: true });

// Every package the bundles import must load from the staged tree, as it will in the image.
const check = `for (const p of ${JSON.stringify(packages)}) await import(p);`;
const env = { ...process.env };
delete env.NODE_EXTRA_CA_CERTS;
delete env.NODE_PATH;
try {
  execFileSync(process.execPath, ['--input-type=module', '-e', check], {
    cwd: join(out, 'dist'),
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
} catch (err) {
  process.stderr.write(`stage-app: the bundles import packages the staged node_modules cannot load:\n`);
  process.stderr.write(String(err.stderr ?? err.message));
  process.exit(1);
}
process.stderr.write(
  `image: staged ${reached.size} chunks of ${readdirSync(join(dist, 'chunks')).length} in dist/chunks; ` +
    `npm packages the bundles import: ${packages.join(' ')}\n`,
);
