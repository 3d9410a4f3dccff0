// CHECK: compares the live pod network with prevResult and the IPAM reservation; names the first thing missing.
import { inspectLink, type RouteState } from '../dataplane/pod-link.js';
import { canonicalIp } from '../dataplane/pod-link-script.js';
import { hostVethName } from '../dataplane/veth-name.js';
import { findByOwner } from '../ipam/ipam.js';
import { assertNetnsExists, type CmdContext, ipamStore, ownerOf } from './context.js';
import { CniCode, CniError } from './errors.js';
import { parseResult, type Result } from './result.js';

function fail(msg: string): never {
  throw new CniError(CniCode.CheckFailed, msg);
}

/** `ip -j route` writes "default" and bare host addresses; make them CIDRs comparable with a Result. */
export function normaliseRouteDst(dst: string, family: 4 | 6): string {
  if (dst === 'default') return family === 4 ? '0.0.0.0/0' : '::/0';
  if (dst.includes('/')) return `${canonicalIp(dst)}/${dst.split('/')[1]}`;
  return `${canonicalIp(dst)}/${family === 4 ? 32 : 128}`;
}

function hasRoute(routes: readonly RouteState[], dst: string, gw?: string, dev?: string): boolean {
  const fam = dst.includes(':') ? 6 : 4;
  return routes.some(
    (r) =>
      normaliseRouteDst(r.dst, fam) === normaliseRouteDst(dst, fam) &&
      (gw === undefined || (r.gateway !== undefined && canonicalIp(r.gateway) === canonicalIp(gw))) &&
      (dev === undefined || r.dev === dev),
  );
}

export async function cmdCheck(ctx: CmdContext): Promise<void> {
  const { env, conf, deps } = ctx;
  if (!conf.prevResult) {
    throw new CniError(
      CniCode.InvalidNetworkConfig,
      'prevResult: required for CHECK (the result of the last ADD)',
    );
  }
  assertNetnsExists(ctx);
  const prev: Result = parseResult(conf.prevResult);
  const podIndex = prev.interfaces.findIndex((i) => i.name === env.ifname && i.sandbox !== undefined);
  if (podIndex < 0) fail(`prevResult has no interface "${env.ifname}" inside a sandbox`);
  const ips = prev.ips.filter((ip) => ip.interface === undefined || ip.interface === podIndex);
  const families = new Set(ips.map((ip) => (ip.address.includes(':') ? 6 : 4) as 4 | 6));

  const pod = await inspectLink(deps.runner, { netns: env.netns, ifname: env.ifname, families });
  if (!pod.link) fail(`interface "${env.ifname}" is missing in ${env.netns}`);
  if (!pod.link.up) fail(`interface "${env.ifname}" in ${env.netns} is down`);
  const wantMac = prev.interfaces[podIndex]?.mac;
  if (wantMac && pod.link.mac.toLowerCase() !== wantMac.toLowerCase()) {
    fail(`interface "${env.ifname}" has MAC ${pod.link.mac}, prevResult says ${wantMac}`);
  }
  const live = new Set(pod.link.addresses.map((a) => `${canonicalIp(a)}/${a.split('/')[1]}`));
  for (const ip of ips) {
    const want = `${canonicalIp(ip.address)}/${ip.address.split('/')[1]}`;
    if (!live.has(want)) fail(`address ${ip.address} is missing on "${env.ifname}" in ${env.netns}`);
  }
  for (const r of prev.routes) {
    if (!hasRoute(pod.routes, r.dst, r.gw)) {
      fail(`route to ${r.dst}${r.gw ? ` via ${r.gw}` : ''} is missing in ${env.netns}`);
    }
  }

  const hostIfname = hostVethName(env.containerID, env.ifname);
  const host = await inspectLink(deps.runner, { ifname: hostIfname, families });
  if (!host.link) fail(`host interface "${hostIfname}" is missing`);
  if (!host.link.up) fail(`host interface "${hostIfname}" is down`);
  for (const ip of ips) {
    const addr = canonicalIp(ip.address);
    if (!hasRoute(host.routes, addr, undefined, hostIfname)) {
      fail(`host route to ${addr} via "${hostIfname}" is missing`);
    }
  }

  const reserved = new Set((await findByOwner(ipamStore(conf), ownerOf(env))).map((a) => canonicalIp(a.ip)));
  for (const ip of ips) {
    if (!reserved.has(canonicalIp(ip.address))) {
      fail(`address ${ip.address} is not reserved for ${env.containerID}/${env.ifname} in IPAM`);
    }
  }
}
