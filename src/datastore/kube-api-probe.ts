// The API server as lockout protection sees it (src/agent/host-guard.ts, host-confirm.ts): where the agent dials
// it (for the checks before a host policy change) and whether it answers now (for the confirm window after one).
import { request as httpRequest } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { tryParseIp } from '../model/cidr.js';
import type { Endpoint } from '../policy/lockout.js';
import { loadKubeConfig } from './kube-client.js';

/**
 * The address and port of the kubeconfig's server (an IP literal: a name is left out, the checks cannot know
 * where it resolves), and in a pod also the kubernetes Service's (KUBERNETES_SERVICE_HOST/PORT).
 */
export function apiServerEndpoints(kubeConfig?: string, env: NodeJS.ProcessEnv = process.env): Endpoint[] {
  const out: Endpoint[] = [];
  const server = loadKubeConfig(kubeConfig).getCurrentCluster()?.server;
  if (server) {
    const url = new URL(server);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    if (tryParseIp(host)) out.push({ ip: host, port });
  }
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = Number(env.KUBERNETES_SERVICE_PORT);
  if (
    host &&
    tryParseIp(host) &&
    Number.isInteger(port) &&
    !out.some((e) => e.ip === host && e.port === port)
  )
    out.push({ ip: host, port });
  return out;
}

/**
 * Resolves true when GET /version answers within `timeoutMs` over a NEW connection (no keep-alive: an established
 * connection rides conntrack's established state through any host policy, so it proves nothing about reaching
 * the API server now); false on any failure.
 */
export function apiServerProbe(
  opts: { kubeConfig?: string; timeoutMs?: number } = {},
): () => Promise<boolean> {
  const kc = loadKubeConfig(opts.kubeConfig);
  const timeout = opts.timeoutMs ?? 2000;
  return async () => {
    const server = kc.getCurrentCluster()?.server;
    if (!server) return false;
    const url = new URL('/version', server);
    const options: RequestOptions = { method: 'GET', agent: false, timeout };
    try {
      await kc.applyToHTTPSOptions(options);
    } catch {
      return false; // credentials that cannot be loaded: not confirmed (the window retries)
    }
    return new Promise<boolean>((resolve) => {
      const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, options, (res) => {
        res.resume();
        resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300);
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => resolve(false)); // unreachable, refused, timed out: not confirmed
      req.end();
    });
  };
}
