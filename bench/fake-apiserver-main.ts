// A fake API server (src/datastore/testdata/fake-apiserver.ts) serving a cluster read from a JSON file, as its
// own process, so that bench/agent-sync.ts can run it inside the agent's netns (the agent reaches it on that
// netns's loopback) and the agent's memory is measured without it.
//
//   node --import tsx bench/fake-apiserver-main.ts OBJECTS.json KUBECONFIG_OUT
//
// OBJECTS.json: { "namespaces": [...], "nodes": [...], "pods": [...], "networkpolicies": [...] } (API objects).
// Prints "ready" once listening and the kubeconfig is written; runs until SIGTERM.
import { readFileSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import { FakeApiServer, type FakeResource, type Json } from '../src/datastore/testdata/fake-apiserver.js';

async function main(): Promise<void> {
  const [objectsFile, kubeconfigOut] = process.argv.slice(2);
  if (!objectsFile || !kubeconfigOut)
    throw new Error('usage: fake-apiserver-main.ts OBJECTS.json KUBECONFIG_OUT');
  const objects = JSON.parse(readFileSync(objectsFile, 'utf8')) as Record<FakeResource, Json[]>;
  // FAKE_APISERVER_TOKEN: require this bearer token (to exercise the client's token auth).
  const server = await FakeApiServer.create({ token: process.env.FAKE_APISERVER_TOKEN });
  for (const resource of ['namespaces', 'nodes', 'pods', 'networkpolicies'] as const) {
    for (const o of objects[resource] ?? []) server.add(resource, o);
  }
  const written = server.writeKubeconfig(dirname(kubeconfigOut));
  if (written !== kubeconfigOut) renameSync(written, kubeconfigOut);
  process.stdout.write('ready\n');
  await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
  await server.stop();
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
