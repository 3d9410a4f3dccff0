// Composition root of the lab's pod server, bundled to dist/pod-server.cjs and started per pod as
//   nsenter --net=/run/netns/<podns> node dist/pod-server.cjs <config.json>
// Exit codes: 0 after shutdown/SIGTERM/SIGINT, 1 when it cannot start, 2 on usage errors.
import { existsSync, readFileSync } from 'node:fs';
import { createRunner } from '../dataplane/runner.js';
import { type PodServer, startPodServer } from './pod-server.js';
import { parsePodServerConfig } from './pod-server-config.js';
import { createLineLog } from './pod-server-log.js';
import { kernelHasSctp, SCTP_EPS_FILE } from './pod-server-sctp.js';
import { spawnChild } from './pod-server-spawn.js';

function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function main(argv: readonly string[]): Promise<void> {
  const started = performance.now();
  const path = argv[0];
  if (argv.length !== 1 || path === undefined) {
    process.stderr.write('usage: pod-server <config.json>\n');
    process.exit(2);
  }
  const config = parsePodServerConfig(readFileSync(path, 'utf8'), path);
  const log = createLineLog((line) => process.stderr.write(line), { id: config.id });
  let server: Promise<PodServer> | undefined;
  let stopping = false;
  const stop = (why: string): void => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { why });
    void (server ?? Promise.resolve(undefined)).then((s) => s?.close()).finally(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  server = startPodServer(config, {
    log,
    runner: createRunner(),
    spawnChild,
    sctpSupported: kernelHasSctp(existsSync),
    readSctpEndpoints: () => readIfExists(SCTP_EPS_FILE),
    onShutdown: () => stop('shutdown request'),
  });
  const ports = await (await server).ready;
  const failed = ports.filter((p) => !p.listening).map((p) => `${p.port}/${p.protocol}: ${p.error}`);
  log.info('ready', { ms: Math.round(performance.now() - started), ports: ports.length, failed });
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`pod-server: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
