// A node's IPsec daemon (issue 12, part 2): strongSwan's charon, one per node network namespace, driven through
// swanctl over its vici socket; the connections come from ipsec-plan.ts. ESP runs in the kernel when the kernel
// can do it (probed: see probeKernelEsp), else in charon itself (kernel-libipsec: a TUN device `ipsec0` in the
// netns, routes to the peers' pod CIDRs in table 220, which charon installs when a CHILD_SA comes up).
//
// charon keeps its pid file in /run and refuses to start beside another charon's, so each instance runs in a
// mount namespace of its own with a private tmpfs on /run (`unshare -m`, private propagation: the host's /run
// is untouched). Its state dir therefore cannot lie under /run: charon would put its socket where swanctl cannot
// see it. nsenter, unshare and sh each exec the next, so the child's PID is charon's (checked through /proc).
import { mkdirSync, readFileSync, renameSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { cidrContains, formatCidr, parseCidr, tryParseIp } from '../model/cidr.js';
import {
  checkIpsecConfig,
  type IpsecConfig,
  type IpsecMode,
  renderStrongswanConf,
  renderSwanctlConf,
} from './ipsec-plan.js';
import { parseListSas, type SaState, staleConnections } from './ipsec-sas.js';
import { CommandError, type Runner, startChild } from './runner.js';

export interface IpsecDaemonOptions {
  readonly runner: Runner;
  /** The node's network namespace (a path such as /run/netns/x). */
  readonly netns: string;
  /** A directory of this daemon's own (config, secrets 0600, vici socket); not under /run. */
  readonly dir: string;
  /** charon's log (appended). */
  readonly logFile: string;
  /** Force a mode; default: kernel when probeKernelEsp succeeds, else libipsec. */
  readonly mode?: IpsecMode;
  readonly charon?: string;
  readonly startTimeoutMs?: number;
}

export interface IpsecDaemon {
  readonly mode: IpsecMode;
  /** Why the mode was chosen (the probe's error when kernel ESP is missing). */
  readonly modeReason: string;
  readonly pid: number;
  /** Resolves when charon has exited. */
  readonly exited: Promise<number | null>;
  /**
   * Loads `config` (one connection per peer, each initiated on load), terminates the SAs of connections it no
   * longer has, and routes the peers' pod CIDRs to `unreachable` below charon's table 220, so that they never
   * leave in clear while a tunnel is down.
   */
  apply(config: IpsecConfig): Promise<void>;
  state(): Promise<SaState>;
  /**
   * Stops charon (SIGTERM to its PID; it deletes its SAs and its TUN device) and removes its files. The
   * fail-closed routes stay, so the peers' pods stay unreachable in clear across a restart; apply a config
   * without peers first to remove them.
   */
  stop(): Promise<void>;
}

/** Metric of the fail-closed routes: any route another component puts in the main table takes precedence. */
export const FAIL_CLOSED_METRIC = 4096;
const CHARON = '/usr/lib/ipsec/charon';
// Run by `sh -c` with charon's path as $0 (an argument, never part of the script).
const PRIVATE_RUN = 'mount -t tmpfs palisade-ipsec /run && exec "$0"';

/**
 * Whether the netns's kernel can do ESP as charon would ask for it: adds (and deletes) one SA in tunnel mode
 * with AES-GCM-128 in UDP encapsulation between two TEST-NET-1 addresses (no traffic, no policy). Where ESP or
 * GCM is not built, the kernel refuses the add ("Requested AEAD algorithm not found" / "type not found").
 */
export async function probeKernelEsp(
  runner: Runner,
  netns: string,
): Promise<{ readonly ok: boolean; readonly reason: string }> {
  const spi = `0x${(0x1000 + Math.floor(Math.random() * 0xfff0000)).toString(16)}`;
  const id = ['src', '192.0.2.1', 'dst', '192.0.2.2', 'proto', 'esp', 'spi', spi];
  const key = `0x${'5a'.repeat(20)}`;
  try {
    await runner.run(
      ['ip', 'xfrm', 'state', 'add', ...id, 'mode', 'tunnel', 'aead', 'rfc4106(gcm(aes))', key, '128'].concat(
        ['encap', 'espinudp', '4500', '4500', '0.0.0.0'],
      ),
      { netns },
    );
  } catch (err) {
    return { ok: false, reason: err instanceof CommandError ? err.message : String(err) };
  }
  await runner.run(['ip', 'xfrm', 'state', 'delete', ...id], { netns });
  return { ok: true, reason: 'the kernel took an ESP-in-UDP AES-GCM state' };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-5).join(' | ');
  } catch {
    return '(no log)'; // charon wrote nothing yet
  }
}

function writePrivate(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

/** libipsec installs a CHILD_SA's route with a local address inside the local traffic selector, or fails it. */
async function checkLocalAddress(o: IpsecDaemonOptions, podCIDRs: readonly string[]): Promise<void> {
  const links = JSON.parse((await o.runner.run(['ip', '-j', 'addr', 'show'], { netns: o.netns })).stdout) as {
    addr_info?: { local?: string }[];
  }[];
  const cidrs = podCIDRs.map((c) => parseCidr(c));
  const found = links
    .flatMap((l) => l.addr_info ?? [])
    .some((a) => {
      const ip = a.local ? tryParseIp(a.local) : undefined;
      return ip !== undefined && cidrs.some((c) => c.family === ip.family && cidrContains(c, ip));
    });
  if (!found)
    throw new Error(
      `ipsec: no address of ${o.netns} lies in podCIDRs ${podCIDRs.join(',')}; kernel-libipsec needs one (e.g. the pod gateway) as the source of its routes`,
    );
}

/** Routes the peers' pod CIDRs to `unreachable` at FAIL_CLOSED_METRIC in the main table; removes ours no longer wanted. */
async function syncFailClosed(o: IpsecDaemonOptions, config: IpsecConfig): Promise<void> {
  const run = (argv: string[]) => o.runner.run(argv, { netns: o.netns });
  const wanted = new Set(config.peers.flatMap((p) => p.podCIDRs)); // canonical (checkIpsecConfig)
  for (const family of ['-4', '-6']) {
    const routes = JSON.parse(
      (await run(['ip', '-j', family, 'route', 'show', 'type', 'unreachable'])).stdout,
    ) as {
      dst: string;
      metric?: number;
    }[];
    for (const r of routes) {
      const dst = formatCidr(parseCidr(r.dst)); // ip prints a host route without its /32
      if (r.metric === FAIL_CLOSED_METRIC && !wanted.has(dst))
        await run(['ip', 'route', 'del', 'unreachable', dst, 'metric', String(FAIL_CLOSED_METRIC)]);
    }
  }
  for (const cidr of wanted)
    await run(['ip', 'route', 'replace', 'unreachable', cidr, 'metric', String(FAIL_CLOSED_METRIC)]);
}

/** Whether `pid` is a charon started with `dir`'s strongswan.conf (its environment says so). */
function isOurCharon(pid: number, dir: string): boolean {
  try {
    const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    return comm === 'charon' && env.includes(`STRONGSWAN_CONF=${join(dir, 'strongswan.conf')}`);
  } catch {
    return false; // gone
  }
}

/**
 * Stops the charon an earlier daemon of `dir` left running (its agent killed before it could stop it), by the
 * PID it recorded and only if that PID still runs a charon of `dir`: two would fight over UDP 500 and 4500.
 */
export async function stopLeftoverCharon(dirIn: string): Promise<void> {
  const dir = resolve(dirIn);
  let pid: number;
  try {
    pid = Number(readFileSync(join(dir, PID_FILE), 'utf8').trim());
  } catch {
    return; // none recorded
  }
  if (!Number.isInteger(pid) || pid <= 1 || !isOurCharon(pid, dir)) return;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 100 && isOurCharon(pid, dir); i++) await sleep(20);
  if (isOurCharon(pid, dir)) process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 50 && isOurCharon(pid, dir); i++) await sleep(20);
}

const PID_FILE = 'charon.pid';

export async function startIpsecDaemon(o: IpsecDaemonOptions): Promise<IpsecDaemon> {
  const dir = resolve(o.dir);
  if (/^\/(var\/)?run(\/|$)/.test(dir))
    throw new Error(`ipsec: dir ${dir} is under /run, which charon's private /run would hide from swanctl`);
  const probe = o.mode
    ? { ok: o.mode === 'kernel', reason: `mode ${o.mode} was asked for` }
    : await probeKernelEsp(o.runner, o.netns);
  const mode: IpsecMode = probe.ok ? 'kernel' : 'libipsec';
  const files = {
    strongswan: join(dir, 'strongswan.conf'),
    swanctl: join(dir, 'swanctl', 'swanctl.conf'),
    socket: join(dir, 'charon.vici'),
  };
  mkdirSync(join(dir, 'swanctl'), { recursive: true, mode: 0o700 });
  await stopLeftoverCharon(dir);
  writePrivate(files.strongswan, renderStrongswanConf({ viciSocket: files.socket, mode }));
  rmSync(files.socket, { force: true }); // a socket left by a charon that died
  const env = { ...process.env, STRONGSWAN_CONF: files.strongswan };
  const uri = `unix://${files.socket}`;
  const swanctl = (args: string[]) => o.runner.run(['swanctl', ...args, '--uri', uri], { env });
  const child = startChild(
    ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', PRIVATE_RUN, o.charon ?? CHARON],
    { logFile: o.logFile, netns: o.netns, env },
  );
  let exited = false;
  void child.exited.then(() => {
    exited = true;
  });
  const removeFiles = () => {
    rmSync(join(dir, 'swanctl'), { recursive: true, force: true });
    for (const f of [files.strongswan, files.socket, join(dir, PID_FILE)]) rmSync(f, { force: true });
    try {
      rmdirSync(dir);
    } catch {
      // the caller keeps other files there (its log, say): the directory stays
    }
  };
  const stop = async () => {
    await child.stop();
    removeFiles();
  };
  try {
    await waitForVici(o, swanctl, () => exited);
    const comm = readFileSync(`/proc/${child.pid}/comm`, 'utf8').trim();
    if (comm !== 'charon') throw new Error(`ipsec: PID ${child.pid} is ${comm}, not charon`);
    writeFileSync(join(dir, PID_FILE), `${child.pid}\n`);
  } catch (err) {
    await stop(); // nothing half-started stays behind
    throw err;
  }
  const state = async () => parseListSas((await swanctl(['--list-sas', '--raw'])).stdout);
  return {
    mode,
    modeReason: probe.reason,
    pid: child.pid,
    exited: child.exited,
    state,
    stop,
    async apply(desired) {
      const config = checkIpsecConfig(desired); // throws on a bad config before anything changes
      if (mode === 'libipsec' && config.peers.length > 0) await checkLocalAddress(o, config.podCIDRs);
      writePrivate(files.swanctl, renderSwanctlConf(config));
      await syncFailClosed(o, config); // before the load: a new peer's CIDRs never route in clear
      await swanctl(['--load-all', '--noprompt', '--file', files.swanctl]);
      for (const name of staleConnections(await state(), config)) {
        await swanctl(['--terminate', '--ike', name, '--force', '--timeout', '2']).catch((err: unknown) => {
          if (!/no matching SAs/i.test(`${(err as CommandError).stdout} ${(err as Error).message}`))
            throw err;
        });
      }
    },
  };
}

async function waitForVici(
  o: IpsecDaemonOptions,
  swanctl: (args: string[]) => Promise<unknown>,
  hasExited: () => boolean,
): Promise<void> {
  const deadline = Date.now() + (o.startTimeoutMs ?? 10_000);
  for (;;) {
    if (hasExited()) throw new Error(`ipsec: charon exited at start: ${tail(o.logFile)}`);
    try {
      await swanctl(['--stats']);
      return;
    } catch (err) {
      if (Date.now() > deadline)
        throw new Error(`ipsec: charon's vici socket did not answer within the timeout: ${tail(o.logFile)}`, {
          cause: err,
        });
    }
    await sleep(50);
  }
}

/** The TUN device kernel-libipsec makes in the node's netns: where its ESP packets leave from. */
export const LIBIPSEC_IFACE = 'ipsec0';
