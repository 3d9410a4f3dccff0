// Multi-document YAML (or JSON) manifests → validated objects; List kinds are flattened. Every document's
// problems are reported together, each prefixed with the document's position and name. GlobalNetworkPolicy and
// HostEndpoint are read in each group they are served as (calico-groups.ts), each with its group.
import { parseAllDocuments } from 'yaml';
import { CALICO_KINDS_API_VERSIONS } from './calico-groups.js';
import type { ClusterNetworkPolicy } from './cluster-network-policy.js';
import { isClusterNetworkPolicyDoc, parseClusterNetworkPolicy } from './cluster-network-policy-parse.js';
import { type GlobalNetworkPolicy, globalPolicyKey } from './global-network-policy.js';
import { parseGlobalNetworkPolicy } from './global-network-policy-parse.js';
import { type HostEndpoint, hostEndpointKey } from './host-endpoint.js';
import { parseHostEndpoint } from './host-endpoint-parse.js';
import { isObject, type KubeObject, type OtherObject, parseKubeObject, ValidationError } from './k8s.js';
import { type NetworkPolicy, policyKey } from './network-policy.js';
import { isNetworkPolicyDoc, parseNetworkPolicy } from './network-policy-parse.js';

/**
 * What a manifest document becomes. A NetworkPolicy, ClusterNetworkPolicy, GlobalNetworkPolicy or HostEndpoint
 * carries its own problems (it fails closed, not out).
 */
export type ManifestObject =
  | KubeObject
  | NetworkPolicy
  | ClusterNetworkPolicy
  | GlobalNetworkPolicy
  | HostEndpoint
  | OtherObject;

const CALICO_KIND_API_VERSIONS: readonly unknown[] = Object.values(CALICO_KINDS_API_VERSIONS);

/** A GlobalNetworkPolicy or HostEndpoint document of a group they are served as. */
export function calicoKindOf(doc: unknown): 'GlobalNetworkPolicy' | 'HostEndpoint' | undefined {
  if (!isObject(doc) || !CALICO_KIND_API_VERSIONS.includes(doc.apiVersion)) return undefined;
  return doc.kind === 'GlobalNetworkPolicy' || doc.kind === 'HostEndpoint' ? doc.kind : undefined;
}

function describe(doc: unknown, index: number): string {
  const d = doc as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } } | null;
  const kind = typeof d?.kind === 'string' ? d.kind : 'object';
  const name = typeof d?.metadata?.name === 'string' ? d.metadata.name : '?';
  const ns = typeof d?.metadata?.namespace === 'string' ? `${d.metadata.namespace}/` : '';
  return `document ${index + 1} (${kind} ${ns}${name})`;
}

export interface ManifestEntry {
  readonly object: ManifestObject;
  /** The decoded document as written (e.g. to hand a NetworkPolicy on exactly as given, problems and all). */
  readonly raw: Readonly<Record<string, unknown>>;
}

/**
 * The documents of a manifest text. JSON (a subset of YAML) is decoded with JSON.parse: the YAML parser builds a
 * syntax tree that, for a 3.7 MB cluster dump (bench/agent-sync.ts at 10k pods), held the agent at 487 MB RSS;
 * decoded with JSON.parse the agent settles at 126 MB.
 */
function documents(text: string): { value?: unknown; error?: string }[] {
  const start = text.trimStart()[0];
  if (start === '{' || start === '[') {
    try {
      return [{ value: JSON.parse(text) as unknown }];
    } catch {
      // Not JSON after all (a YAML flow mapping, or broken): the YAML parser decides and reports.
    }
  }
  const docs = parseAllDocuments(text);
  return (Array.isArray(docs) ? docs : [docs]).map((d) =>
    d.errors.length > 0 ? { error: d.errors[0]!.message } : { value: d.toJS() as unknown },
  );
}

/**
 * Parses manifest text. `source` names the file in messages. Throws ValidationError with every problem of
 * the Namespaces, Pods and other documents; a NetworkPolicy, a policy.networking.k8s.io ClusterNetworkPolicy, a
 * GlobalNetworkPolicy or a HostEndpoint with problems is returned, not thrown (the agent fails closed on it): list
 * those with networkPolicyProblems and its siblings below.
 */
export function parseManifests(text: string, source = 'manifest'): ManifestObject[] {
  return parseManifestEntries(text, source).map((e) => e.object);
}

/** parseManifests, keeping each object's decoded document beside it. */
export function parseManifestEntries(text: string, source = 'manifest'): ManifestEntry[] {
  const problems: string[] = [];
  const decoded: unknown[] = [];
  for (const [i, doc] of documents(text).entries()) {
    if (doc.error !== undefined) {
      problems.push(`${source}: document ${i + 1}: invalid YAML: ${doc.error}`);
      continue;
    }
    const value = doc.value;
    if (value === null || value === undefined) continue; // empty document between separators
    const list = value as { kind?: unknown; items?: unknown };
    if (typeof list.kind === 'string' && list.kind.endsWith('List') && Array.isArray(list.items)) {
      decoded.push(...list.items);
    } else {
      decoded.push(value);
    }
  }
  const out: ManifestEntry[] = [];
  decoded.forEach((doc, i) => {
    const raw = doc as Record<string, unknown>;
    if (isNetworkPolicyDoc(doc)) {
      out.push({ object: parseNetworkPolicy(doc), raw });
      return;
    }
    if (isClusterNetworkPolicyDoc(doc)) {
      out.push({ object: parseClusterNetworkPolicy(doc), raw });
      return;
    }
    const calicoKind = calicoKindOf(doc);
    if (calicoKind) {
      const object = calicoKind === 'HostEndpoint' ? parseHostEndpoint(doc) : parseGlobalNetworkPolicy(doc);
      out.push({ object, raw });
      return;
    }
    try {
      out.push({ object: parseKubeObject(doc), raw });
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      for (const p of err.problems) problems.push(`${source}: ${describe(doc, i)}: ${p}`);
    }
  });
  if (problems.length > 0) throw new ValidationError(problems);
  return out;
}

/** `<namespace>/<name>: <problem>` for every problem of every NetworkPolicy among `objects`. */
export function networkPolicyProblems(objects: readonly ManifestObject[]): string[] {
  return objects.flatMap((o) =>
    o.kind === 'NetworkPolicy' ? o.problems.map((p) => `${policyKey(o)}: ${p}`) : [],
  );
}

/**
 * `<name>: <problem>` for every problem of every ClusterNetworkPolicy among `objects` (they fail closed too, but
 * differently: deny-only, see ClusterNetworkPolicy.problems).
 */
export function clusterNetworkPolicyProblems(objects: readonly ManifestObject[]): string[] {
  return objects.flatMap((o) =>
    o.kind === 'ClusterNetworkPolicy' ? o.problems.map((p) => `${o.name}: ${p}`) : [],
  );
}

/**
 * `<key>: <problem>` for every problem of every GlobalNetworkPolicy and HostEndpoint among `objects` (keys as
 * globalPolicyKey and hostEndpointKey: the group when not palisade.dev). Each fails closed as its model says.
 */
export function calicoKindProblems(objects: readonly ManifestObject[]): string[] {
  return objects.flatMap((o) => {
    if (o.kind === 'GlobalNetworkPolicy') return o.problems.map((p) => `${globalPolicyKey(o)}: ${p}`);
    if (o.kind === 'HostEndpoint') return o.problems.map((p) => `${hostEndpointKey(o)}: ${p}`);
    return [];
  });
}
