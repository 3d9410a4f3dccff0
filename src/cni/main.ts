// palisade-cni: the executable a container runtime execs. stdout carries only the result or error JSON.
import { existsSync, readFileSync } from 'node:fs';
import { createRunner } from '../dataplane/runner.js';
import { createLineLogger, isLevel } from '../util/log.js';
import { runPlugin } from './plugin.js';

function readStdin(): string {
  try {
    return readFileSync(0, 'utf8');
  } catch (err) {
    // No stdin at all (closed or a TTY that cannot be read): treated as empty, which VERSION accepts.
    if ((err as NodeJS.ErrnoException).code === 'EAGAIN' || (err as NodeJS.ErrnoException).code === 'EOF')
      return '';
    throw err;
  }
}

async function main(): Promise<void> {
  const level = process.env.PALISADE_CNI_LOG_LEVEL;
  const log = createLineLogger({
    level: isLevel(level) ? level : 'info',
    write: (line) => process.stderr.write(line),
    bindings: { component: 'palisade-cni', pid: process.pid },
  });
  const stdin = process.env.CNI_COMMAND === 'VERSION' ? '' : readStdin();
  const out = await runPlugin(process.env, stdin, {
    runner: createRunner(),
    log,
    netnsExists: (path) => path !== '' && existsSync(path),
  });
  process.stdout.write(out.stdout, () => process.exit(out.exitCode));
}

void main();
