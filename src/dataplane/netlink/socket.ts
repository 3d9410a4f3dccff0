// A netlink socket of palisade-native.node with its sequence numbers, for the kernel interfaces the agent talks
// to in-process (route-netlink for pod wiring, ctnetlink for conntrack). Every exchange runs on a worker thread;
// one exchange per socket at a time (its callers keep to that: an answer read by another exchange is lost).
import { constants } from 'node:os';
import type { NativeAddon } from '../native.js';
import { answerError, type NlMessage, splitMessages } from './rtnl.js';

export class NetlinkError extends Error {
  override readonly name = 'NetlinkError';
  constructor(
    readonly what: string,
    readonly errno: number,
    kernelMessage?: string,
  ) {
    const name = Object.entries(constants.errno).find(([, v]) => v === errno)?.[0] ?? `errno ${errno}`;
    super(`${what}: ${name}${kernelMessage ? ` (${kernelMessage})` : ''}`);
  }
}

/** One request of a batch: what it does (for the error), its bytes, and errnos that count as success. */
export interface NetlinkRequest {
  readonly what: string;
  readonly build: (seq: number) => Buffer;
  readonly allow?: readonly number[];
}

/**
 * Messages around a batch that the kernel does not answer (nf_tables' batch begin and end), built with the first
 * and the last request's sequence numbers.
 */
export interface Framing {
  readonly begin: (seq: number) => Buffer;
  readonly end: (seq: number) => Buffer;
}

export class NetlinkSocket {
  private seq = 0;
  readonly fd: number;
  constructor(
    private readonly native: NativeAddon,
    netns: string | undefined,
    protocol?: number,
  ) {
    this.fd = native.netlinkOpen(netns, protocol);
  }

  /**
   * Several requests in one exchange (the kernel handles them in order and answers each): one worker-thread hop
   * instead of one per request. Each request's answers, in order; the first error not in its `allow` throws.
   */
  async batch(items: readonly NetlinkRequest[], framing?: Framing): Promise<NlMessage[][]> {
    const first = (this.seq + 1) >>> 0;
    const bufs = items.map((item) => {
      this.seq = (this.seq + 1) >>> 0;
      return item.build(this.seq);
    });
    if (framing) {
      bufs.unshift(framing.begin(first));
      bufs.push(framing.end(this.seq));
    }
    const all = splitMessages(
      await this.native.netlinkExchangeAsync(this.fd, Buffer.concat(bufs), items.length),
    );
    const answers = items.map((_, k) => all.filter((m) => m.seq === (first + k) >>> 0));
    for (const [k, item] of items.entries()) {
      const err = answerError(answers[k]!);
      if (err && err.errno !== 0 && !item.allow?.includes(err.errno))
        throw new NetlinkError(item.what, err.errno, err.message);
    }
    return answers;
  }

  /** One request; the kernel's answer to it (a dump's every message). An error answer throws NetlinkError. */
  async request(what: string, build: (seq: number) => Buffer): Promise<NlMessage[]> {
    return (await this.batch([{ what, build }]))[0]!;
  }

  close(): void {
    this.native.netlinkClose(this.fd);
  }
}

/** Runs `fn` with a socket in `netns`, closed after. */
export async function withSocket<T>(
  native: NativeAddon,
  netns: string | undefined,
  fn: (s: NetlinkSocket) => Promise<T>,
): Promise<T> {
  const s = new NetlinkSocket(native, netns);
  try {
    return await fn(s);
  } finally {
    s.close();
  }
}
