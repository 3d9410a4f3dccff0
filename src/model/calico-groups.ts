// The API groups GlobalNetworkPolicy and HostEndpoint are served under: Palisade's own, always, and Calico's two
// (for users coming from Calico, whose manifests then apply unchanged), each at Calico's version. One source for
// the CRDs, the agent's RBAC, the datastores and the `--calico-groups` option of `palisade manifests` and the
// agent. Pure.
import type { CalicoCompatGroup } from './global-network-policy.js';

/** The apiVersion of both kinds in each group. */
export const CALICO_KINDS_API_VERSIONS = {
  'palisade.dev': 'palisade.dev/v1',
  'crd.projectcalico.org': 'crd.projectcalico.org/v1',
  'projectcalico.org': 'projectcalico.org/v3',
} as const satisfies Record<CalicoCompatGroup, string>;

/** A group of Calico's own, served by Palisade only where Calico does not own it. */
export type CalicoGroup = Exclude<CalicoCompatGroup, 'palisade.dev'>;

/** Calico's groups, in a fixed order: the default of `--calico-groups` (where Calico is not installed). */
export const CALICO_GROUPS: readonly CalicoGroup[] = ['crd.projectcalico.org', 'projectcalico.org'];

/** Every group read, Palisade's first. */
export function servedGroups(calico: readonly CalicoGroup[]): CalicoCompatGroup[] {
  return ['palisade.dev', ...CALICO_GROUPS.filter((g) => calico.includes(g))];
}

/**
 * `--calico-groups` / `calicoGroups`: `none`, or a comma-separated list (or a list) of Calico's groups, each as
 * its group or its apiVersion (`crd.projectcalico.org` or `crd.projectcalico.org/v1`). Every problem names the
 * value.
 */
export function parseCalicoGroups(
  value: unknown,
  source = '--calico-groups',
): { groups: CalicoGroup[] } | { errors: string[] } {
  if (value === 'none') return { groups: [] };
  const items = typeof value === 'string' ? value.split(',').map((s) => s.trim()) : value;
  if (!Array.isArray(items)) {
    return { errors: [`${source}: ${JSON.stringify(value)} must be "none" or a list of Calico's groups`] };
  }
  const errors: string[] = [];
  const groups = new Set<CalicoGroup>();
  for (const item of items) {
    const g = CALICO_GROUPS.find((x) => item === x || item === CALICO_KINDS_API_VERSIONS[x]);
    if (g) groups.add(g);
    else {
      const known = CALICO_GROUPS.map((x) => CALICO_KINDS_API_VERSIONS[x]).join(', ');
      errors.push(`${source}: ${JSON.stringify(item)} is not one of ${known} (or "none")`);
    }
  }
  if (errors.length > 0) return { errors };
  return { groups: CALICO_GROUPS.filter((g) => groups.has(g)) };
}
