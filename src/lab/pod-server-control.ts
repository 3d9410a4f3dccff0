// The pod server's control socket: a Unix socket at a filesystem path (so the lab, in the root netns, reaches
// servers in every pod netns), mode 0600, newline-delimited JSON requests answered one line each, in order.
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { PodLog } from './pod-server-log.js';
import {
  type ControlRequest,
  ControlRequestError,
  encodeLine,
  MAX_REQUEST_BYTES,
  parseControlRequest,
} from './pod-server-protocol.js';

export interface ControlReply {
  readonly answer: unknown;
  /** Runs once the answer has been written (shutdown uses it to exit after answering). */
  readonly afterWrite?: () => void;
}

export type ControlHandler = (req: ControlRequest) => Promise<ControlReply>;

export interface ControlServer {
  close(): Promise<void>;
}

export class ControlSocketError extends Error {
  override readonly name = 'ControlSocketError';
}

/** Removes a stale socket left by an earlier server; refuses to delete anything that is not a socket. */
export function removeStaleSocket(path: string): void {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!isSocket) throw new ControlSocketError(`controlSocket: ${path} exists and is not a socket`);
  unlinkSync(path);
}

async function answer(line: string, handler: ControlHandler, log: PodLog): Promise<ControlReply> {
  try {
    return await handler(parseControlRequest(line));
  } catch (err) {
    if (!(err instanceof ControlRequestError)) log.error('control request failed', { err });
    return { answer: { error: (err as Error).message } };
  }
}

function serveConnection(socket: Socket, handler: ControlHandler, log: PodLog): void {
  let buffered = '';
  let queue = Promise.resolve();
  const write = (reply: ControlReply): Promise<void> =>
    new Promise((resolve) => {
      if (socket.destroyed) return resolve();
      socket.write(encodeLine(reply.answer), () => {
        reply.afterWrite?.();
        resolve();
      });
    });
  socket.setEncoding('utf8');
  socket.on('error', (err) => log.warn('control connection failed', { err }));
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) {
      if (line.trim() === '') continue;
      queue = queue.then(() => answer(line, handler, log)).then(write);
    }
    if (buffered.length > MAX_REQUEST_BYTES) {
      const error = `request longer than ${MAX_REQUEST_BYTES} bytes`;
      socket.pause();
      buffered = '';
      queue = queue.then(() => write({ answer: { error } })).then(() => void socket.destroy());
    }
  });
  socket.on('end', () => {
    queue = queue.then(() => void socket.end());
  });
}

function listenPath(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    // Created 0600 from the start (umask), not chmod-ed after a window in which others could connect.
    const umask = process.umask(0o177);
    try {
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    } finally {
      process.umask(umask);
    }
  });
}

export async function listenControl(
  path: string,
  handler: ControlHandler,
  log: PodLog,
): Promise<ControlServer> {
  removeStaleSocket(path);
  const connections = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    connections.add(socket);
    socket.on('close', () => connections.delete(socket));
    serveConnection(socket, handler, log);
  });
  await listenPath(server, path);
  chmodSync(path, 0o600);
  return {
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        for (const socket of connections) socket.destroy();
        try {
          unlinkSync(path);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
            log.warn('control socket removal failed', { err });
        }
      }),
  };
}
