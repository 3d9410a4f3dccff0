// File-system primitives of the on-disk store. Each treats the errno the protocol expects (EEXIST when an
// address is taken, ENOENT when something is already gone) as an answer and wraps any other failure in an
// IpamStoreError naming the operation and path. Synchronous on purpose: the plugin is a short-lived process
// that does one thing at a time, and a sync call skips the thread-pool round trip.
import * as fs from 'node:fs';
import { join } from 'node:path';
import { IpamStoreError } from './errors.js';

/** Prefix of every temp file; anything so named whose writer died is debris. */
export const TEMP_PREFIX = '.tmp-';

function errnoOf(err: unknown): string | undefined {
  return err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

/** Runs `fn`; the listed errno codes yield `fallback`, anything else becomes an IpamStoreError. */
function attempt<T>(op: string, path: string, codes: readonly string[], fallback: T, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    const code = errnoOf(err);
    if (code !== undefined && codes.includes(code)) return fallback;
    throw new IpamStoreError(op, path, { cause: err });
  }
}

export function ensureDir(path: string): void {
  attempt('mkdir', path, [], undefined, () => fs.mkdirSync(path, { recursive: true, mode: 0o755 }));
}

export function listDir(path: string): string[] {
  return attempt('readdir', path, ['ENOENT'], [], () => fs.readdirSync(path));
}

export function readText(path: string): string | undefined {
  return attempt('read', path, ['ENOENT'], undefined, () => fs.readFileSync(path, 'utf8'));
}

export function ctimeMsOf(path: string): number | undefined {
  return attempt('lstat', path, ['ENOENT'], undefined, () => fs.lstatSync(path).ctimeMs);
}

/** Creates a hard link; false if `to` exists. This is the store's only mutual exclusion. */
export function linkNew(from: string, to: string): boolean {
  return attempt('link', to, ['EEXIST'], false, () => {
    fs.linkSync(from, to);
    return true;
  });
}

/** Creates a hard link to a file that may have gone; false if `from` does not exist. */
export function linkFromExisting(from: string, to: string): boolean {
  return attempt('link', from, ['ENOENT'], false, () => {
    fs.linkSync(from, to);
    return true;
  });
}

/** Renames; false if `from` is already gone. */
export function renameIfExists(from: string, to: string): boolean {
  return attempt('rename', from, ['ENOENT'], false, () => {
    fs.renameSync(from, to);
    return true;
  });
}

/** Removes a file; false if it was already gone. */
export function unlinkIfExists(path: string): boolean {
  return attempt('unlink', path, ['ENOENT'], false, () => {
    fs.unlinkSync(path);
    return true;
  });
}

/** A fresh temp path in `dir`, named after this process so it can be traced. */
let tempCounter = 0;

/** Unique among live processes: PID, then a per-process counter (no node:crypto: it costs ~5 ms to load). */
export function tempPath(dir: string): string {
  tempCounter += 1;
  return join(dir, `${TEMP_PREFIX}${process.pid}-${Date.now().toString(36)}-${tempCounter}`);
}

/**
 * Writes `content` to a new temp file in `dir` and returns its path. With `durable`, the data reaches the disk
 * before the caller links the file into place, so not even a power cut can leave an empty record.
 */
export function writeTemp(dir: string, content: string, opts: { durable: boolean }): string {
  const path = tempPath(dir);
  try {
    attempt('write', path, [], undefined, () => {
      const fd = fs.openSync(path, 'wx', 0o644);
      try {
        fs.writeFileSync(fd, content);
        if (opts.durable) fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    });
  } catch (err) {
    unlinkIfExists(path);
    throw err;
  }
  return path;
}
