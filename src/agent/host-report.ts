// What Palisade reports about host policy, so that nothing about it is silent (issue 11): the status conditions
// of GlobalNetworkPolicies and HostEndpoints, and the Warning Events of one node. Pure: decided from the parsed
// objects and what the node knows (the compiler's diagnostics, lockout protection's refusals, its links);
// src/datastore/kube-host-status.ts writes them (ADR 0013).
//
// GlobalNetworkPolicy conditions (cluster-wide facts: every agent decides the same, any may write them):
// - Accepted: True/Accepted, or False/InvalidSpec with every problem (the policy then fails closed).
// - SelectsHostEndpoints, on host policies only (preDNAT, doNotTrack or applyOnForward; removed from others):
//   True/HostEndpointsSelected, or False/NoHostEndpointSelected when its selector (and namespaceSelector, which
//   selects host endpoints only if it matches a non-namespaced endpoint's empty labels) matches no HostEndpoint
//   of the cluster. The message names no count, so it does not change (nor is written) as endpoints come and go.
// HostEndpoint conditions (facts of its node: that node's agent writes them):
// - Accepted: True/Accepted, or False/InvalidSpec with every problem.
// - InterfacePresent: True/InterfaceFound, False/InterfaceNotFound (spec.interfaceName is not a link of the
//   node), True/AllInterfaces for "*", Unknown/NoInterfaceName without one; absent until the links are known.
// - Programmed: True/Programmed; False/Invalid (enforced fail-closed, see Accepted); False/NotProgrammed (the
//   node cannot program it: no interfaceName, an interface another endpoint covers); False/LockoutRefused (it
//   would cut a connection the node cannot lose); False/RolledBack (the API server was not reachable after it
//   was programmed). Absent until the node has synced this version of it.
//
// Warning Events of one node (reasons): PolicyRejected (a GlobalNetworkPolicy that fails closed),
// HostEndpointRejected, HostEndpointNotProgrammed, HostPolicyRefused, HostPolicyRolledBack, InterfaceNotFound.
// SelectsNoHostEndpoint is posted with the status that says so (once per change, by the agent that wrote it).

import { calicoSelectorMatches } from '../model/calico-selector.js';
import { ACCEPTED, type DesiredCondition, PROGRAMMED } from '../model/cluster-policy-conditions.js';
import { type GlobalNetworkPolicy, globalPolicyKey } from '../model/global-network-policy.js';
import { coversAllInterfaces, type HostEndpoint, hostEndpointKey } from '../model/host-endpoint.js';
import { hostSelects } from '../policy/host-chains.js';
import type { Diagnostic } from '../policy/node-compiler.js';
import type { OrderedPolicy } from '../policy/ordered.js';
import { fromGlobalNetworkPolicy } from '../policy/ordered-global.js';
import type { Refusal } from './host-guard.js';

export const SELECTS_HOST_ENDPOINTS = 'SelectsHostEndpoints';
export const INTERFACE_PRESENT = 'InterfacePresent';
export { ACCEPTED, PROGRAMMED };

/** What a node knows after a sync or a check of its links; the agent hands it to the reporter. */
export interface HostReport {
  /** The last sync's diagnostics (undefined: no sync yet). */
  readonly diagnostics?: readonly Diagnostic[];
  /**
   * The HostEndpoints that sync compiled (all nodes'): Programmed is said only of a version the node has synced
   * (undefined: any version counts).
   */
  readonly hostEndpoints?: readonly HostEndpoint[];
  /** Host objects held back by lockout protection (all of them). */
  readonly refusals: readonly Refusal[];
  /** The names of the node's links (undefined: not listed yet, or the listing failed). */
  readonly links?: readonly string[];
}

/** A host warning: the object's key ("gnp:…", "hep:…"), the Event's reason and message. */
export interface HostWarning {
  readonly object: string;
  readonly reason: string;
  readonly message: string;
}

/** The CRD's limit on a condition's message (metav1.Condition). */
const MAX_MESSAGE = 32_768;
const bounded = (text: string) =>
  text.length <= MAX_MESSAGE ? text : `${text.slice(0, MAX_MESSAGE - 3)}...`;
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** A policy that is about host endpoints (its flags mean nothing for pods). */
export function isHostPolicy(
  g: Pick<GlobalNetworkPolicy, 'preDNAT' | 'doNotTrack' | 'applyOnForward'>,
): boolean {
  return g.preDNAT || g.doNotTrack || g.applyOnForward;
}

/** Whether the policy applies to any of `heps` in either direction (as the node compiler decides it). */
export function selectsHostEndpoint(g: GlobalNetworkPolicy, heps: readonly HostEndpoint[]): boolean {
  return selects(fromGlobalNetworkPolicy(g), heps);
}

function selects(p: OrderedPolicy, heps: readonly HostEndpoint[]): boolean {
  return heps.some((h) => hostSelects(p, h, 'ingress') || hostSelects(p, h, 'egress'));
}

function acceptedCondition(problems: readonly string[], what: string, observed: object): DesiredCondition {
  const n = problems.length;
  return n === 0
    ? { type: ACCEPTED, status: 'True', reason: 'Accepted', message: `The ${what} is valid`, ...observed }
    : {
        type: ACCEPTED,
        status: 'False',
        reason: 'InvalidSpec',
        message: bounded(`${plural(n, 'problem')}: ${problems.join('; ')}`),
        ...observed,
      };
}

const flagsOf = (g: GlobalNetworkPolicy) =>
  (['preDNAT', 'doNotTrack', 'applyOnForward'] as const).filter((f) => g[f]).join(', ');

/** Why the policy selects no host endpoint, and what that means for it. */
export function noHostEndpointMessage(g: GlobalNetworkPolicy): string {
  const ns = g.namespaceSelector;
  const why =
    ns && !calicoSelectorMatches(ns.selector, { labels: {}, namespaced: false })
      ? `spec.namespaceSelector "${ns.text}" limits it to pods, so it selects no HostEndpoint`
      : `No HostEndpoint matches spec.selector "${g.selector.text || 'all()'}"`;
  const effect =
    g.preDNAT || g.doNotTrack
      ? `this ${flagsOf(g)} policy applies to host endpoints only: it has no effect until one matches`
      : 'its applyOnForward has no effect (it applies to the pods it selects only)';
  return `${why}; ${effect}`;
}

export interface PolicyConditions {
  readonly conditions: DesiredCondition[];
  /** Types to drop where they are stored (they no longer apply). */
  readonly remove: string[];
}

/** A GlobalNetworkPolicy's conditions, given every HostEndpoint of the cluster. */
export function globalPolicyConditions(
  g: GlobalNetworkPolicy,
  heps: readonly HostEndpoint[],
  generation: number | undefined,
): PolicyConditions {
  const observed = generation === undefined ? {} : { observedGeneration: generation };
  // As the compiler has it: the parser's problems, and those of its translation (a port it cannot enforce). The
  // endpoints only resolve rules' selectors to addresses, which neither the problems nor the subject depend on.
  const p = fromGlobalNetworkPolicy(g);
  const accepted = acceptedCondition(p.problems, 'policy', observed);
  if (!isHostPolicy(g)) return { conditions: [accepted], remove: [SELECTS_HOST_ENDPOINTS] };
  const selected: DesiredCondition = selects(p, heps)
    ? {
        type: SELECTS_HOST_ENDPOINTS,
        status: 'True',
        reason: 'HostEndpointsSelected',
        message: 'The policy selects at least one HostEndpoint',
        ...observed,
      }
    : {
        type: SELECTS_HOST_ENDPOINTS,
        status: 'False',
        reason: 'NoHostEndpointSelected',
        message: noHostEndpointMessage(g),
        ...observed,
      };
  return { conditions: [accepted, selected], remove: [] };
}

/** A named interface of the endpoint that is not among the node's links (undefined: none, or not known). */
export function missingInterface(h: HostEndpoint, links: readonly string[] | undefined): string | undefined {
  const name = h.interfaceName;
  if (!links || name === undefined || coversAllInterfaces(h) || links.includes(name)) return undefined;
  return name;
}

function interfaceCondition(
  h: HostEndpoint,
  node: string,
  links: readonly string[] | undefined,
  observed: object,
): DesiredCondition | undefined {
  const base = { type: INTERFACE_PRESENT, ...observed };
  const name = h.interfaceName;
  if (name === undefined)
    return {
      ...base,
      status: 'Unknown',
      reason: 'NoInterfaceName',
      message: 'spec.interfaceName is not set: Palisade enforces host endpoints by interface (a name or "*")',
    };
  if (coversAllInterfaces(h))
    return {
      ...base,
      status: 'True',
      reason: 'AllInterfaces',
      message: `Covers every interface of node ${node} (not loopback, not pod interfaces)`,
    };
  if (!links) return undefined;
  return links.includes(name)
    ? {
        ...base,
        status: 'True',
        reason: 'InterfaceFound',
        message: `Interface "${name}" exists on node ${node}`,
      }
    : {
        ...base,
        status: 'False',
        reason: 'InterfaceNotFound',
        message: interfaceNotFoundMessage(name, node),
      };
}

export function interfaceNotFoundMessage(name: string, node: string): string {
  return `Interface "${name}" does not exist on node ${node}; its rules take effect when it appears`;
}

/** What a refusal says, in a condition or an Event: "refused on node-a: it would cut node → API server …". */
export function refusalMessage(r: Refusal, node: string): string {
  return r.reason === 'would-cut'
    ? `refused on ${node}: it would cut ${r.connection}; the version programmed before stays until this one changes`
    : `rolled back on ${node}: ${r.connection}; the version programmed before stays until this one changes`;
}

/** The problems of a HostEndpoint's diagnostic that are not its own parse problems: why it is not programmed. */
function programmingProblems(h: HostEndpoint, diagnostics: readonly Diagnostic[]): string[] {
  const key = hostEndpointKey(h);
  const all = diagnostics.filter((d) => d.policy === key).flatMap((d) => d.problems);
  return all.filter((p) => !h.problems.includes(p));
}

/** Whether this version of the endpoint is the one the last sync compiled. */
function wasSynced(h: HostEndpoint, synced: readonly HostEndpoint[] | undefined): boolean {
  if (!synced || synced.includes(h)) return true;
  const key = hostEndpointKey(h);
  const s = synced.find((x) => hostEndpointKey(x) === key);
  return s !== undefined && JSON.stringify(s) === JSON.stringify(h);
}

function programmedCondition(
  h: HostEndpoint,
  node: string,
  report: HostReport,
  observed: object,
): DesiredCondition | undefined {
  if (!report.diagnostics || !wasSynced(h, report.hostEndpoints)) return undefined;
  const base = { type: PROGRAMMED, ...observed };
  const refusal = report.refusals.find((r) => r.object === hostEndpointKey(h));
  if (refusal) {
    const reason = refusal.reason === 'would-cut' ? 'LockoutRefused' : 'RolledBack';
    return { ...base, status: 'False', reason, message: bounded(refusalMessage(refusal, node)) };
  }
  const problems = programmingProblems(h, report.diagnostics);
  if (problems.length > 0)
    return {
      ...base,
      status: 'False',
      reason: 'NotProgrammed',
      message: bounded(`Not programmed on ${node}: ${problems.join('; ')}`),
    };
  if (h.problems.length > 0)
    return {
      ...base,
      status: 'False',
      reason: 'Invalid',
      message: `Programmed on ${node} fail-closed, not as written; see the Accepted condition`,
    };
  return { ...base, status: 'True', reason: 'Programmed', message: `Programmed on ${node}` };
}

/** A HostEndpoint's conditions, decided by the agent of its node. */
export function hostEndpointConditions(
  h: HostEndpoint,
  node: string,
  report: HostReport,
  generation: number | undefined,
): PolicyConditions {
  const observed = generation === undefined ? {} : { observedGeneration: generation };
  const conditions = [
    acceptedCondition(h.problems, 'host endpoint', observed),
    interfaceCondition(h, node, report.links, observed),
    programmedCondition(h, node, report, observed),
  ].filter((c): c is DesiredCondition => c !== undefined);
  return { conditions, remove: [] };
}

const GNP_REJECTED =
  'GlobalNetworkPolicy rejected; it fails closed (Allow, Pass and Log rules dropped, rules that did not parse ' +
  'deny everything, preDNAT and doNotTrack cleared)';
const HEP_REJECTED =
  'HostEndpoint rejected; it fails closed (broken labels read as none, broken profiles as none: its default is deny)';

/**
 * The Warning Events of one node: its diagnostics of host objects (a GlobalNetworkPolicy that fails closed, one
 * of its HostEndpoints rejected or not programmed), lockout protection's refusals and rollbacks, and its
 * HostEndpoints whose interface does not exist. `heps`: the node's HostEndpoints.
 */
export function hostWarnings(node: string, heps: readonly HostEndpoint[], report: HostReport): HostWarning[] {
  const out: HostWarning[] = [];
  const byKey = new Map(heps.map((h) => [hostEndpointKey(h), h]));
  for (const d of report.diagnostics ?? []) {
    if (d.problems.length === 0) continue;
    if (d.policy.startsWith('gnp:'))
      out.push({
        object: d.policy,
        reason: 'PolicyRejected',
        message: `${GNP_REJECTED}: ${d.problems.join('; ')}`,
      });
    const h = d.policy.startsWith('hep:') ? byKey.get(d.policy) : undefined;
    if (!h) continue;
    if (h.problems.length > 0)
      out.push({
        object: d.policy,
        reason: 'HostEndpointRejected',
        message: `${HEP_REJECTED}: ${h.problems.join('; ')}`,
      });
    const rest = programmingProblems(h, [d]);
    if (rest.length > 0)
      out.push({
        object: d.policy,
        reason: 'HostEndpointNotProgrammed',
        message: `HostEndpoint not programmed on ${node}: ${rest.join('; ')}`,
      });
  }
  for (const r of report.refusals) {
    const reason = r.reason === 'would-cut' ? 'HostPolicyRefused' : 'HostPolicyRolledBack';
    out.push({ object: r.object, reason, message: refusalMessage(r, node) });
  }
  for (const h of heps) {
    const name = missingInterface(h, report.links);
    if (name !== undefined)
      out.push({
        object: hostEndpointKey(h),
        reason: 'InterfaceNotFound',
        message: interfaceNotFoundMessage(name, node),
      });
  }
  return out;
}

/** The key of a host object, as diagnostics and refusals name it. */
export function hostObjectKey(o: GlobalNetworkPolicy | HostEndpoint): string {
  return o.kind === 'GlobalNetworkPolicy' ? globalPolicyKey(o) : hostEndpointKey(o);
}
