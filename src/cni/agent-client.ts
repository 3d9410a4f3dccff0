// The plugin's side of the hand-off to the node agent: one request line, one answer line, over a unix socket.
import { connect } from 'node:net';

export class AgentUnreachableError extends Error {
  override readonly name = 'AgentUnreachableError';
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
