// The plugin's side of the hand-off to the node agent. Two ways to the same agent:
//   - over its unix socket: one request line, one answer line (the Node plugin, exec'd by a runtime);
//   - directly, when the plugin runs inside the agent's process (the native shim's hand-off,
//     src/agent/cni-inprocess.ts): the agent's own handlers, no socket.
// Either way a failure is an AgentUnreachableError, which ADD turns into code 11 ("try again later").
import { connect } from 'node:net';
import type { LocalEndpoint } from '../agent/endpoints.js';
import type { NamespaceFacts, PodFacts } from '../chained/selection.js';

export class AgentUnreachableError extends Error {
  override readonly name = 'AgentUnreachableError';
}

/** What the agent knows of a pod for chained mode's selection (src/chained/selection.ts). */
export interface FactsAnswer {
  readonly pod: PodFacts | null;
  readonly namespace: NamespaceFacts | null;
  readonly revision: string;
}

/** The agent as the plugin uses it. */
export interface AgentApi {
  /** Resolves once policy including the endpoint is in the kernel; returns the programmed revision. */
  add(e: LocalEndpoint): Promise<string>;
  del(containerID: string, ifname: string): Promise<void>;
  /** The pod's and namespace's facts; waits a little for a pod the datastore does not know yet. */
  facts(namespace: string, name: string): Promise<FactsAnswer>;
}

export async function askAgent(
  socketPath: string,
  request: Record<string, unknown>,
  timeoutMs: number,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath);
    let buf = '';
    const fail = (why: string) => {
      sock.destroy();
      reject(new AgentUnreachableError(`palisade agent at ${socketPath}: ${why}`));
    };
    const timer = setTimeout(() => fail(`no answer within ${timeoutMs} ms`), timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(`${JSON.stringify(request)}\n`));
    sock.on('data', (chunk: string) => {
      buf += chunk;
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      fail(err.code ?? err.message);
    });
    sock.on('end', () => {
      clearTimeout(timer);
      try {
        const doc = JSON.parse(buf) as Record<string, unknown>;
        if (doc.ok === true) resolve(doc);
        else
          reject(new AgentUnreachableError(`palisade agent at ${socketPath} refused: ${String(doc.error)}`));
      } catch {
        reject(new AgentUnreachableError(`palisade agent at ${socketPath} sent no valid answer`));
      }
    });
  });
}

/** The agent behind its socket. */
function socketAgent(socketPath: string, timeoutMs: number): AgentApi {
  return {
    async add(e) {
      const doc = await askAgent(socketPath, { op: 'add', ...e }, timeoutMs);
      return String(doc.revision ?? '');
    },
    async del(containerID, ifname) {
      await askAgent(socketPath, { op: 'del', containerID, ifname }, timeoutMs);
    },
    async facts(namespace, name) {
      const doc = await askAgent(socketPath, { op: 'facts', namespace, name }, timeoutMs);
      return doc as unknown as FactsAnswer;
    },
  };
}

/** The agent's own handlers, held to the same time limit and failing the same way as over the socket. */
function directAgent(h: AgentApi, timeoutMs: number): AgentApi {
  const guard = <T>(what: string, p: Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new AgentUnreachableError(
              `palisade agent (in-process): ${what}: no answer within ${timeoutMs} ms`,
            ),
          ),
        timeoutMs,
      );
      p.then(
        (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        (err: unknown) => {
          clearTimeout(timer);
          const why = err instanceof Error ? err.message : String(err);
          reject(new AgentUnreachableError(`palisade agent (in-process) refused ${what}: ${why}`));
        },
      );
    });
  return {
    add: (e) => guard('add', h.add(e)),
    del: (containerID, ifname) => guard('del', h.del(containerID, ifname)),
    facts: (namespace, name) => guard('facts', h.facts(namespace, name)),
  };
}

/**
 * The agent an invocation talks to: the agent it runs inside (`inProcess`), else the one at the config's
 * socket, else none (a standalone plugin).
 */
export function agentFor(inProcess: AgentApi | undefined, socketPath: string, timeoutMs: number): AgentApi;
export function agentFor(
  inProcess: AgentApi | undefined,
  socketPath: string | undefined,
  timeoutMs: number,
): AgentApi | undefined;
export function agentFor(
  inProcess: AgentApi | undefined,
  socketPath: string | undefined,
  timeoutMs: number,
): AgentApi | undefined {
  if (inProcess) return directAgent(inProcess, timeoutMs);
  return socketPath ? socketAgent(socketPath, timeoutMs) : undefined;
}
