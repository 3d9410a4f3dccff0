// Each lab node looks like a real node to the plugin: its CNI config in <dir>/nodes/<node>/etc/cni/net.d/ and
// its plugin binaries in <dir>/nodes/<node>/opt/cni/bin/, so anything can invoke the plugin as a runtime would.
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { LIBIPSEC_MTU, podMtu } from '../model/tunnel-mtu.js';
import { type NodePlan, UNDERLAY_MTU } from './plan.js';
import type { LabEncryption } from './state.js';

export const NETWORK_NAME = 'palisade';

export function nodePaths(dir: string, node: string) {
  const root = join(dir, 'nodes', node);
  return {
    root,
    confDir: join(root, 'etc/cni/net.d'),
    binDir: join(root, 'opt/cni/bin'),
    ipamDir: join(root, 'var/lib/cni/palisade'),
    resultsDir: join(root, 'var/lib/cni/results'),
    /** The node agent's CNI hand-off socket and its status/metrics socket, and its log. */
    cniSocket: join(root, 'run', 'cni.sock'),
    statusSocket: join(root, 'run', 'agent.sock'),
    agentLog: join(root, 'agent.log'),
    /** `lab up --encryption wireguard`: the node's private key (kept across agent restarts), wireguard-go's log. */
    wireguardKey: join(root, 'var/lib/palisade/wireguard.key'),
    wireguardLog: join(root, 'wireguard-go.log'),
    /** `lab up --encryption ipsec`: the pre-shared key (as a Secret volume would hold it), charon's dir and log. */
    ipsecPsk: join(root, 'etc/palisade/ipsec/psk'),
    ipsecDir: join(root, 'var/lib/palisade/ipsec'),
    ipsecLog: join(root, 'charon.log'),
  };
}

/** The conflist the lab installs on a node (what `palisade install-cni` writes in main mode). */
export function nodeConflist(
  node: NodePlan,
  paths: { ipamDir: string; cniSocket: string },
  mtu = UNDERLAY_MTU,
): Record<string, unknown> {
  return {
    cniVersion: '1.1.0',
    name: NETWORK_NAME,
    plugins: [
      {
        type: 'palisade-cni',
        mode: 'routed',
        mtu,
        ipam: { type: 'palisade', subnet: node.podCIDR, dataDir: paths.ipamDir },
        agentSocket: paths.cniSocket,
      },
    ],
  };
}

export function writeNodeFiles(
  dir: string,
  node: NodePlan,
  binaries: { readonly pluginBinary: string; readonly shimBinary: string },
  encryption?: LabEncryption,
): void {
  const p = nodePaths(dir, node.name);
  for (const d of [p.confDir, p.binDir, p.ipamDir, p.resultsDir, dirname(p.cniSocket)])
    mkdirSync(d, { recursive: true });
  writeFileSync(
    join(p.confDir, '10-palisade.conflist'),
    `${JSON.stringify(nodeConflist(node, p, podMtuOf(encryption)), null, 2)}\n`,
  );
  copyFileSync(binaries.shimBinary, join(p.binDir, 'palisade-cni'));
  copyFileSync(binaries.pluginBinary, join(p.binDir, 'palisade-cni-node'));
}

/**
 * Pods' MTU: the underlay's, less the tunnel's overhead when the nodes encrypt (the lab's underlay is IPv4);
 * with IPsec at most kernel-libipsec's (these machines have no kernel ESP).
 */
export function podMtuOf(encryption: LabEncryption | undefined): number {
  if (!encryption) return UNDERLAY_MTU;
  const mtu = podMtu(encryption, UNDERLAY_MTU, [4]);
  return encryption === 'ipsec' ? Math.min(mtu, LIBIPSEC_MTU) : mtu;
}
