// Which pod and namespace keys the chained "redirect" CNI mode reads, by product. Pure: no node:*, no I/O.
// A profile names the keys only; src/chained/selection.ts decides with them.

import { isObject } from '../model/k8s.js';

export interface RedirectProfile {
  /** Namespace label that enables redirection when its value is an on word ("enabled", "true", "yes"…). */
  readonly namespaceLabel: string;
  /** Pod annotation; redirection is off when its value is an off word ("false", "disabled", "no"…). */
  readonly injectionAnnotation: string;
  /** Pod annotation listing the ports to redirect, e.g. "8080" or "80,443". */
  readonly portsAnnotation: string;
  /** Pod annotation that must be present (set by the injector webhook); only its presence is read. */
  readonly statusAnnotation: string;
  /** Name of an init container that does its own networking setup. */
  readonly initContainer: string;
  /** Name of the proxy sidecar container that must exist. */
  readonly proxyContainer: string;
}

export const CODESEALER_PROFILE: RedirectProfile = {
  namespaceLabel: 'codesealer.com/webhook',
  injectionAnnotation: 'codesealer.com/injection',
  portsAnnotation: 'codesealer.com/dport',
  statusAnnotation: 'sidecar.codesealer.com/status',
  initContainer: 'codesealer-init-networking',
  proxyContainer: 'codesealer-core',
};

export const PROFILES: Readonly<Record<string, RedirectProfile>> = { codesealer: CODESEALER_PROFILE };

export const DEFAULT_PROFILE_NAME = 'codesealer';

const PROFILE_KEYS: readonly (keyof RedirectProfile)[] = [
  'namespaceLabel',
  'injectionAnnotation',
  'portsAnnotation',
  'statusAnnotation',
  'initContainer',
  'proxyContainer',
];

function show(v: unknown): string {
  return v === undefined ? 'undefined' : (JSON.stringify(v) ?? String(v));
}

function builtIns(): string {
  return Object.keys(PROFILES).join(', ');
}

function baseProfile(name: unknown, field: string, errors: string[]): RedirectProfile | undefined {
  if (name === undefined) return PROFILES[DEFAULT_PROFILE_NAME];
  if (typeof name !== 'string') {
    errors.push(`${field}.profile: ${show(name)} must be a string naming a built-in profile (${builtIns()})`);
    return undefined;
  }
  if (!Object.hasOwn(PROFILES, name)) {
    errors.push(`${field}.profile: ${show(name)} is not a built-in profile (${builtIns()})`);
    return undefined;
  }
  return PROFILES[name];
}

/**
 * Builds a profile from a plugin-config object: `profile` (a built-in name, default "codesealer") and any of the
 * six keys overriding it. An absent object (undefined or null) gives the default profile. Other keys are ignored:
 * the same object may carry settings that are not part of the profile. Every problem is reported at once, each
 * naming the field and value.
 */
export function parseProfile(
  raw: unknown,
  field = 'redirect',
): { profile: RedirectProfile } | { errors: string[] } {
  if (raw === undefined || raw === null) return { profile: CODESEALER_PROFILE };
  if (!isObject(raw)) return { errors: [`${field}: ${show(raw)} must be an object`] };
  const errors: string[] = [];
  const base = baseProfile(raw['profile'], field, errors);
  const overrides: Partial<Record<keyof RedirectProfile, string>> = {};
  for (const key of PROFILE_KEYS) {
    const v = raw[key];
    if (v === undefined) continue;
    if (typeof v !== 'string' || v.trim() === '') {
      errors.push(`${field}.${key}: ${show(v)} must be a non-empty string`);
      continue;
    }
    overrides[key] = v;
  }
  if (errors.length > 0 || base === undefined) return { errors };
  return { profile: { ...base, ...overrides } };
}
