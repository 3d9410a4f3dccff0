import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ContainerPort } from '../model/k8s.js';
import { CODESEALER_PROFILE, parseProfile } from './profile.js';
import {
  type Decision,
  decideRedirect,
  excludedNamespace,
  type NamespaceFacts,
  type PodFacts,
  type SelectionConfig,
} from './selection.js';

const CFG: SelectionConfig = { excludeNamespaces: ['kube-system', 'palisade'], profile: CODESEALER_PROFILE };
const STATUS = { 'sidecar.codesealer.com/status': '{"injected":true}' };

function tcp(...ports: number[]): ContainerPort[] {
  return ports.map((containerPort) => ({ containerPort, protocol: 'TCP' }));
}

function makeNs(name: string, labels: Record<string, string> = { 'codesealer.com/webhook': 'enabled' }) {
  return { name, labels } satisfies NamespaceFacts;
}

const ENABLED_NS = makeNs('shop');

/** An injected pod in "shop": app container on 8080/TCP, proxy on 8443/TCP and 9000/TCP, status annotation set. */
function makePod(tweaks: Partial<PodFacts> = {}): PodFacts {
  return {
    namespace: 'shop',
    name: 'web-0',
    labels: { app: 'web' },
    annotations: STATUS,
    containers: [
      { name: 'app', ports: tcp(8080) },
      { name: 'codesealer-core', ports: tcp(8443, 9000) },
    ],
    initContainers: [],
    ...tweaks,
  };
}

function withAnnotations(extra: Record<string, string>, base: Record<string, string> = STATUS): PodFacts {
  return makePod({ annotations: { ...base, ...extra } });
}

interface Row {
  readonly name: string;
  readonly cfg?: SelectionConfig;
  readonly ns: NamespaceFacts | undefined;
  readonly pod: PodFacts;
  readonly kind: Decision['kind'];
  readonly ports?: readonly number[];
  readonly reason: RegExp;
}

const ROWS: readonly Row[] = [
  // Rule 1: excluded namespace, and it wins over everything else.
  {
    name: 'excluded namespace skips an otherwise redirectable pod',
    ns: makeNs('kube-system'),
    pod: makePod({ namespace: 'kube-system' }),
    kind: 'skip',
    reason: /^namespace "kube-system" is excluded by the plugin config \(excludeNamespaces\)$/,
  },
  {
    name: 'excluded namespace wins over an init-networking container, missing proxy and bad ports',
    ns: undefined,
    pod: makePod({
      namespace: 'palisade',
      annotations: { 'codesealer.com/dport': 'abc' },
      containers: [{ name: 'app', ports: [] }],
      initContainers: [{ name: 'codesealer-init-networking' }],
    }),
    kind: 'skip',
    reason: /namespace "palisade" is excluded .*excludeNamespaces/,
  },
  // Rule 2: init-networking container.
  {
    name: 'init-networking container skips (it sets up its own networking)',
    ns: ENABLED_NS,
    pod: makePod({ initContainers: [{ name: 'setup' }, { name: 'codesealer-init-networking' }] }),
    kind: 'skip',
    reason: /init container "codesealer-init-networking".*own networking/,
  },
  {
    name: 'init-networking container wins over a missing proxy container',
    ns: ENABLED_NS,
    pod: makePod({
      containers: [{ name: 'app', ports: tcp(80) }],
      initContainers: [{ name: 'codesealer-init-networking' }],
    }),
    kind: 'skip',
    reason: /init container "codesealer-init-networking"/,
  },
  {
    name: 'a regular container named like the init-networking container does not skip',
    ns: ENABLED_NS,
    pod: makePod({
      containers: [
        { name: 'codesealer-init-networking', ports: tcp(7000) },
        { name: 'codesealer-core', ports: [] },
      ],
    }),
    kind: 'redirect',
    ports: [7000],
    reason: /container ports/,
  },
  // Rule 3: proxy container.
  {
    name: 'no proxy container skips',
    ns: ENABLED_NS,
    pod: makePod({ containers: [{ name: 'app', ports: tcp(80) }] }),
    kind: 'skip',
    reason: /no container "codesealer-core"/,
  },
  {
    name: 'a proxy only among the init containers still counts as missing',
    ns: ENABLED_NS,
    pod: makePod({
      containers: [{ name: 'app', ports: tcp(80) }],
      initContainers: [{ name: 'codesealer-core' }],
    }),
    kind: 'skip',
    reason: /no container "codesealer-core"/,
  },
  {
    name: 'missing proxy wins over a disabled namespace',
    ns: makeNs('shop', { 'codesealer.com/webhook': 'disabled' }),
    pod: makePod({ containers: [{ name: 'app', ports: tcp(80) }] }),
    kind: 'skip',
    reason: /no container "codesealer-core"/,
  },
  // Rule 4: namespace label values.
  {
    name: 'namespace label "enabled" redirects',
    ns: makeNs('shop', { 'codesealer.com/webhook': 'enabled' }),
    pod: makePod(),
    kind: 'redirect',
    ports: [8080],
    reason: /8080/,
  },
  {
    name: 'namespace label "true" redirects',
    ns: makeNs('shop', { 'codesealer.com/webhook': 'true' }),
    pod: makePod(),
    kind: 'redirect',
    ports: [8080],
    reason: /8080/,
  },
  {
    name: 'namespace label "TRUE" redirects (case-insensitive)',
    ns: makeNs('shop', { 'codesealer.com/webhook': 'TRUE' }),
    pod: makePod(),
    kind: 'redirect',
    ports: [8080],
    reason: /8080/,
  },
  {
    name: 'namespace label "Enabled" redirects (case-insensitive)',
    ns: makeNs('shop', { 'codesealer.com/webhook': 'Enabled' }),
    pod: makePod(),
    kind: 'redirect',
    ports: [8080],
    reason: /8080/,
  },
  {
    name: 'namespace label "disabled" skips, naming namespace, label and value',
    ns: makeNs('shop', { 'codesealer.com/webhook': 'disabled' }),
    pod: makePod(),
    kind: 'skip',
    reason: /namespace "shop" label codesealer\.com\/webhook is "disabled"/,
  },
  {
    name: 'namespace label absent skips, saying it is absent',
    ns: makeNs('shop', { team: 'web' }),
    pod: makePod(),
    kind: 'skip',
    reason: /namespace "shop" has no label codesealer\.com\/webhook/,
  },
  {
    name: 'unknown namespace counts as not enabled',
    ns: undefined,
    pod: makePod(),
    kind: 'skip',
    reason: /namespace "shop" is unknown.*codesealer\.com\/webhook/,
  },
  {
    name: 'the enabling label on the pod instead of the namespace does not count',
    ns: makeNs('shop', {}),
    pod: makePod({ labels: { 'codesealer.com/webhook': 'enabled' } }),
    kind: 'skip',
    reason: /namespace "shop" has no label/,
  },
  {
    name: 'disabled namespace wins over injection "false"',
    ns: makeNs('shop', { 'codesealer.com/webhook': 'no' }),
    pod: withAnnotations({ 'codesealer.com/injection': 'false' }),
    kind: 'skip',
    reason: /label codesealer\.com\/webhook is "no"/,
  },
  // Rule 5: injection annotation.
  {
    name: 'injection annotation "false" skips',
    ns: ENABLED_NS,
    pod: withAnnotations({ 'codesealer.com/injection': 'false' }),
    kind: 'skip',
    reason: /annotation codesealer\.com\/injection is "false"/,
  },
  {
    name: 'injection annotation "FALSE" skips (case-insensitive)',
    ns: ENABLED_NS,
    pod: withAnnotations({ 'codesealer.com/injection': 'FALSE' }),
    kind: 'skip',
    reason: /annotation codesealer\.com\/injection is "FALSE"/,
  },
  {
    name: 'injection annotation "true" does not skip',
    ns: ENABLED_NS,
    pod: withAnnotations({ 'codesealer.com/injection': 'true' }),
    kind: 'redirect',
    ports: [8080],
    reason: /container ports/,
  },
  {
    name: 'injection "false" wins over a missing status annotation',
    ns: ENABLED_NS,
    pod: withAnnotations({ 'codesealer.com/injection': 'false' }, {}),
    kind: 'skip',
    reason: /codesealer\.com\/injection/,
  },
  // Rule 6: status annotation.
  {
    name: 'status annotation absent skips',
    ns: ENABLED_NS,
    pod: makePod({ annotations: {} }),
    kind: 'skip',
    reason: /annotation sidecar\.codesealer\.com\/status is absent/,
  },
  {
    name: 'status annotation absent wins over a malformed ports annotation',
    ns: ENABLED_NS,
    pod: withAnnotations({ 'codesealer.com/dport': 'abc' }, {}),
    kind: 'skip',
    reason: /sidecar\.codesealer\.com\/status is absent/,
  },
  {
    name: 'status annotation with an empty value counts as present',
    ns: ENABLED_NS,
    pod: withAnnotations({ 'sidecar.codesealer.com/status': '' }, {}),
    kind: 'redirect',
    ports: [8080],
    reason: /container ports/,
  },
  // Rule 7/8: ports from the annotation.
  {
    name: 'ports annotation with one port',
    ns: ENABLED_NS,
    pod: withAnnotations({ 'codesealer.com/dport': '8080' }),
    kind: 'redirect',
    ports: [8080],
    reason: /from annotation codesealer\.com\/dport/,
  },
  {
    name: 'ports annotation: whitespace allowed, duplicates removed, sorted; container ports ignored',
    ns: ENABLED_NS,
    pod: withAnnotations({ 'codesealer.com/dport': ' 443 , 80,443,1 ,65535' }),
    kind: 'redirect',
    ports: [1, 80, 443, 65535],
    reason: /^ports 1,80,443,65535 from annotation codesealer\.com\/dport$/,
  },
  {
    name: 'ports annotation is used even when no container declares ports',
    ns: ENABLED_NS,
    pod: makePod({
      annotations: { ...STATUS, 'codesealer.com/dport': '80' },
      containers: [
        { name: 'app', ports: [] },
        { name: 'codesealer-core', ports: [] },
      ],
    }),
    kind: 'redirect',
    ports: [80],
    reason: /annotation/,
  },
  // Rule 7: malformed ports annotations are invalid (the ADD fails).
  {
    name: 'invalid: a non-numeric item',
    ns: ENABLED_NS,
    pod: withAnnotations({ 'codesealer.com/dport': '80,abc' }),
    kind: 'invalid',
    reason: /^annotation codesealer\.com\/dport: "80,abc" is not a list of ports 1-65535 \("abc"\)$/,
  },
  {
    name: 'invalid: an empty value',
    ns: ENABLED_NS,
    pod: withAnnotations({ 'codesealer.com/dport': '' }),
    kind: 'invalid',
    reason: /codesealer\.com\/dport: "" is not a list of ports 1-65535 \(""\)/,
  },
  {
    name: 'invalid: an empty item (trailing comma)',
    ns: ENABLED_NS,
    pod: withAnnotations({ 'codesealer.com/dport': '80,' }),
    kind: 'invalid',
    reason: /"80," is not a list of ports 1-65535 \(""\)/,
  },
  {
    name: 'invalid: an empty item (double comma)',
    ns: ENABLED_NS,
    pod: withAnnotations({ 'codesealer.com/dport': '80, ,443' }),
    kind: 'invalid',
    reason: /\(""\)$/,
  },
  {
    name: 'invalid: port 0',
    ns: ENABLED_NS,
    pod: withAnnotations({ 'codesealer.com/dport': '0' }),
    kind: 'invalid',
    reason: /\("0"\)$/,
  },
  {
    name: 'invalid: port 65536',
    ns: ENABLED_NS,
    pod: withAnnotations({ 'codesealer.com/dport': '80,65536' }),
    kind: 'invalid',
    reason: /\("65536"\)$/,
  },
  {
    name: 'invalid: a non-integer',
    ns: ENABLED_NS,
    pod: withAnnotations({ 'codesealer.com/dport': '80.5' }),
    kind: 'invalid',
    reason: /\("80\.5"\)$/,
  },
  {
    name: 'invalid: a negative number',
    ns: ENABLED_NS,
    pod: withAnnotations({ 'codesealer.com/dport': '-80' }),
    kind: 'invalid',
    reason: /\("-80"\)$/,
  },
  {
    name: 'invalid: a range is not a list',
    ns: ENABLED_NS,
    pod: withAnnotations({ 'codesealer.com/dport': '80-90' }),
    kind: 'invalid',
    reason: /\("80-90"\)$/,
  },
  {
    name: 'invalid: space-separated instead of comma-separated',
    ns: ENABLED_NS,
    pod: withAnnotations({ 'codesealer.com/dport': '80 443' }),
    kind: 'invalid',
    reason: /\("80 443"\)$/,
  },
  {
    name: 'invalid: hex and exponent forms',
    ns: ENABLED_NS,
    pod: withAnnotations({ 'codesealer.com/dport': '1e3,0x50' }),
    kind: 'invalid',
    reason: /\("1e3"\)$/,
  },
  // Rule 7/8: ports from the declared container ports.
  {
    name: 'container ports: TCP of all regular containers, deduplicated and sorted, proxy ports left out',
    ns: ENABLED_NS,
    pod: makePod({
      containers: [
        { name: 'app', ports: tcp(9090, 8080) },
        { name: 'codesealer-core', ports: tcp(8443, 9000, 80) },
        { name: 'metrics', ports: [...tcp(8080, 2112), { containerPort: 53, protocol: 'UDP' }] },
      ],
    }),
    kind: 'redirect',
    ports: [2112, 8080, 9090],
    reason: /^ports 2112,8080,9090 from the declared TCP container ports/,
  },
  {
    name: 'container ports: UDP and SCTP ports are not redirected',
    ns: ENABLED_NS,
    pod: makePod({
      containers: [
        {
          name: 'app',
          ports: [
            { name: 'dns', containerPort: 53, protocol: 'UDP' },
            { containerPort: 5000, protocol: 'SCTP' },
            { name: 'http', containerPort: 80, protocol: 'TCP' },
          ],
        },
        { name: 'codesealer-core', ports: [] },
      ],
    }),
    kind: 'redirect',
    ports: [80],
    reason: /container ports/,
  },
  {
    name: 'no annotation and only the proxy declares ports: skip',
    ns: ENABLED_NS,
    pod: makePod({
      containers: [
        { name: 'app', ports: [] },
        { name: 'codesealer-core', ports: tcp(8443) },
      ],
    }),
    kind: 'skip',
    reason:
      /^no ports to redirect: no annotation codesealer\.com\/dport and no declared TCP container ports$/,
  },
  {
    name: 'no annotation and only UDP ports declared: skip',
    ns: ENABLED_NS,
    pod: makePod({
      containers: [
        { name: 'app', ports: [{ containerPort: 53, protocol: 'UDP' }] },
        { name: 'codesealer-core', ports: [] },
      ],
    }),
    kind: 'skip',
    reason: /^no ports to redirect/,
  },
  // A profile with other keys is read through those keys.
  {
    name: 'a custom profile reads its own keys',
    cfg: {
      excludeNamespaces: [],
      profile: { ...CODESEALER_PROFILE, proxyContainer: 'envoy', portsAnnotation: 'example.com/ports' },
    },
    ns: ENABLED_NS,
    pod: makePod({
      annotations: { ...STATUS, 'codesealer.com/dport': 'abc', 'example.com/ports': '81' },
      containers: [{ name: 'envoy', ports: tcp(15001) }],
    }),
    kind: 'redirect',
    ports: [81],
    reason: /from annotation example\.com\/ports/,
  },
];

describe('decideRedirect', () => {
  for (const row of ROWS) {
    it(row.name, () => {
      const got = decideRedirect(row.cfg ?? CFG, row.ns, row.pod);
      assert.equal(got.kind, row.kind, got.reason);
      assert.match(got.reason, row.reason);
      if (row.kind === 'redirect') {
        assert.ok(got.kind === 'redirect');
        assert.deepStrictEqual(got.ports, row.ports);
      } else {
        assert.equal('ports' in got, false);
      }
    });
  }
});

describe('excludedNamespace', () => {
  it('returns the skip decision for an excluded namespace', () => {
    assert.deepStrictEqual(excludedNamespace(CFG, 'kube-system'), {
      kind: 'skip',
      reason: 'namespace "kube-system" is excluded by the plugin config (excludeNamespaces)',
    });
  });

  it('returns undefined for a namespace that is not excluded (exact names only)', () => {
    assert.equal(excludedNamespace(CFG, 'shop'), undefined);
    assert.equal(excludedNamespace(CFG, 'kube-system-2'), undefined);
    assert.equal(excludedNamespace({ ...CFG, excludeNamespaces: [] }, 'kube-system'), undefined);
  });
});

describe('parseProfile', () => {
  const cases: readonly {
    name: string;
    raw: unknown;
    field?: string;
    want: ReturnType<typeof parseProfile>;
  }[] = [
    {
      name: 'absent config gives the codesealer profile',
      raw: undefined,
      want: { profile: CODESEALER_PROFILE },
    },
    { name: 'an empty object gives the codesealer profile', raw: {}, want: { profile: CODESEALER_PROFILE } },
    {
      name: 'the codesealer profile by name, other keys ignored',
      raw: { profile: 'codesealer', excludeNamespaces: ['kube-system'] },
      want: { profile: CODESEALER_PROFILE },
    },
    {
      name: 'one key overrides the default profile',
      raw: { proxyContainer: 'envoy' },
      want: { profile: { ...CODESEALER_PROFILE, proxyContainer: 'envoy' } },
    },
    {
      name: 'an unknown profile name',
      raw: { profile: 'istio' },
      want: { errors: ['redirect.profile: "istio" is not a built-in profile (codesealer)'] },
    },
    {
      name: 'an inherited property name is not a profile',
      raw: { profile: 'toString' },
      want: { errors: ['redirect.profile: "toString" is not a built-in profile (codesealer)'] },
    },
    {
      name: 'wrong types are all reported, under the given field prefix',
      raw: { profile: 7, proxyContainer: 5, statusAnnotation: '', initContainer: ['x'] },
      field: 'plugins[1].redirect',
      want: {
        errors: [
          'plugins[1].redirect.profile: 7 must be a string naming a built-in profile (codesealer)',
          'plugins[1].redirect.statusAnnotation: "" must be a non-empty string',
          'plugins[1].redirect.initContainer: ["x"] must be a non-empty string',
          'plugins[1].redirect.proxyContainer: 5 must be a non-empty string',
        ],
      },
    },
    {
      name: 'a non-object config',
      raw: 'codesealer',
      want: { errors: ['redirect: "codesealer" must be an object'] },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.deepStrictEqual(parseProfile(c.raw, c.field), c.want);
    });
  }

  it('does not let an override change the built-in profile', () => {
    parseProfile({ namespaceLabel: 'example.com/webhook' });
    assert.equal(CODESEALER_PROFILE.namespaceLabel, 'codesealer.com/webhook');
  });
});
