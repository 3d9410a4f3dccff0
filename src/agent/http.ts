// Health, readiness, metrics and status over HTTP, on host:port or a unix socket (unix:/path) — the lab's agents
// run inside node network namespaces, where a filesystem socket is what the lab can reach.
import { chmodSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { Logger } from '../util/log.js';

export interface HttpHandlers {
  /** Ready once the first sync is programmed. */
  ready(): boolean;
  status(): Record<string, unknown> | Promise<Record<string, unknown>>;
  metrics(): Promise<{ contentType: string; body: string }>;
  /**
   * POST /encryption/rotate: a new WireGuard key now (`palisade encryption rotate`); answers with the rotation's
   * result, 409 with the reason when it cannot (encryption off, IPsec, a rotation under way).
   */
  rotate?(): Promise<Record<string, unknown>>;
}

export function parseListen(listen: string): { path: string } | { host: string; port: number } {
  if (listen.startsWith('unix:')) return { path: listen.slice('unix:'.length) };
  const m = /^(.*):(\d{1,5})$/.exec(listen);
  if (!m || Number(m[2]) > 65535) throw new Error(`--listen: "${listen}" must be HOST:PORT or unix:PATH`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

export function serveHttp(listen: string, h: HttpHandlers, log: Logger): Promise<Server> {
  const where = parseListen(listen);
  const server = createServer((req, res) => {
    const send = (code: number, body: string, type = 'text/plain; charset=utf-8') => {
      res.writeHead(code, { 'content-type': type });
      res.end(body);
    };
    if (req.url === '/encryption/rotate') {
      if (req.method !== 'POST') return send(405, 'POST only\n');
      if (!h.rotate) return send(409, 'no key to rotate: encryption is off or is not WireGuard\n');
      h.rotate()
        .then((r) => send(200, `${JSON.stringify(r)}\n`, 'application/json'))
        .catch((err: unknown) => send(409, `${err instanceof Error ? err.message : String(err)}\n`));
      return;
    }
    switch (req.url) {
      case '/healthz':
        return send(200, 'ok\n');
      case '/readyz':
        return h.ready() ? send(200, 'ready\n') : send(503, 'not ready: first sync not programmed yet\n');
      case '/status':
        Promise.resolve()
          .then(() => h.status())
          .then((st) => send(200, `${JSON.stringify(st)}\n`, 'application/json'))
          .catch((err: unknown) => {
            log.error({ err }, 'status failed');
            send(500, 'status failed\n');
          });
        return;
      case '/metrics':
        h.metrics()
          .then((m) => send(200, m.body, m.contentType))
          .catch((err: unknown) => {
            log.error({ err }, 'metrics failed');
            send(500, 'metrics failed\n');
          });
        return;
      default:
        return send(404, 'not found: try /healthz /readyz /metrics /status\n');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const done = () => resolve(server);
    if ('path' in where) {
      rmSync(where.path, { force: true });
      server.listen(where.path, () => {
        chmodSync(where.path, 0o600);
        done();
      });
    } else {
      server.listen(where.port, where.host, done);
    }
  });
}
