// The building blocks of the CRDs' structural OpenAPI v3 schemas, shared by every CRD Palisade renders. Pure.
export type Schema = Record<string, unknown>;

export const str: Schema = { type: 'string' };

export function obj(properties: Record<string, Schema>, extra: Schema = {}): Schema {
  return { type: 'object', properties, ...extra };
}

/** The labels every CRD of ours carries. */
export const crdLabels = { 'app.kubernetes.io/name': 'palisade' };
