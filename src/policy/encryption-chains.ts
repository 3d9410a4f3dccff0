// Strict encryption (issue 12, "fail closed"): with encryption on, a packet for a remote node's pod CIDR that would
// leave by any interface but the tunnel is dropped and counted per node, so a peer with no key, a tunnel that is
// down or a route that fell back to the underlay blocks traffic instead of sending it in clear. Forwarded packets
// (the pods') and the node's own (output) alike. Every other node's CIDRs are covered, whether it is a peer or
// not: a node whose publication is broken is exactly the one that must not be reached in clear. Pure.
import {
  type Chain,
  createChain,
  createRule,
  createSet,
  drop,
  type Family,
  type Hook,
  type NamedSet,
  type Rule,
  type SetType,
} from '../ir/ir.js';
import { formatCidr, parseCidr } from '../model/cidr.js';
import type { NodeInfo } from '../model/cluster.js';
import { STRICT_CHAINS, STRICT_IFACES_SET, strictComment, strictSetName } from './names.js';

export interface StrictEncryption {
  /** The tunnel's interfaces (two while a WireGuard key rotates): the only ways out to remote pods. */
  readonly ifaces: readonly string[];
}

/** After the pods' policy (forward priorities 0 and 10) and the host's (output 0): only what they let through. */
const PRIORITY = 20;

const SET_TYPE: Record<Family, SetType> = { 4: 'ipv4_addr', 6: 'ipv6_addr' };

/** The CIDR in canonical text when it is one of `family` (the API server validated it; anything else is skipped). */
function canonical(text: string, family: Family): string[] {
  try {
    const c = parseCidr(text);
    return c.family === family ? [formatCidr(c)] : [];
  } catch {
    return [];
  }
}

/** The sets and the two base chains for `self` among `nodes`. */
export function strictEncryptionPart(
  self: string,
  nodes: readonly NodeInfo[],
  strict: StrictEncryption,
): { readonly sets: NamedSet[]; readonly chains: Chain[] } {
  const sets: NamedSet[] = [];
  const rules: Rule[] = [];
  const others = nodes.filter((n) => n.name !== self).sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const n of others) {
    for (const family of [4, 6] as const) {
      const elements = (n.podCIDRs ?? []).flatMap((c) => canonical(c, family));
      if (elements.length === 0) continue;
      const name = strictSetName(n.name, family);
      sets.push(createSet({ name, type: SET_TYPE[family], interval: true, elements }));
      rules.push(
        createRule({
          matches: [
            { kind: 'addr-in-set', field: 'daddr', family, set: name },
            { kind: 'ifname-in-set', field: 'oifname', set: STRICT_IFACES_SET, negate: true },
          ],
          verdict: drop,
          comment: strictComment(n.name),
        }),
      );
    }
  }
  const chain = (name: string, hook: Hook) =>
    createChain(name, rules, { base: { hook, priority: PRIORITY, policy: 'accept' } });
  sets.push(
    createSet({
      name: STRICT_IFACES_SET,
      type: 'ifname',
      interval: false,
      elements: strict.ifaces.map((i) => `"${i}"`),
    }),
  );
  return {
    sets,
    chains: [chain(STRICT_CHAINS.forward, 'forward'), chain(STRICT_CHAINS.output, 'output')],
  };
}
