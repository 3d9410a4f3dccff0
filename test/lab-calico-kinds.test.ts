// `lab apply|delete` of GlobalNetworkPolicies and HostEndpoints in all three groups, on both kinds of lab: seed
// 003's objects as written (projectcalico.org/v3 policies, a crd.projectcalico.org/v1 HostEndpoint) and Palisade's
// own policy of the same name as one of them. The directory lab files each group's object apart (the same name in
// two groups is two objects), the lab on the real control plane applies them through the API server with the CRDs
// `lab up` installs and waits for every agent through a barrier per kind and group; `lab apply` returns only once
// every agent has programmed the change, and `lab delete` removes exactly what it names. The policies select no
// pod and the HostEndpoint is of no lab node, so the pods' reachability must stay the reference's.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { globalPolicyKey } from '../src/model/global-network-policy.js';
import { hostEndpointKey } from '../src/model/host-endpoint.js';
import { SEED_POLICY_NAMES, seedYaml } from '../src/model/testdata/seed-003-calico.js';
import { controlPlanes, createLab, type Lab } from './helpers/lab.js';
import { REPO } from './helpers/netns.js';

const OWN = `apiVersion: palisade.dev/v1
kind: GlobalNetworkPolicy
metadata: { name: drop-other-ingress }
spec: { order: 5, selector: "role == 'edge'", ingress: [{ action: Deny }] }
`;

/** Keys of the lab's GlobalNetworkPolicies and HostEndpoints, as its source of truth holds them. */
async function held(lab: Lab): Promise<{ gnp: string[]; hep: string[] }> {
  if (lab.controlPlane === 'dir') {
    const s = lab.snapshot();
    return {
      gnp: (s.globalPolicies ?? []).map(globalPolicyKey),
      hep: (s.hostEndpoints ?? []).map(hostEndpointKey),
    };
  }
  const groups = ['palisade.dev', 'crd.projectcalico.org', 'projectcalico.org'];
  const get = async (plural: string) => {
    const resources = groups.map((g) => `${plural}.${g}`).join(',');
    const out = await lab.palisade('lab', 'kubectl', 'get', resources, '-o', 'json');
    const items = (JSON.parse(out) as { items: { apiVersion: string; metadata: { name: string } }[] }).items;
    return items
      .filter((o) => o.metadata.name !== 'palisade-lab-barrier')
      .map((o) => ({ group: o.apiVersion.split('/')[0] as 'palisade.dev', name: o.metadata.name }));
  };
  return {
    gnp: (await get('globalnetworkpolicies')).map(globalPolicyKey).sort(),
    hep: (await get('hostendpoints')).map(hostEndpointKey).sort(),
  };
}

for (const controlPlane of controlPlanes()) {
  const lab = createLab(controlPlane === 'dir' ? 'pgk' : 'pgkk', { controlPlane });

  describe(`lab apply|delete of GlobalNetworkPolicy and HostEndpoint (${controlPlane})`, () => {
    before(async () => {
      await lab.up(2, join(REPO, 'examples', 'demo.yaml'));
    });
    after(async () => {
      await lab.down();
    });

    it("seed 003's objects as written, and a palisade.dev policy of the same name as one of them", async () => {
      await lab.applyText(`${seedYaml('elsewhere')}---\n${OWN}`);
      assert.deepEqual(await held(lab), {
        gnp: ['gnp:drop-other-ingress', ...SEED_POLICY_NAMES.map((n) => `gnp:projectcalico.org/${n}`).sort()],
        hep: ['hep:crd.projectcalico.org/elsewhere'],
      });
      await lab.agrees('policies selecting no pod', [['TCP', 80]]);
    });

    it('lab delete removes what it names, in its group only', async () => {
      const docs = seedYaml('elsewhere').split('---\n');
      await lab.applyText(`${docs[2]}---\n${docs[3]}`, 'delete'); // drop-other-ingress and the HostEndpoint
      assert.deepEqual(await held(lab), {
        gnp: [
          'gnp:drop-other-ingress',
          'gnp:projectcalico.org/allow-cluster-internal-ingress',
          'gnp:projectcalico.org/allow-outbound-external',
        ],
        hep: [],
      });
      await lab.applyText(OWN, 'delete');
      assert.deepEqual((await held(lab)).gnp, [
        'gnp:projectcalico.org/allow-cluster-internal-ingress',
        'gnp:projectcalico.org/allow-outbound-external',
      ]);
    });
  });
}
