// The pod's served ports: TCP answers every connection with "<id>\n" and ends it; UDP answers "probe <nonce>"
// with "<id> <nonce>". Both listen dual-stack on "::", falling back to 0.0.0.0 where the kernel has no IPv6.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import type { PodLog } from './pod-server-log.js';
import { udpAnswer } from './pod-server-protocol.js';

export interface Listener {
  close(): Promise<void>;
}

export interface ListenOptions {
  readonly id: string;
  readonly port: number;
  /** Defaults to "::" (dual-stack); tests pass a loopback address. */
  readonly host?: string;
  readonly log: PodLog;
}

const TCP_BACKLOG = 4096;
const NO_IPV6 = new Set(['EAFNOSUPPORT', 'EADDRNOTAVAIL', 'EPROTONOSUPPORT']);

function isNoIpv6(err: unknown): boolean {
  return NO_IPV6.has(String((err as { code?: unknown }).code));
}

/** Runs a bind on "::", and again on 0.0.0.0 when the first fails for lack of IPv6. */
async function bindDualStack<T>(host: string | undefined, bind: (host: string) => Promise<T>): Promise<T> {
  if (host !== undefined) return bind(host);
  try {
    return await bind('::');
  } catch (err) {
    if (!isNoIpv6(err)) throw err;
    return bind('0.0.0.0');
  }
}

function tcpListen(server: Server, port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      server.off('listening', onListening);
      reject(err);
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve(server);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ port, host, ipv6Only: false, backlog: TCP_BACKLOG });
  });
}

export async function listenTcp(opts: ListenOptions): Promise<Listener> {
  const answer = `${opts.id}\n`;
  const bind = (host: string): Promise<Server> => {
    const server = createServer((socket) => {
      // A prober that gives up (or resets) before reading the id is the prober's business, not an error here.
      socket.on('error', () => socket.destroy());
      socket.end(answer);
    });
    return tcpListen(server, opts.port, host);
  };
  const server = await bindDualStack(opts.host, bind);
  server.on('error', (err) => opts.log.error('tcp listener failed', { port: opts.port, err }));
  return { close: () => new Promise((resolve) => server.close(() => resolve())) };
}

function udpBind(host: string, port: number): Promise<UdpSocket> {
  const socket = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', ipv6Only: false });
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      socket.close();
      reject(err);
    };
    socket.once('error', onError);
    socket.bind({ port, address: host }, () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

export async function listenUdp(opts: ListenOptions): Promise<Listener> {
  const socket = await bindDualStack(opts.host, (host) => udpBind(host, opts.port));
  socket.on('message', (msg, rinfo) => {
    const reply = udpAnswer(opts.id, msg.toString('utf8'));
    if (reply === undefined) return;
    socket.send(reply, rinfo.port, rinfo.address, (err) => {
      if (err) opts.log.warn('udp reply failed', { port: opts.port, to: rinfo.address, err });
    });
  });
  socket.on('error', (err) => opts.log.error('udp listener failed', { port: opts.port, err }));
  return { close: () => new Promise((resolve) => socket.close(() => resolve())) };
}
