// A rule's further conditions (ordered.ts RuleCondition: Calico's CIDRs, selectors, their negations, ports,
// protocols, ICMP, IP version) → nftables matches. Pure.
//
// The conditions of a rule all hold (AND); some need several nftables rules (OR): a positive address condition
// is one alternative per family and set, a negated one is, per family, "not in any of this family's sets" (an
// `ip saddr != @s` match only ever matches IPv4 packets, so an IPv6 packet is judged by its own alternative), a
// negated ICMP type-and-code is "another type, or that type with another code". The rule becomes one nftables
// rule per combination of alternatives whose families agree.
import { createSet, type Family, type Match, type NamedSet } from '../ir/ir.js';
import { disjointCidrs, formatCidr, parseCidr } from '../model/cidr.js';
import { sharedSetName } from './names.js';
import type { PacketEnd, RuleCondition } from './ordered.js';
import { type PodSetSpec, selectorPeerSet } from './pod-sets.js';

/** One way to satisfy a condition (or, combined, all of a rule's): matches, and the family they pin. */
export interface Alternative {
  readonly family?: Family;
  readonly matches: readonly Match[];
}

export interface ConditionSets {
  readonly sets: NamedSet[];
  readonly podSets: PodSetSpec[];
}

const FAMILIES: readonly Family[] = [4, 6];
const FIELD: Readonly<Record<PacketEnd, 'saddr' | 'daddr'>> = { src: 'saddr', dst: 'daddr' };

/** An interval set of CIDRs of one family, shared by every rule with the same list. */
function cidrSet(cidrs: readonly string[], family: Family, out: ConditionSets): string | undefined {
  const mine = disjointCidrs(cidrs.map((c) => parseCidr(c)).filter((c) => c.family === family)).map(
    formatCidr,
  );
  if (mine.length === 0) return undefined;
  const name = sharedSetName('blocks', family, mine.join(','));
  out.sets.push(
    createSet({ name, type: family === 4 ? 'ipv4_addr' : 'ipv6_addr', interval: true, elements: mine }),
  );
  return name;
}

/** The sets an address condition reads in one family: CIDRs, or pod addresses plus host endpoint addresses. */
function addressSets(c: RuleCondition, family: Family, out: ConditionSets): string[] {
  if (c.kind === 'cidrs') return [cidrSet(c.cidrs, family, out)].filter((x) => x !== undefined);
  if (c.kind !== 'endpoints') return [];
  const spec = selectorPeerSet(c.peer, family);
  out.podSets.push(spec);
  const hosts = c.hostIps.map((ip) => `${ip}/${ip.includes(':') ? 128 : 32}`);
  return [spec.name, cidrSet(hosts, family, out)].filter((x) => x !== undefined);
}

function alternativesOf(c: RuleCondition, families: readonly Family[], out: ConditionSets): Alternative[] {
  switch (c.kind) {
    case 'cidrs':
    case 'endpoints': {
      const field = FIELD[c.end];
      const fams =
        c.kind === 'cidrs'
          ? FAMILIES.filter((f) => families.includes(f) || c.cidrs.some((x) => parseCidr(x).family === f))
          : families;
      return fams.flatMap((family): Alternative[] => {
        const sets = addressSets(c, family, out);
        const match = (set: string): Match => ({ kind: 'addr-in-set', field, family, set, negate: c.negate });
        if (c.negate)
          return [{ family, matches: sets.length > 0 ? sets.map(match) : [{ kind: 'family', family }] }];
        return sets.map((set) => ({ family, matches: [match(set)] }));
      });
    }
    case 'ports': {
      const field = c.end === 'src' ? 'sport' : 'dport';
      return [{ matches: [{ kind: 'port', field, ports: c.ranges, negate: c.negate }] }];
    }
    case 'protocol':
      return [{ matches: [{ kind: 'l4proto-number', number: c.number, negate: c.negate }] }];
    case 'icmp': {
      const { family } = c;
      const type = (negate: boolean): Match => ({
        kind: 'icmp',
        family,
        field: 'type',
        value: c.type,
        negate,
      });
      if (!c.negate)
        return [
          {
            family,
            matches: [
              type(false),
              ...(c.code === undefined
                ? []
                : [{ kind: 'icmp', family, field: 'code', value: c.code, negate: false } as const]),
            ],
          },
        ];
      const other: Alternative = { family, matches: [type(true)] };
      if (c.code === undefined) return [other];
      const code: Match = { kind: 'icmp', family, field: 'code', value: c.code, negate: true };
      return [other, { family, matches: [type(false), code] }];
    }
    case 'family':
      return [{ family: c.family, matches: [{ kind: 'family', family: c.family }] }];
  }
}

const ORDER: readonly RuleCondition['kind'][] = ['family', 'protocol', 'icmp', 'cidrs', 'endpoints', 'ports'];

function combine(a: Alternative, b: Alternative): Alternative | undefined {
  if (a.family !== undefined && b.family !== undefined && a.family !== b.family) return undefined;
  return { family: a.family ?? b.family, matches: [...a.matches, ...b.matches] };
}

/**
 * Every way to satisfy all the conditions: alternatives whose families agree, each a list of matches. Empty when
 * they cannot all hold (e.g. a CIDR condition with no CIDR of any family in use). No conditions: one empty one.
 */
export function conditionAlternatives(
  conditions: readonly RuleCondition[],
  families: readonly Family[],
  out: ConditionSets,
): Alternative[] {
  let acc: Alternative[] = [{ matches: [] }];
  // Protocols before ports, so every port match reads a header the rule has already pinned.
  const sorted = [...conditions].sort((a, b) => ORDER.indexOf(a.kind) - ORDER.indexOf(b.kind));
  for (const c of sorted) {
    const alts = alternativesOf(c, families, out);
    acc = acc.flatMap((a) => alts.map((b) => combine(a, b)).filter((x) => x !== undefined));
    if (acc.length === 0) return [];
  }
  return acc;
}
