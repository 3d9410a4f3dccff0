// Multi-document YAML (or JSON) manifests → validated objects; List kinds are flattened. Every document's
// problems are reported together, each prefixed with the document's position and name.
import { parseAllDocuments } from 'yaml';
import { type KubeObject, type OtherObject, parseKubeObject, ValidationError } from './k8s.js';

function describe(doc: unknown, index: number): string {
  const d = doc as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } } | null;
  const kind = typeof d?.kind === 'string' ? d.kind : 'object';
  const name = typeof d?.metadata?.name === 'string' ? d.metadata.name : '?';
  const ns = typeof d?.metadata?.namespace === 'string' ? `${d.metadata.namespace}/` : '';
  return `document ${index + 1} (${kind} ${ns}${name})`;
}

/** Parses manifest text. `source` names the file in messages. Throws ValidationError with every problem. */
export function parseManifests(text: string, source = 'manifest'): (KubeObject | OtherObject)[] {
  const docs = parseAllDocuments(text);
  const problems: string[] = [];
  const decoded: unknown[] = [];
  for (const [i, doc] of (Array.isArray(docs) ? docs : [docs]).entries()) {
    if (doc.errors.length > 0) {
      problems.push(`${source}: document ${i + 1}: invalid YAML: ${doc.errors[0]!.message}`);
      continue;
    }
    const value = doc.toJS() as unknown;
    if (value === null || value === undefined) continue; // empty document between separators
    const list = value as { kind?: unknown; items?: unknown };
    if (typeof list.kind === 'string' && list.kind.endsWith('List') && Array.isArray(list.items)) {
      decoded.push(...list.items);
    } else {
      decoded.push(value);
    }
  }
  const out: (KubeObject | OtherObject)[] = [];
  decoded.forEach((doc, i) => {
    try {
      out.push(parseKubeObject(doc));
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      for (const p of err.problems) problems.push(`${source}: ${describe(doc, i)}: ${p}`);
    }
  });
  if (problems.length > 0) throw new ValidationError(problems);
  return out;
}
