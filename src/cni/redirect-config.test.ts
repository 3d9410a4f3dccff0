// Chained redirect mode's configuration: defaults, overrides, and every problem named at once.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CODESEALER_PROFILE } from '../chained/profile.js';
import { CniCode, CniError } from './errors.js';
import { isRedirectConf, parseRedirectConf } from './redirect-config.js';

const base = {
  cniVersion: '1.0.0',
  name: 'k8s-pod-network',
  type: 'palisade-cni',
  mode: 'redirect',
  prevResult: { cniVersion: '1.0.0', interfaces: [], ips: [] },
};

function problems(raw: Record<string, unknown>, verb: 'ADD' | 'DEL' = 'ADD'): string {
  try {
    parseRedirectConf(raw, verb);
  } catch (err) {
    assert.ok(err instanceof CniError);
    assert.equal(err.code, CniCode.InvalidNetworkConfig);
    return err.message;
  }
  throw new Error('no problem reported');
}

describe('parseRedirectConf', () => {
  it('fills in the defaults: codesealer profile, port 15006, uid 1337, kube-system excluded, the agent socket', () => {
    const c = parseRedirectConf(base, 'ADD');
    assert.equal(isRedirectConf(base), true);
    assert.deepEqual(c.profile, CODESEALER_PROFILE);
    assert.equal(c.proxyPort, 15006);
    assert.equal(c.proxyUid, 1337);
    assert.equal(c.proxyGid, undefined);
    assert.deepEqual(c.excludeNamespaces, ['kube-system']);
    assert.equal(c.agentSocket, '/run/palisade/cni.sock');
    assert.equal(c.outbound, undefined);
    assert.deepEqual(c.prevResult, base.prevResult);
  });
  it('takes overrides: a profile key, the proxy by mark only, outbound capture with its defaults', () => {
    const c = parseRedirectConf(
      {
        ...base,
        redirect: { proxyContainer: 'envoy' },
        proxyPort: 8443,
        proxyMark: 1337,
        excludeNamespaces: ['kube-system', 'codesealer-system'],
        outbound: { excludePorts: [22] },
        kubeconfig: '/etc/cni/net.d/palisade-kubeconfig',
      },
      'ADD',
    );
    assert.equal(c.profile.proxyContainer, 'envoy');
    assert.equal(c.profile.namespaceLabel, CODESEALER_PROFILE.namespaceLabel);
    assert.equal(c.proxyUid, undefined, 'no default uid once the proxy is named some other way');
    assert.equal(c.proxyMark, 1337);
    assert.deepEqual(c.outbound, {
      proxyPort: 15001,
      includeCidrs: ['0.0.0.0/0', '::/0'],
      excludeCidrs: [],
      excludePorts: [22],
    });
    assert.equal(c.kubeconfig, '/etc/cni/net.d/palisade-kubeconfig');
  });
  it('reports every problem at once, each with its field and value', () => {
    const msg = problems({
      ...base,
      proxyPort: 70000,
      proxyUid: -1,
      excludeNamespaces: 'kube-system',
      agentSocket: 'relative.sock',
      redirect: { profile: 'nope' },
      outbound: { proxyPort: 0, excludePorts: ['ssh'] },
      kubeconfig: 3,
    });
    for (const want of [
      'proxyPort: 70000 must be a port',
      'proxyUid: -1 must be an integer',
      'excludeNamespaces: "kube-system" must be a list',
      'agentSocket: "relative.sock" must be an absolute path',
      'redirect.profile: "nope"',
      'outbound.proxyPort: 0 must be a port',
      'outbound.excludePorts: ["ssh"]',
      'kubeconfig: 3 must be an absolute path',
    ]) {
      assert.ok(msg.includes(want), `${want} in: ${msg}`);
    }
  });
  it('needs prevResult for ADD and CHECK (it is chained), not for DEL', () => {
    const { prevResult: _, ...alone } = base;
    assert.match(problems(alone, 'ADD'), /prevResult: missing: redirect mode is a chained plugin/);
    assert.equal(parseRedirectConf(alone, 'DEL').prevResult, undefined);
  });
  it('other modes are not redirect mode', () => {
    assert.equal(isRedirectConf({ ...base, mode: 'routed' }), false);
    assert.equal(isRedirectConf({ cniVersion: '1.0.0' }), false);
  });
});
