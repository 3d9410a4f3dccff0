// `palisade agent`'s argument checks that run before anything starts (each a UsageError naming the flag).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runAgentCommand } from './agent.js';
import { UsageError } from './usage.js';

const BASE = ['--node', 'node-a'];

describe('palisade agent: host endpoint flags', () => {
  const cases: { name: string; args: string[]; want: string }[] = [
    {
      name: '--auto-host-endpoints needs the kubernetes datastore',
      args: [...BASE, '--datastore', 'dir:/nonexistent', '--auto-host-endpoints'],
      want: '--auto-host-endpoints needs --datastore kubernetes (it creates the HostEndpoint through the API)',
    },
    {
      name: 'a label without the controller',
      args: [...BASE, '--datastore', 'kubernetes', '--host-endpoint-label', 'host-endpoint=ingress'],
      want: '--host-endpoint-label needs --auto-host-endpoints (it labels that HostEndpoint)',
    },
    {
      name: 'bad labels, every one named',
      args: [
        ...BASE,
        ...['--datastore', 'kubernetes', '--auto-host-endpoints'],
        ...['--host-endpoint-label', 'bad key!=x', '--host-endpoint-label', 'ok=bad value'],
      ],
      want:
        '--host-endpoint-label "bad key!=x": key "bad key!" is not a valid label key\n' +
        '--host-endpoint-label "ok=bad value": value "bad value" is not a valid label value',
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      await assert.rejects(runAgentCommand(c.args), (err: unknown) => {
        assert.ok(err instanceof UsageError);
        assert.equal(err.message, c.want);
        return true;
      });
    });
  }
});
