// `palisade encryption status|rotate`: a node's encryption as its agent reports it (backend, mode, key age,
// each peer's session and the strict drops against it), and a WireGuard key rotation on demand. Talks to the
// agent's --listen address (HOST:PORT or unix:PATH), the same as its /status and /metrics.
import { request } from 'node:http';
import { parseArgs } from 'node:util';
import { parseListen } from '../agent/http.js';
import { UsageError } from './usage.js';

export const ENCRYPTION_COMMAND_USAGE = `Usage: palisade encryption status|rotate [--agent ADDR] [--json]

  status          the node's encryption: backend, mode, key age, peers (session up, handshake age), strict drops
  rotate          a new WireGuard key now, with overlap (the old interface serves until every peer switched)
  --agent ADDR    the agent's --listen address: HOST:PORT or unix:PATH (default 127.0.0.1:9099)
  --json          print the agent's answer as JSON`;

function call(agent: string, method: 'GET' | 'POST', path: string): Promise<{ code: number; body: string }> {
  const where = parseListen(agent);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        ...('path' in where ? { socketPath: where.path } : { host: where.host, port: where.port }),
        path,
        method,
        agent: false,
        timeout: 60_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve({ code: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`agent at ${agent}: no answer`)));
    req.on('error', reject);
    req.end();
  });
}

interface Peer {
  node: string;
  endpoint: string;
  up: boolean;
  handshakeAgeSeconds: number | null;
}

/** The status as a short text: one line for the node, one per peer. */
export function renderEncryptionStatus(e: Record<string, unknown>): string {
  const peers = (e.peers as Peer[]) ?? [];
  const drops = (e.strictDrops as Record<string, number>) ?? {};
  const lines = [
    `backend ${e.backend}  mode ${e.mode ?? 'starting'}  interface ${e.iface}  key age ${e.keyAgeSeconds ?? '-'} s${
      e.publicKey ? `  public key ${e.publicKey}` : ''
    }`,
    'PEER           ENDPOINT               SESSION  HANDSHAKE AGE  STRICT DROPS',
    ...peers.map(
      (p) =>
        `${p.node.padEnd(14)} ${p.endpoint.padEnd(22)} ${(p.up ? 'up' : 'down').padEnd(8)} ${String(
          p.handshakeAgeSeconds === null ? '-' : `${p.handshakeAgeSeconds} s`,
        ).padEnd(14)} ${drops[p.node] ?? 0}`,
    ),
    ...((e.problems as string[]) ?? []).map((p) => `not a peer: ${p}`),
    ...(e.lastError ? [`last error: ${e.lastError}`] : []),
  ];
  return `${lines.join('\n')}\n`;
}

export async function runEncryptionCommand(
  argv: readonly string[],
  out: (s: string) => void,
): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: {
      agent: { type: 'string', default: '127.0.0.1:9099' },
      json: { type: 'boolean', default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  const [action] = positionals;
  if (action === 'status') {
    const r = await call(values.agent, 'GET', '/status');
    const e = (JSON.parse(r.body) as { encryption?: Record<string, unknown> }).encryption;
    if (!e) {
      out('encryption is off on this node\n');
      return 1;
    }
    out(values.json ? `${JSON.stringify(e, null, 2)}\n` : renderEncryptionStatus(e));
    return 0;
  }
  if (action === 'rotate') {
    const r = await call(values.agent, 'POST', '/encryption/rotate');
    if (r.code !== 200) {
      process.stderr.write(`palisade: rotation refused: ${r.body}`);
      return 1;
    }
    const res = JSON.parse(r.body) as { publicKey: string; ms: number; switched: Record<string, number> };
    out(
      values.json
        ? r.body
        : `new public key ${res.publicKey}; every peer switched within ${res.ms} ms (${Object.entries(
            res.switched,
          )
            .map(([n, ms]) => `${n} ${ms} ms`)
            .join(', ')})\n`,
    );
    return 0;
  }
  throw new UsageError(`encryption: "${action ?? ''}" must be status or rotate`);
}
