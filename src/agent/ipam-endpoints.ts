// Local endpoints from the node's IPAM records: what a restarted agent knows before any CNI hand-off.
import { hostVethName } from '../dataplane/veth-name.js';
import { createFileStore } from '../ipam/file-store.js';
import type { LocalEndpoint } from './endpoints.js';

export async function endpointsFromIpam(opts: {
  dataDir: string;
  network: string;
}): Promise<LocalEndpoint[]> {
  const { records } = await createFileStore(opts).scan();
  const byOwner = new Map<string, LocalEndpoint>();
  for (const r of records) {
    const key = `${r.containerID}/${r.ifname}`;
    const prev = byOwner.get(key);
    byOwner.set(key, {
      containerID: r.containerID,
      ifname: r.ifname,
      interface: hostVethName(r.containerID, r.ifname),
      ips: [...(prev?.ips ?? []), r.ip],
    });
  }
  return [...byOwner.values()];
}
