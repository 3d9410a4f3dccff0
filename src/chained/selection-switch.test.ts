// The on/off words of chained-mode selection: the injection annotation turns redirection off with any off word
// (false, disabled, no, off, 0; any case), the namespace label turns it on with any on word (true, enabled,
// yes, on, 1), and an unrecognised injection value is ignored as seed 000 does (only a false value prevents the
// redirect), with the reason saying so.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CODESEALER_PROFILE } from './profile.js';
import { type Decision, decideRedirect, type PodFacts, type SelectionConfig } from './selection.js';

const CFG: SelectionConfig = { excludeNamespaces: [], profile: CODESEALER_PROFILE };
const STATUS = 'sidecar.codesealer.com/status';
const INJECTION = 'codesealer.com/injection';

function makePod(annotations: Readonly<Record<string, string | null>>): PodFacts {
  return {
    namespace: 'shop',
    name: 'web-0',
    labels: {},
    annotations,
    containers: [
      { name: 'app', ports: [{ containerPort: 8080, protocol: 'TCP' }] },
      { name: 'codesealer-core', ports: [] },
    ],
    initContainers: [],
  };
}

const nsWith = (value: string) => ({ name: 'shop', labels: { 'codesealer.com/webhook': value } });

interface Row {
  readonly name: string;
  readonly namespaceLabel?: string;
  readonly annotations: Readonly<Record<string, string | null>>;
  readonly kind: Decision['kind'];
  readonly reason: RegExp;
}

const OFF = ['false', 'FALSE', 'disabled', 'Disabled', 'no', 'NO', 'off', 'Off', '0'];
const ON = ['true', 'True', 'enabled', 'ENABLED', 'yes', 'on', '1'];

const ROWS: readonly Row[] = [
  ...OFF.map(
    (v): Row => ({
      name: `injection "${v}" skips, saying the value turns redirection off`,
      annotations: { [STATUS]: 'injected', [INJECTION]: v },
      kind: 'skip',
      reason: new RegExp(`^annotation codesealer\\.com/injection is "${v}", which turns redirection off$`),
    }),
  ),
  ...ON.map(
    (v): Row => ({
      name: `injection "${v}" does not skip`,
      annotations: { [STATUS]: 'injected', [INJECTION]: v },
      kind: 'redirect',
      reason: /^ports 8080 from the declared TCP container ports/,
    }),
  ),
  {
    name: 'injection " Off " with spaces around is off too',
    annotations: { [STATUS]: 'injected', [INJECTION]: ' Off ' },
    kind: 'skip',
    reason: /^annotation codesealer\.com\/injection is " Off ", which turns redirection off$/,
  },
  {
    name: 'injection "maybe" is ignored as if absent: redirected, and the reason says why',
    annotations: { [STATUS]: 'injected', [INJECTION]: 'maybe' },
    kind: 'redirect',
    reason:
      /; annotation codesealer\.com\/injection: "maybe" is not an on\/off value \(true\/false, enabled\/disabled, yes\/no, on\/off, 1\/0\), so it is ignored$/,
  },
  {
    name: 'an empty injection value is ignored too',
    annotations: { [STATUS]: 'injected', [INJECTION]: '' },
    kind: 'redirect',
    reason: /injection: "" is not an on\/off value/,
  },
  {
    name: 'an ignored injection value is named in a later skip too',
    annotations: { [INJECTION]: 'maybe' },
    kind: 'skip',
    reason: /status is absent .*; annotation codesealer\.com\/injection: "maybe" is not an on\/off value/,
  },
  {
    name: 'a long injection value the pod model did not keep (null) is no on/off word: ignored',
    annotations: { [STATUS]: null, [INJECTION]: null },
    kind: 'redirect',
    reason: /injection: a value longer than 1024 characters is not an on\/off value .*ignored$/,
  },
  ...ON.map(
    (v): Row => ({
      name: `namespace label "${v}" enables`,
      namespaceLabel: v,
      annotations: { [STATUS]: 'injected' },
      kind: 'redirect',
      reason: /^ports 8080/,
    }),
  ),
  ...['disabled', 'off', 'no', 'maybe', ''].map(
    (v): Row => ({
      name: `namespace label "${v}" does not enable`,
      namespaceLabel: v,
      annotations: { [STATUS]: 'injected' },
      kind: 'skip',
      reason: new RegExp(
        `^namespace "shop" label codesealer\\.com/webhook is "${v}", not an on value \\(true, enabled, yes, on, 1\\)$`,
      ),
    }),
  ),
];

describe('decideRedirect: on/off words', () => {
  for (const row of ROWS) {
    it(row.name, () => {
      const got = decideRedirect(CFG, nsWith(row.namespaceLabel ?? 'enabled'), makePod(row.annotations));
      assert.equal(got.kind, row.kind, got.reason);
      assert.match(got.reason, row.reason);
    });
  }
});
