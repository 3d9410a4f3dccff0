// Random ClusterNetworkPolicy documents for fuzz tests (the parser's, and the CRD schema's against the parser):
// plausible structure where a slot is sometimes left out, rarely replaced by anything, and a value now and then
// one the API server rejects. Deterministic for a given random source.
import { CLUSTER_NETWORK_POLICY_API_VERSION as API } from './cluster-network-policy-parse.js';
import { cnpDoc } from './cluster-network-policy-parse.testkit.js';

// biome-ignore format: a table of values
const SCALARS: unknown[] = [
  null, true, 0, 1, 80, 1000, 1001, 65535, 65536, -1, 2.5, '', 'x', 'a b', 'web', API, 'ClusterNetworkPolicy',
  'Admin', 'Baseline', 'Accept', 'Deny', 'Pass', 'Allow', 'http', 'HTTP', 'In', 'Exists', '10.0.0.0/8', 'fd00::/64',
  'example.com', '*.example.com',
];
// biome-ignore format: a table of field names
const FIELDS = [
  'apiVersion', 'kind', 'metadata', 'spec', 'name', 'tier', 'priority', 'subject', 'ingress', 'egress', 'action',
  'from', 'to', 'protocols', 'namespaces', 'pods', 'nodes', 'networks', 'domainNames', 'podSelector',
  'namespaceSelector', 'tcp', 'udp', 'destinationPort', 'number', 'range', 'start', 'end', 'destinationNamedPort',
  'matchLabels', 'bogus',
];

/** Random documents from `rnd`: `doc()` plausible ClusterNetworkPolicies, `any(0)` any JSON at all. */
export function cnpFuzzer(rnd: () => number) {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const times = <T>(lo: number, hi: number, f: () => T): T[] =>
    Array.from({ length: lo + Math.floor(rnd() * (hi - lo + 1)) }, f);
  const any = (depth: number): unknown => {
    const r = rnd();
    if (depth > 4 || r < 0.45) return pick(SCALARS);
    if (r < 0.7) return times(0, 3, () => any(depth + 1));
    return Object.fromEntries(times(0, 4, () => [pick(FIELDS), any(depth + 1)]));
  };
  // Plausible structure: a slot is sometimes left out or rarely anything; a value is now and then a bad one.
  const slot = (f: () => unknown, absent = 0.15): unknown => {
    const r = rnd();
    return r < 0.01 ? any(2) : r < absent ? undefined : f();
  };
  const choose = (good: readonly unknown[], bad: readonly unknown[]): unknown =>
    rnd() < 0.02 ? pick(bad) : pick(good);
  const selector = () => ({
    matchLabels: slot(() => ({ [`${choose(['app', 'team'], ['a b'])}`]: choose(['web', ''], [1]) }), 0.5),
    matchExpressions: slot(
      () => [{ key: 'env', operator: choose(['In', 'NotIn'], ['in']), values: ['a'] }],
      0.8,
    ),
  });
  const pods = () => ({
    namespaceSelector: slot(selector, 0.4),
    podSelector: choose([selector()], [undefined]),
  });
  const selection = () => (rnd() < 0.5 ? { namespaces: selector() } : { pods: pods() });
  const cidr = () =>
    choose(
      ['10.0.0.0/8', '10.1.2.3/16', 'fd00::1/64', '0.0.0.0/0'],
      ['10.0.0.0/33', 'x', '::ffff:1.2.3.4/128'],
    );
  const egressPeer = () =>
    pick([
      selection,
      () => ({ nodes: selector() }),
      () => ({ networks: times(1, 3, cidr) }),
      () => ({ domainNames: [choose(['example.com', '*.example.org'], ['localhost'])] }),
      () => (rnd() < 0.1 ? {} : selection()),
    ])();
  const destinationPort = () =>
    rnd() < 0.5
      ? { number: choose([53, 80, 443], [0, 70000]) }
      : { range: { start: choose([1000], [0]), end: choose([2000, 65535], [999]) } };
  const protocol = () =>
    pick([
      () => ({ tcp: choose([{ destinationPort: destinationPort() }], [{}, { port: 80 }]) }),
      () => ({ udp: { destinationPort: destinationPort() } }),
      () => ({ sctp: { destinationPort: destinationPort() } }),
      () => ({ destinationNamedPort: choose(['http', 'dns-udp'], ['HTTP', '']) }),
    ])();
  const rules = (field: string, peer: () => unknown) =>
    times(0, 3, () => ({
      name: slot(() => choose(['r', 'allow-dns'], ['x'.repeat(101)]), 0.5),
      action: choose(['Accept', 'Deny', 'Pass'], ['Allow', undefined]),
      [field]: choose([times(1, 3, peer)], [[], undefined]),
      protocols: slot(() => times(1, 2, protocol), 0.5),
    }));
  const doc = () =>
    cnpDoc(
      slot(
        () => ({
          tier: choose(['Admin', 'Baseline'], ['admin', undefined]),
          priority: choose([0, 10, 1000], [1001, -1, '5']),
          subject: choose([selection()], [{}, undefined]),
          ingress: slot(() => rules('from', selection)),
          egress: slot(() => rules('to', egressPeer)),
        }),
        0.02,
      ),
      { name: choose(['p', 'deny-all'], ['Bad_Name']) },
    );
  return { any, doc };
}
