// Run by kube.test.ts as a process of its own: stops the kubernetes datastore in three states and then just
// ends. If anything it started were left (a timer, a socket, a watch), the process would not exit.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNullLogger } from '../../util/log.js';
import { createKubeDatastore } from '../kube.js';
import type { Datastore } from '../types.js';
import { FakeApiServer } from './fake-apiserver.js';
import { eventually, makeNamespace } from './kube-testkit.js';

const dir = mkdtempSync(join(tmpdir(), 'palisade-kube-stop-'));
const server = await FakeApiServer.create();
server.add('namespaces', makeNamespace('default'));
const kubeConfig = server.writeKubeconfig(dir);
// Long timers: one left running would keep this process alive well past the test's deadline.
const datastore = (): Datastore =>
  createKubeDatastore({
    kubeConfig,
    log: createNullLogger(),
    resyncMs: 60_000,
    backoff: { initialMs: 60_000, maxMs: 60_000 },
  });
const noWatches = () =>
  eventually(() => {
    if (server.watchCount() !== 0) throw new Error(`${server.watchCount()} watches still open`);
  }, 2000);

const synced = datastore();
await synced.start(() => {});
await eventually(() => {
  if (!synced.snapshot().synced || server.watchCount() !== 4) throw new Error('not synced');
});
await synced.stop();
await noWatches();
console.log('stopped while synced');

server.delayLists(300);
const listing = datastore();
const starting = listing.start(() => {});
await eventually(() => {
  if (server.requests.filter((r) => r.verb === 'list').length < 8) throw new Error('not listing yet');
});
await listing.stop();
await starting;
await noWatches(); // client-node's ListWatch would open them once its list returned
console.log('stopped while listing');

server.delayLists(0);
await server.stop();
const backingOff = datastore();
await backingOff.start(() => {}); // every list fails: restarts are scheduled 1s on
await backingOff.stop();
console.log('stopped while backing off');

rmSync(dir, { recursive: true, force: true });
