// A stand-in for the node agent's CNI socket, for chained-mode tests and benches: the real socket server
// (serveHandoff) with the facts (and optionally the in-process CNI run) the caller gives, and an agent that is
// always ready and programs nothing.
import type { Server } from 'node:net';
import { createNullLogger } from '../../util/log.js';
import { type HandoffHandlers, serveHandoff } from '../cni-socket.js';

export function serveStandInAgent(
  path: string,
  handlers: Pick<HandoffHandlers, 'facts' | 'cni'>,
): Promise<Server> {
  return serveHandoff(
    path,
    {
      add: async () => '1',
      del: async () => {},
      status: () => ({ ready: true, revision: '1' }),
      ...handlers,
    },
    createNullLogger(),
  );
}
