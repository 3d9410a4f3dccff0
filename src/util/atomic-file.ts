// Files replaced atomically: written (or copied) to a hidden temporary name in the same directory, given their
// mode, then renamed over the target, so a reader sees the old file or the new one, never half of one. The
// temporary name carries the pid, so two writers of the same file do not clobber each other's temp file, and
// starts with a dot, so directory listings that skip hidden files never see it.
import { chmodSync, copyFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

function tempFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
}

export function writeFileAtomic(path: string, data: string | Buffer, mode = 0o644): void {
  const tmp = tempFor(path);
  writeFileSync(tmp, data, { mode });
  chmodSync(tmp, mode); // the umask may have narrowed it
  renameSync(tmp, path);
}

export function copyFileAtomic(from: string, to: string, mode = 0o755): void {
  const tmp = tempFor(to);
  copyFileSync(from, tmp);
  chmodSync(tmp, mode);
  renameSync(tmp, to);
}
