// Which of a node's pods the repair controller acts on: pods the selection says should be redirected that left
// no marker, i.e. started without the plugin in the chain (before install-cni put it there, or while the primary
// CNI had rewritten its config). Pure; the controller (src/agent/repair.ts) lists markers and calls the API.
//
// It never loops on a pod: a pod acted on is remembered and never acted on again; a deleted pod's owner is not
// acted on again for a cool-down (its replacement may start before the plugin is fixed); nothing younger than
// the grace period is touched (its ADD may still be running).
import type { NamespaceInfo, PodInfo } from '../model/cluster.js';
import { decideRedirect, podFactsOf, type SelectionConfig } from './selection.js';

export type RepairAction = 'label' | 'delete';

export interface RepairInput {
  readonly node: string;
  readonly pods: readonly PodInfo[];
  readonly namespaces: readonly NamespaceInfo[];
  /** Marker names present (markerName of each redirected pod). */
  readonly markers: ReadonlySet<string>;
  readonly selection: SelectionConfig;
  readonly action: RepairAction;
  readonly nowMs: number;
  readonly graceMs: number;
  /** Marker names of pods already acted on. */
  readonly acted: ReadonlySet<string>;
  /** Owner ("ReplicaSet/web-7d9f") → when one of its pods was last deleted. */
  readonly ownerDeletedAt: ReadonlyMap<string, number>;
  readonly ownerCooldownMs: number;
}

export interface RepairCandidate {
  readonly pod: PodInfo;
  readonly key: string;
  readonly reason: string;
}

export interface RepairPlan {
  readonly act: readonly RepairCandidate[];
  /** Unredirected but not acted on yet (too young, or its owner in cool-down), with why. */
  readonly held: readonly RepairCandidate[];
}

/** The marker name a pod's redirect leaves (must match src/cni/redirect-marker.ts markerName). */
export function markerKey(p: { uid?: string; namespace: string; name: string }): string {
  return (p.uid || `${p.namespace}.${p.name}`).replace(/[^A-Za-z0-9._-]/g, '_');
}

export function planRepairs(input: RepairInput): RepairPlan {
  const act: RepairCandidate[] = [];
  const held: RepairCandidate[] = [];
  const ns = new Map(input.namespaces.map((n) => [n.name, n]));
  for (const pod of input.pods) {
    const w = pod.workload;
    if (pod.node !== input.node || pod.ips.length === 0 || !w) continue;
    const decision = decideRedirect(input.selection, ns.get(pod.namespace), podFactsOf(pod));
    if (decision.kind !== 'redirect') continue;
    const key = markerKey({ uid: w.uid, namespace: pod.namespace, name: pod.name });
    if (input.markers.has(key) || input.acted.has(key)) continue;
    const created = w.createdAt ? Date.parse(w.createdAt) : Number.NaN;
    const base = `${pod.namespace}/${pod.name} should have its traffic redirected (${decision.reason}) but left no marker`;
    if (!Number.isFinite(created) || input.nowMs - created < input.graceMs) {
      held.push({ pod, key, reason: `${base}; younger than the grace period, its ADD may still be running` });
      continue;
    }
    if (input.action === 'delete' && !w.owner) {
      // Deleted, a pod that no controller owns would be gone for good: never delete one.
      held.push({ pod, key, reason: `${base}; it has no owner to recreate it, so it is not deleted` });
      continue;
    }
    const last = w.owner ? input.ownerDeletedAt.get(w.owner) : undefined;
    if (input.action === 'delete' && last !== undefined && input.nowMs - last < input.ownerCooldownMs) {
      held.push({ pod, key, reason: `${base}; a pod of ${w.owner} was deleted for this recently` });
      continue;
    }
    act.push({ pod, key, reason: base });
  }
  return { act, held };
}
