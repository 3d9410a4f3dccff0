// Fixtures for running real container runtimes (podman, containerd) against palisade-cni without touching the
// machine's own state: a busybox image built from the host's static busybox, runtime config under a temp dir,
// and a shell prelude that hides every fixed path a runtime writes to behind tmpfs in a private mount namespace.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CommandError } from '../../src/dataplane/runner.js';
import { palLinks, reservations, runner } from './netns.js';

/** The applets the tests' containers use. */
const APPLETS = ['sh', 'ip', 'ping', 'cat', 'ls', 'sleep', 'test', '[', 'echo', 'touch', 'mv'];

/** Where `command -v` finds cmd, or undefined. */
export function which(cmd: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', 'command -v "$1"', 'sh', cmd], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined; // sh exits 1 when the command is not found
  }
}

/** A root filesystem holding only the statically linked busybox and its applets, as a tar; returns its path. */
export function buildBusyboxRootfs(dir: string): string {
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
  if (!busybox) throw new Error('busybox not found in /bin or /usr/bin (Debian package busybox-static)');
  const root = join(dir, 'rootfs');
  for (const sub of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root'])
    mkdirSync(join(root, sub), { recursive: true });
  execFileSync('cp', [busybox, join(root, 'bin', 'busybox')]);
  for (const applet of APPLETS) symlinkSync('busybox', join(root, 'bin', applet));
  writeFileSync(join(root, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  const tar = join(dir, 'rootfs.tar');
  execFileSync('tar', ['-C', root, '-cf', tar, '.']);
  return tar;
}

/**
 * containers.conf for podman on this machine kind (no systemd, hybrid cgroups, no CAP_SYS_RESOURCE; see
 * ../shared/notes/machine.md): runc, cgroupfs, file events, ulimits under the hard limits, CNI backend reading
 * networks from confDir and plugins from binDirs only.
 */
export function podmanContainersConf(opts: { confDir: string; binDirs: readonly string[] }): string {
  const q = (s: string) => JSON.stringify(s);
  return [
    '[containers]',
    'default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]',
    '[engine]',
    'cgroup_manager = "cgroupfs"',
    'events_logger = "file"',
    'runtime = "runc"',
    '[network]',
    'network_backend = "cni"',
    `network_config_dir = ${q(opts.confDir)}`,
    `cni_plugin_dirs = [${opts.binDirs.map(q).join(', ')}]`,
    '',
  ].join('\n');
}

/**
 * Shell lines that, run first inside `unshare -m` (a private mount namespace), put an empty tmpfs over each
 * fixed host path a runtime writes to: /run (netns files, /run/libpod, /run/runc, /run/containerd), /var/lib
 * (/var/lib/cni results cache, /var/lib/containers blob cache), /var/tmp (image copies) and /dev/shm (podman's
 * libpod_lock). The runtime sees them empty and writable; the host never sees what it writes, and every mount it
 * makes disappears with the namespace. Extra bind mounts (source -> target) are applied after the tmpfs.
 */
export function privateMountPrelude(
  tag: string,
  binds: readonly { source: string; target: string }[] = [],
): string {
  const lines = ['set -e'];
  for (const path of ['/run', '/var/lib', '/var/tmp', '/dev/shm'])
    lines.push(`mount -t tmpfs ${tag} ${path}`);
  lines.push('mkdir -p /run/netns /run/lock');
  // A bind target must already exist: creating it would change the host (only tmpfs paths are ours).
  for (const b of binds) lines.push(`test -d '${b.target}'`, `mount --bind '${b.source}' '${b.target}'`);
  return lines.join('\n');
}

/**
 * argv running script in a private mount namespace and a new PID namespace whose init is the script's shell,
 * with /proc remounted for it. When the shell exits, or when the unshare process is killed, the kernel kills
 * every process left in the namespace (a runtime daemon, shims, containers) and reaps them, and every mount
 * made inside disappears. unshare ignores SIGTERM while it waits, so the time limit sends SIGKILL.
 */
export function isolatedShell(script: string, limitSeconds: number): string[] {
  const unshare = ['unshare', '--mount', '--pid', '--fork', '--kill-child', '--mount-proc'];
  return ['timeout', '-s', 'KILL', String(limitSeconds), ...unshare, 'sh', '-c', script];
}

/** Polls until check() returns a value (not undefined) or the deadline passes. */
export async function waitFor<T>(what: string, check: () => T | undefined, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(100);
  }
}

/**
 * The test containers' script: write what the container sees (eth0's IPv4 address, its routes, whether it can
 * ping nodeIp) to /ctl/report, then wait (at most 30 s) for /ctl/go so the test can inspect the node meanwhile.
 * Contains no single quote, so it can be passed as sh -c '...'.
 */
export function reportScript(nodeIp: string): string {
  return [
    `{ ip -4 -o addr show dev eth0; echo ---; ip -4 route; echo ---; ping -c1 -W2 ${nodeIp} && echo NODE-PING-OK; } > /ctl/report.tmp 2>&1`,
    'mv /ctl/report.tmp /ctl/report',
    'i=0; while [ ! -e /ctl/go ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done',
  ].join('\n');
}

/** Modification times of each path and, for a directory, of its entries, to show a test left host directories alone. */
export function snapshotDirs(paths: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of paths) {
    if (!existsSync(p)) {
      out[p] = 'absent';
      continue;
    }
    const st = statSync(p);
    out[p] = String(st.mtimeMs);
    if (!st.isDirectory()) continue;
    for (const e of readdirSync(p)) out[join(p, e)] = String(statSync(join(p, e)).mtimeMs);
  }
  return out;
}

/** cgroup v1 hierarchies and the unified one on this machine. */
function cgroupRoots(): string[] {
  const base = '/sys/fs/cgroup';
  try {
    return readdirSync(base).map((d) => join(base, d));
  } catch {
    return []; // no cgroupfs mounted: nothing to clean
  }
}

/** Removes the (empty) cgroup `name` with its children from every hierarchy, deepest first. */
export function removeCgroup(name: string): void {
  for (const root of cgroupRoots()) removeCgroupDir(join(root, name));
}

function removeCgroupDir(dir: string): void {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) removeCgroupDir(join(dir, entry.name));
  }
  try {
    rmdirSync(dir);
  } catch (err) {
    // A cgroup that still holds a process cannot go; report it rather than hide it.
    process.stderr.write(`could not remove cgroup ${dir}: ${(err as Error).message}\n`);
  }
}

/** IPAM reservation records (files named by an address) of one network under a palisade IPAM dataDir. */

/** Waits for the container's /ctl/report; fails at once with the runtime's stderr if the run died first. */
export async function awaitReport(run: Promise<unknown>, ctl: string, runtime: string): Promise<string> {
  let failed: unknown;
  run.catch((err: unknown) => {
    failed = err;
  });
  return waitFor(
    'the container report',
    () => {
      if (failed) {
        const detail = failed instanceof CommandError ? failed.stderr : String(failed);
        throw new Error(`${runtime} run failed before the container reported:\n${detail}`);
      }
      return existsSync(join(ctl, 'report')) ? readFileSync(join(ctl, 'report'), 'utf8') : undefined;
    },
    40_000,
  );
}

/** What the container must have reported: a 10.244.9.x/32 on eth0, the default route, the node reachable. */
export function assertContainerWired(report: string, nodeIp: string): string {
  const addr = /inet (10\.244\.9\.\d+)\/32 /.exec(report);
  assert.ok(addr, `eth0 has no 10.244.9.x/32 address:\n${report}`);
  assert.match(report, /default via 169\.254\.1\.1 dev eth0/, report);
  assert.match(report, /NODE-PING-OK/, `the container could not ping the node at ${nodeIp}:\n${report}`);
  return addr[1]!;
}

/** On the node while the container runs: only its host veth, the route to it, its reservation; pod reachable. */
export async function assertNodeSide(opts: {
  nodeNs: string;
  hostVeth: string;
  podIp: string;
  ipamDir: string;
  network: string;
}): Promise<void> {
  const { nodeNs, hostVeth, podIp } = opts;
  assert.deepEqual(await palLinks(nodeNs), [hostVeth]);
  const { stdout: routes } = await runner.run(['ip', '-4', 'route'], { netns: nodeNs });
  assert.match(routes, new RegExp(`^${podIp.replaceAll('.', '\\.')} dev ${hostVeth} scope link`, 'm'));
  assert.deepEqual(reservations(opts.ipamDir, opts.network), [podIp]);
  await runner.run(['ping', '-c1', '-W2', podIp], { netns: nodeNs });
}
