// Where the lab's Kubernetes control plane lives and how each upstream component is started. Pure: paths,
// addresses and argv only (src/lab/kube/control-plane.ts starts them).
import { join } from 'node:path';
import { DEFAULT_VALUES } from '../../deploy/manifests.js';
import { OUTSIDE_IP } from '../outside.js';
import type { NodePlan } from '../plan.js';
import { kubeconfig } from './kubeconfig.js';
import { type ClientIdentity, type PkiPaths, pkiPaths } from './pki.js';

export const SERVICE_CIDR = '10.96.0.0/16';
/** The `kubernetes` Service's ClusterIP: the first address of SERVICE_CIDR. */
export const KUBERNETES_SERVICE_IP = '10.96.0.1';
export const API_PORT = 6443;
/** The palisade agents' namespace and ServiceAccount: as `palisade manifests` creates them by default. */
export const AGENT_NAMESPACE = DEFAULT_VALUES.namespace;
export { SERVICE_ACCOUNT as AGENT_SERVICE_ACCOUNT } from '../../deploy/manifests.js';

/** A host on the underlay that is not a node: the control plane, and `outside` (a client beyond the cluster). */
export interface HostPlan {
  readonly name: 'control-plane' | 'outside';
  readonly netns: string;
  readonly ip: string;
  readonly uplink: string;
  readonly switchPort: string;
}

export function hostPlans(prefix: string): HostPlan[] {
  return [
    { name: 'control-plane', netns: `${prefix}-cp`, ip: '198.18.0.2', uplink: 'eth0', switchPort: 'cp' },
    { name: 'outside', netns: `${prefix}-out`, ip: OUTSIDE_IP, uplink: 'eth0', switchPort: 'out' },
  ];
}

export interface KubePaths {
  readonly root: string;
  readonly pki: PkiPaths;
  readonly etcdData: string;
  readonly logs: string;
  /** Admin, through the loopback forwarder: for the machine's own shell (`lab kubeconfig`). */
  readonly adminKubeconfig: string;
  /** The forwarder's hop from the root netns into the control plane's netns. */
  readonly apiSocket: string;
  kubeconfigOf(identity: string): string;
  /** The agent's ServiceAccount token (re-read by the agents as it is refreshed). */
  readonly agentToken: string;
  kubeProxyConfig(node: string): string;
}

export function kubePaths(labDir: string): KubePaths {
  const root = join(labDir, 'kube');
  return {
    root,
    pki: pkiPaths(join(root, 'pki')),
    etcdData: join(root, 'etcd'),
    logs: join(root, 'logs'),
    adminKubeconfig: join(root, 'admin.kubeconfig'),
    apiSocket: join(root, 'apiserver.sock'),
    kubeconfigOf: (identity) => join(root, `${identity}.kubeconfig`),
    agentToken: join(root, 'agent.token'),
    kubeProxyConfig: (node) => join(root, `kube-proxy-${node}.yaml`),
  };
}

/** Identities with client certificates; the user and groups Kubernetes' bootstrap RBAC expects of each. */
export function clientIdentities(nodes: readonly NodePlan[]): ClientIdentity[] {
  return [
    { file: 'admin', user: 'lab-admin', groups: ['system:masters'] },
    { file: 'kube-controller-manager', user: 'system:kube-controller-manager', groups: [] },
    { file: 'kube-scheduler', user: 'system:kube-scheduler', groups: [] },
    { file: 'kube-proxy', user: 'system:kube-proxy', groups: [] },
    // Each lab node's kubelet: the Node authorizer and NodeRestriction key on system:node:<name>.
    ...nodes.map((n) => ({ file: n.name, user: `system:node:${n.name}`, groups: ['system:nodes'] })),
  ];
}

export function apiServerURL(cp: HostPlan): string {
  return `https://${cp.ip}:${API_PORT}`;
}

/** A kubeconfig for one client identity, reaching the API server at `server`. */
export function clientKubeconfig(paths: KubePaths, identity: ClientIdentity, server: string) {
  const c = paths.pki.client(identity.file);
  return kubeconfig({
    server,
    caFile: paths.pki.caCert,
    user: identity.user,
    credentials: { clientCertificate: c.cert, clientKey: c.key },
  });
}

export function etcdArgs(paths: KubePaths): string[] {
  return [
    '--name=lab',
    `--data-dir=${paths.etcdData}`,
    // On the control plane's own loopback: only the API server talks to etcd.
    '--listen-client-urls=http://127.0.0.1:2379',
    '--advertise-client-urls=http://127.0.0.1:2379',
    '--listen-peer-urls=http://127.0.0.1:2380',
    '--initial-advertise-peer-urls=http://127.0.0.1:2380',
    '--initial-cluster=lab=http://127.0.0.1:2380',
    '--log-level=warn',
  ];
}

export function apiServerArgs(paths: KubePaths, cp: HostPlan): string[] {
  const p = paths.pki;
  return [
    '--etcd-servers=http://127.0.0.1:2379',
    `--advertise-address=${cp.ip}`,
    '--bind-address=0.0.0.0',
    `--secure-port=${API_PORT}`,
    `--tls-cert-file=${p.serverCert}`,
    `--tls-private-key-file=${p.serverKey}`,
    `--client-ca-file=${p.caCert}`,
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${p.saPub}`,
    `--service-account-signing-key-file=${p.saKey}`,
    `--service-cluster-ip-range=${SERVICE_CIDR}`,
    '--authorization-mode=Node,RBAC',
    '--enable-admission-plugins=NodeRestriction',
    '--allow-privileged=true',
    '--profiling=false',
  ];
}

/** What the controller manager and the scheduler share: their identity, loopback-only serving, one instance. */
function controllerArgs(paths: KubePaths, identity: string): string[] {
  const kc = paths.kubeconfigOf(identity);
  return [
    `--kubeconfig=${kc}`,
    `--authentication-kubeconfig=${kc}`,
    `--authorization-kubeconfig=${kc}`,
    '--bind-address=127.0.0.1',
    '--leader-elect=false',
  ];
}

export function controllerManagerArgs(paths: KubePaths, clusterCIDR: string, nodePrefix: number): string[] {
  return [
    ...controllerArgs(paths, 'kube-controller-manager'),
    '--controllers=*',
    '--use-service-account-credentials=true',
    `--service-account-private-key-file=${paths.pki.saKey}`,
    `--root-ca-file=${paths.pki.caCert}`,
    // Node IPAM: each Node's spec.podCIDR, which its CNI config then uses.
    '--allocate-node-cidrs=true',
    `--cluster-cidr=${clusterCIDR}`,
    `--node-cidr-mask-size=${nodePrefix}`,
    `--service-cluster-ip-range=${SERVICE_CIDR}`,
  ];
}

export function schedulerArgs(paths: KubePaths): string[] {
  return controllerArgs(paths, 'kube-scheduler');
}

/**
 * kube-proxy's configuration on one node, nftables mode. In a network namespace the conntrack sysctls it
 * would tune are read-only: zero means "leave as is".
 */
export function kubeProxyConfig(
  paths: KubePaths,
  node: string,
  clusterCIDR: string,
): Record<string, unknown> {
  return {
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    mode: 'nftables',
    hostnameOverride: node,
    clusterCIDR,
    clientConnection: { kubeconfig: paths.kubeconfigOf('kube-proxy') },
    conntrack: {
      maxPerCore: 0,
      min: 0,
      tcpEstablishedTimeout: '0s',
      tcpCloseWaitTimeout: '0s',
    },
    // Each node netns has its own loopback: the same ports on every node do not collide.
    metricsBindAddress: '127.0.0.1:10249',
    healthzBindAddress: '127.0.0.1:10256',
  };
}
