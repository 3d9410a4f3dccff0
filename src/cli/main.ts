// The palisade CLI's composition root: wires the real runner and logger, dispatches to a command.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRunner } from '../dataplane/runner.js';
import { ValidationError } from '../model/k8s.js';
import { createLineLogger, isLevel } from '../util/log.js';
import { AGENT_USAGE, runAgentCommand } from './agent.js';
import { ENCRYPTION_COMMAND_USAGE, runEncryptionCommand } from './encryption.js';
import { INSTALL_CNI_USAGE, runInstallCniCommand } from './install-cni.js';
import { LAB_USAGE, runLab } from './lab.js';
import { MANIFESTS_USAGE, runManifestsCommand } from './manifests.js';
import { UsageError } from './usage.js';

const USAGE = `Usage: palisade <command> [options]

Commands:
  agent        the node agent: NetworkPolicy in nftables (palisade agent --help)
  install-cni  put the CNI plugin and its config on the host, keep them there (palisade install-cni --help)
  manifests    the install YAML (palisade manifests --help)
  lab          a cluster of network namespaces on this machine (palisade lab --help)
  encryption   a node's encryption status, and WireGuard key rotation (palisade encryption --help)
  version      print the version

Environment: PALISADE_LOG_LEVEL=debug|info|warn|error (default warn).`;

/** The repository root: dist/palisade.mjs when bundled, src/cli/main.ts under tsx. */
function repoRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return here.endsWith(join('src', 'cli')) ? join(here, '..', '..') : join(here, '..');
}

async function main(argv: readonly string[]): Promise<number> {
  const out = (s: string) => process.stdout.write(s);
  const level = process.env.PALISADE_LOG_LEVEL;
  const log = createLineLogger({
    level: isLevel(level) ? level : 'warn',
    write: (l) => process.stderr.write(l),
  });
  const root = repoRoot();
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'lab':
        if (rest.length === 0 || rest[0] === '--help' || rest[0] === '-h') {
          out(`${LAB_USAGE}\n`);
          return rest.length === 0 ? 2 : 0;
        }
        return await runLab(
          rest,
          {
            runner: createRunner(),
            log: log.child({ component: 'lab' }),
            pluginBinary: join(root, 'dist', 'palisade-cni'),
            shimBinary: join(root, 'dist', 'palisade-cni-shim'),
            cliEntry: join(root, 'dist', 'palisade.mjs'),
            podServer: join(root, 'dist', 'pod-server.cjs'),
            kubeBuildScript: join(root, 'kube', 'build.sh'),
          },
          out,
        );
      case 'install-cni':
        if (rest[0] === '--help' || rest[0] === '-h') {
          out(`${INSTALL_CNI_USAGE}\n`);
          return 0;
        }
        return await runInstallCniCommand(rest, { log, distDir: join(root, 'dist') });
      case 'manifests':
        if (rest[0] === '--help' || rest[0] === '-h') {
          out(`${MANIFESTS_USAGE}\n`);
          return 0;
        }
        return runManifestsCommand(rest, out);
      case 'agent':
        if (rest[0] === '--help' || rest[0] === '-h') {
          out(`${AGENT_USAGE}\n`);
          return 0;
        }
        return await runAgentCommand(rest);
      case 'encryption':
        if (rest.length === 0 || rest[0] === '--help' || rest[0] === '-h') {
          out(`${ENCRYPTION_COMMAND_USAGE}\n`);
          return rest.length === 0 ? 2 : 0;
        }
        return await runEncryptionCommand(rest, out);
      case 'version': {
        const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
        out(`palisade ${pkg.version}\n`);
        return 0;
      }
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        out(`${USAGE}\n`);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      const usage =
        command === 'lab'
          ? LAB_USAGE
          : command === 'agent'
            ? AGENT_USAGE
            : command === 'encryption'
              ? ENCRYPTION_COMMAND_USAGE
              : USAGE;
      process.stderr.write(`palisade: ${err.message}\n${usage}\n`);
      return 2;
    }
    if (err instanceof ValidationError) {
      process.stderr.write(`palisade: invalid manifests:\n${err.problems.map((p) => `  ${p}`).join('\n')}\n`);
      return 1;
    }
    process.stderr.write(`palisade: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
