// `palisade install-cni`: flags (each with the environment variable a DaemonSet sets instead), then run until
// SIGTERM, serving readiness. See src/install/install-cni.ts.

import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { getJson } from '../cni/pod-facts.js';
import { parseNetworkConfigEnv } from '../install/cni-conf.js';
import { startInstallCni } from '../install/install-cni.js';
import type { Logger } from '../util/log.js';
import { UsageError } from './usage.js';

export const INSTALL_CNI_USAGE = `Usage: palisade install-cni [options]     (each option also reads the environment variable shown)

  --mode main|chained        main: write Palisade's conflist; chained: append Palisade's entry to the primary
                             CNI config and keep it there                              PALISADE_CNI_MODE (main)
  --cni-bin-dir DIR          the host's CNI bin dir as mounted here          CNI_BIN_DIR (/host/opt/cni/bin)
  --cni-net-dir DIR          the host's CNI config dir as mounted here       CNI_NET_DIR (/host/etc/cni/net.d)
  --host-cni-net-dir DIR     the same dir as the host sees it                HOST_CNI_NET_DIR (/etc/cni/net.d)
  --conf-name FILE           chained: the primary config (else the lexically first .conf/.conflist)
                                                                             CNI_CONF_NAME
  --network-config JSON      the plugin entry, with __KUBECONFIG_FILEPATH__ substituted
                                                                             CNI_NETWORK_CONFIG (generated)
  --pod-cidr CIDR            main: the node's pod CIDR for the generated entry            PALISADE_POD_CIDR
  --listen HOST:PORT         readiness: GET /readyz is 200 only while the config is in place
                                                                             PALISADE_INSTALL_LISTEN (127.0.0.1:9098)
  --check-interval MS        how often the config is checked (besides watching the dir)
                                                                             PALISADE_INSTALL_CHECK_INTERVAL (2000)`;

/** The service account's token and CA (PALISADE_SERVICE_ACCOUNT_DIR overrides it, for tests). */
const SA_DIR = process.env.PALISADE_SERVICE_ACCOUNT_DIR ?? '/var/run/secrets/kubernetes.io/serviceaccount';

function opt(values: Record<string, string | undefined>, name: string, envName: string, fallback?: string) {
  return values[name] ?? process.env[envName] ?? fallback;
}

export async function runInstallCniCommand(
  argv: readonly string[],
  deps: { log: Logger; distDir: string },
): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      mode: { type: 'string' },
      'cni-bin-dir': { type: 'string' },
      'cni-net-dir': { type: 'string' },
      'host-cni-net-dir': { type: 'string' },
      'conf-name': { type: 'string' },
      'network-config': { type: 'string' },
      'pod-cidr': { type: 'string' },
      listen: { type: 'string' },
      'check-interval': { type: 'string' },
    },
    strict: true,
  });
  const mode = opt(values, 'mode', 'PALISADE_CNI_MODE', 'main');
  if (mode !== 'main' && mode !== 'chained')
    throw new UsageError(`--mode: "${mode}" must be main or chained`);
  const hostNetDir = opt(values, 'host-cni-net-dir', 'HOST_CNI_NET_DIR', '/etc/cni/net.d')!;
  const kubeconfigName = 'palisade-kubeconfig';
  const kubeconfigPath = join(hostNetDir, kubeconfigName);
  const given = opt(values, 'network-config', 'CNI_NETWORK_CONFIG');
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT ?? '443';
  const apiServer = host ? `https://${host.includes(':') ? `[${host}]` : host}:${port}` : undefined;
  // Main mode needs this node's pod CIDR: given, or read from the Node object (spec.podCIDR).
  const needsCidr = mode === 'main' && (!given || given.includes('__POD_CIDR__'));
  const podCidr =
    opt(values, 'pod-cidr', 'PALISADE_POD_CIDR') ?? (needsCidr ? await nodePodCidr(apiServer) : undefined);
  let entry: Record<string, unknown>;
  if (given) {
    const parsed = parseNetworkConfigEnv(given, {
      KUBECONFIG_FILEPATH: kubeconfigPath,
      ...(podCidr ? { POD_CIDR: podCidr } : {}),
    });
    if ('error' in parsed) throw new UsageError(parsed.error);
    entry = parsed.entry;
  } else if (mode === 'chained') {
    entry = { type: 'palisade-cni', mode: 'redirect', kubeconfig: kubeconfigPath };
  } else {
    entry = {
      type: 'palisade-cni',
      agentSocket: '/run/palisade/cni.sock',
      ipam: { type: 'palisade', subnet: podCidr },
    };
  }
  const intervalText = opt(values, 'check-interval', 'PALISADE_INSTALL_CHECK_INTERVAL', '2000')!;
  const interval = Number(intervalText);
  if (!Number.isInteger(interval) || interval < 100) {
    throw new UsageError(`--check-interval: "${intervalText}" must be a whole number of ms >= 100`);
  }
  const install = startInstallCni(
    {
      mode,
      binDir: opt(values, 'cni-bin-dir', 'CNI_BIN_DIR', '/host/opt/cni/bin')!,
      netDir: opt(values, 'cni-net-dir', 'CNI_NET_DIR', '/host/etc/cni/net.d')!,
      hostNetDir,
      confName: opt(values, 'conf-name', 'CNI_CONF_NAME'),
      entry,
      ownFile: '05-palisade.conflist',
      networkName: 'palisade',
      shim: join(deps.distDir, 'palisade-cni-shim'),
      nodePlugin: join(deps.distDir, 'palisade-cni'),
      nodeRuntime: process.execPath,
      serviceAccount: apiServer
        ? { tokenFile: join(SA_DIR, 'token'), caFile: join(SA_DIR, 'ca.crt'), server: apiServer }
        : undefined,
      kubeconfigName,
      checkIntervalMs: interval,
    },
    deps.log.child({ component: 'install-cni' }),
  );
  const listen = opt(values, 'listen', 'PALISADE_INSTALL_LISTEN', '127.0.0.1:9098')!;
  const readiness = await serveReadiness(listen, install);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  readiness.close();
  await install.stop();
  return 0;
}

/** This node's pod CIDR from its Node object, with the service account (NODE_NAME from the downward API). */
async function nodePodCidr(server: string | undefined): Promise<string> {
  const node = process.env.NODE_NAME;
  const missing =
    "main mode needs the node's pod CIDR: set PALISADE_POD_CIDR (--pod-cidr), or run in-cluster";
  if (!server || !node) throw new UsageError(`${missing} with NODE_NAME set`);
  const caPem = readFileSync(join(SA_DIR, 'ca.crt'), 'utf8');
  const kc = {
    server,
    caPem,
    insecure: false,
    token: readFileSync(join(SA_DIR, 'token'), 'utf8').trim(),
  };
  const obj = (await getJson(kc, `/api/v1/nodes/${encodeURIComponent(node)}`, 10_000)) as
    | { spec?: { podCIDR?: unknown; podCIDRs?: unknown } }
    | undefined;
  const cidrs = obj?.spec?.podCIDRs;
  const cidr = obj?.spec?.podCIDR ?? (Array.isArray(cidrs) ? cidrs[0] : undefined);
  if (typeof cidr !== 'string') throw new UsageError(`${missing}: node ${node} has no spec.podCIDR`);
  return cidr;
}

function serveReadiness(listen: string, install: { ready(): boolean; problem(): string | undefined }) {
  const i = listen.lastIndexOf(':');
  const host = listen.slice(0, i);
  const port = Number(listen.slice(i + 1));
  if (i < 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`--listen: "${listen}" must be HOST:PORT`);
  }
  const server: Server = createServer((req, res) => {
    if (req.url !== '/readyz' && req.url !== '/healthz') {
      res.writeHead(404).end();
      return;
    }
    const ok = req.url === '/healthz' || install.ready();
    res.writeHead(ok ? 200 : 503, { 'Content-Type': 'text/plain' });
    res.end(ok ? 'ok\n' : `not ready: ${install.problem()}\n`);
  });
  return new Promise<Server>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
