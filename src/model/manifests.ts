// Multi-document YAML (or JSON) manifests → validated objects; List kinds are flattened. Every document's
// problems are reported together, each prefixed with the document's position and name.
import { parseAllDocuments } from 'yaml';
import type { ClusterNetworkPolicy } from './cluster-network-policy.js';
import { isClusterNetworkPolicyDoc, parseClusterNetworkPolicy } from './cluster-network-policy-parse.js';
import { type KubeObject, type OtherObject, parseKubeObject, ValidationError } from './k8s.js';
import { type NetworkPolicy, policyKey } from './network-policy.js';
import { isNetworkPolicyDoc, parseNetworkPolicy } from './network-policy-parse.js';

/**
 * What a manifest document becomes. A NetworkPolicy or ClusterNetworkPolicy carries its own problems (it fails
 * closed, not out).
 */
export type ManifestObject = KubeObject | NetworkPolicy | ClusterNetworkPolicy | OtherObject;

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
 * the Namespaces, Pods and other documents; a NetworkPolicy or a policy.networking.k8s.io ClusterNetworkPolicy
 * with problems is returned, not thrown (the agent fails closed on it): list those with networkPolicyProblems.
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
