// The agent's local socket for the CNI plugin. The plugin's ADD registers the new endpoint and waits until the
// agent has programmed policy that includes it, so no pod runs unprotected; DEL unregisters it. In chained
// (redirect) mode the plugin asks for a pod's and its namespace's facts instead ("facts"), so that an ADD
// normally costs no API server connection.
// Protocol: one JSON request line, one JSON answer line. Socket mode 0600 (root only).
import { chmodSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { AgentApi } from '../cni/agent-client.js';
import type { Logger } from '../util/log.js';
import type { LocalEndpoint } from './endpoints.js';

export type HandoffRequest =
  | ({ readonly op: 'add' } & LocalEndpoint)
  | { readonly op: 'del'; readonly containerID: string; readonly ifname: string }
  | { readonly op: 'status' }
  | { readonly op: 'facts'; readonly namespace: string; readonly name: string }
  /** A whole CNI invocation from the native shim (src/cni/shim/palisade-cni.c), run in the agent's process. */
  | { readonly op: 'cni'; readonly env: Readonly<Record<string, string>>; readonly stdin: string };

/** What a CNI invocation printed and its exit code (the shim passes both on to the runtime). */
export interface CniAnswer {
  readonly exitCode: number;
  readonly stdout: string;
}

/** The socket's handlers: the agent as the plugin sees it (src/cni/agent-client.ts), plus status and cni. */
export interface HandoffHandlers extends AgentApi {
  status(): { ready: boolean; revision: string };
  /** Runs one CNI invocation in-process; absent: the shim is refused and falls back to the Node plugin. */
  cni?(env: Readonly<Record<string, string>>, stdin: string): Promise<CniAnswer>;
}

function isString(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0;
}

/** Validates a request line; returns a message naming the bad field otherwise. */
export function parseHandoff(line: string): HandoffRequest | string {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(line) as Record<string, unknown>;
  } catch (err) {
    return `request is not JSON: ${err instanceof Error ? err.message : String(err)}`;
  }
  if (raw.op === 'status') return { op: 'status' };
  if (raw.op === 'cni') {
    const env = raw.env;
    if (typeof env !== 'object' || env === null || Array.isArray(env)) return 'env: required object';
    if (!Object.values(env).every((v) => typeof v === 'string')) return 'env: values must be strings';
    if (typeof raw.stdin !== 'string') return 'stdin: required string';
    return { op: 'cni', env: env as Record<string, string>, stdin: raw.stdin };
  }
  if (raw.op === 'facts') {
    if (!isString(raw.namespace) || !isString(raw.name)) return 'namespace and name: required strings';
    return { op: 'facts', namespace: raw.namespace, name: raw.name };
  }
  if (!isString(raw.containerID) || !isString(raw.ifname)) return 'containerID and ifname: required strings';
  if (raw.op === 'del') return { op: 'del', containerID: raw.containerID, ifname: raw.ifname };
  if (raw.op !== 'add') return `op: ${JSON.stringify(raw.op)} must be add, del, status, facts or cni`;
  if (!isString(raw.interface)) return 'interface: required string';
  if (!Array.isArray(raw.ips) || !raw.ips.every(isString)) return 'ips: required list of addresses';
  return {
    op: 'add',
    containerID: raw.containerID,
    ifname: raw.ifname,
    interface: raw.interface,
    ips: raw.ips as string[],
    namespace: isString(raw.namespace) ? raw.namespace : undefined,
    name: isString(raw.name) ? raw.name : undefined,
  };
}

async function answer(req: HandoffRequest, h: HandoffHandlers): Promise<Record<string, unknown>> {
  switch (req.op) {
    case 'add':
      return { ok: true, revision: await h.add(req) };
    case 'del':
      await h.del(req.containerID, req.ifname);
      return { ok: true };
    case 'status':
      return { ok: true, ...h.status() };
    case 'facts':
      return { ok: true, ...(await h.facts(req.namespace, req.name)) };
    case 'cni':
      throw new Error('cni is answered in its own framing'); // see serveHandoff
  }
}

export function serveHandoff(path: string, h: HandoffHandlers, log: Logger): Promise<Server> {
  rmSync(path, { force: true }); // a socket file left by a previous agent
  const server = createServer((sock: Socket) => {
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const line = buf.slice(0, nl);
      buf = '';
      const req = parseHandoff(line);
      if (typeof req !== 'string' && req.op === 'cni') {
        // The shim's framing: "<exit code>\n<stdout>". A failure inside is the plugin's own error document.
        const run = h.cni
          ? h.cni(req.env, req.stdin)
          : Promise.reject(new Error('this agent does not run CNI invocations'));
        run
          .then((a) => sock.end(`${a.exitCode}\n${a.stdout}`))
          .catch((err: unknown) => {
            log.error({ err }, 'in-process CNI invocation failed');
            sock.destroy(); // the shim reports "no answer" (code 11)
          });
        return;
      }
      const reply = typeof req === 'string' ? Promise.resolve({ ok: false, error: req }) : answer(req, h);
      reply
        .catch((err: unknown) => ({ ok: false, error: err instanceof Error ? err.message : String(err) }))
        .then((doc) => sock.end(`${JSON.stringify(doc)}\n`));
    });
    sock.on('error', (err) => log.warn({ err }, 'cni socket connection failed'));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      chmodSync(path, 0o600);
      resolve(server);
    });
  });
}
