// The agent's ClusterRole rules exactly as `palisade manifests` renders them, for tests that run the agent's
// Kubernetes side as a ServiceAccount holding no more than that (the generated RBAC must be enough).
import { parseValues, renderManifests } from '../../src/deploy/manifests.js';

export function agentClusterRoleRules(
  values: Record<string, unknown> = { mode: 'main' },
): Record<string, unknown>[] {
  const v = parseValues(values);
  if ('errors' in v) throw new Error(v.errors.join('; '));
  const role = renderManifests(v).find((o) => o.kind === 'ClusterRole');
  if (!role || !Array.isArray(role.rules))
    throw new Error('palisade manifests rendered no ClusterRole rules');
  return role.rules as Record<string, unknown>[];
}
