// The record a redirected pod leaves on its node: one file per pod, named by its UID, under the marker dir
// (default /var/lib/cni/palisade/redirected). The agent's repair controller (src/agent/repair.ts) looks for
// selected pods without one: pods that started before the plugin was in the chain. Written atomically; a DEL
// removes the marker of its own sandbox only (a newer sandbox of the same pod keeps its own).
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { markerKey } from '../chained/repair.js';
import { writeFileAtomic } from '../util/atomic-file.js';

export const DEFAULT_MARKER_DIR = '/var/lib/cni/palisade/redirected';

export interface RedirectMarker {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly containerID: string;
  readonly netns: string;
  readonly ports: readonly number[];
  readonly at: string;
}

/** The file name for a pod: its UID, or namespace.name when the runtime passed no K8S_POD_UID. */
export const markerName = markerKey;

export function writeMarker(dir: string, m: RedirectMarker): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileAtomic(join(dir, markerName(m)), `${JSON.stringify(m)}\n`, 0o600);
}

export function removeMarker(
  dir: string,
  m: { uid?: string; namespace: string; name: string; containerID: string },
) {
  const file = join(dir, markerName(m));
  try {
    const rec = JSON.parse(readFileSync(file, 'utf8')) as Partial<RedirectMarker>;
    if (rec.containerID === m.containerID) rmSync(file, { force: true });
  } catch {
    // no marker, or not ours to judge: nothing to remove
  }
}

/** The names of every marker in the dir (what the repair controller compares pods against). */
export function listMarkers(dir: string): Set<string> {
  try {
    return new Set(readdirSync(dir).filter((f) => !f.startsWith('.'))); // not writeFileAtomic's temp files
  } catch {
    return new Set();
  }
}
