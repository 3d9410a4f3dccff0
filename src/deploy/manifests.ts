// The install manifests (`palisade manifests`): Namespace, ServiceAccount, a least-privilege ClusterRole and its
// binding, the ConfigMap with the CNI entry, and the DaemonSet (install-cni and agent containers). Pure: values
// in, plain objects out; the CLI prints them as YAML. The CRDs come first (crds.ts), GlobalNetworkPolicy and
// HostEndpoint in palisade.dev and each of Calico's groups in `calicoGroups`; the agent reads both kinds in every
// group served (and is told which when that is not the default). The host endpoint controller (off by default) gets its agent flags and exactly the writes
// it needs: Palisade's own HostEndpoints (the Node it reads is read already).

import { CALICO_GROUPS, type CalicoGroup, parseCalicoGroups, servedGroups } from '../model/calico-groups.js';
import { CLUSTER_NETWORK_POLICY_GROUP } from '../model/cluster-network-policy-parse.js';
import { labelsProblems } from '../model/k8s.js';
import { WIREGUARD_ANNOTATION } from '../model/wireguard.js';
import { renderCrds } from './crds.js';

export type InstallMode = 'main' | 'chained';

export interface Values {
  readonly mode: InstallMode;
  readonly namespace: string;
  readonly image: string;
  readonly imagePullPolicy: 'Always' | 'IfNotPresent' | 'Never';
  /** Chained: the primary CNI's config file (else the lexically first in /etc/cni/net.d). */
  readonly cniConfName?: string;
  /** Chained: namespaces whose pods are never redirected. */
  readonly excludeNamespaces: readonly string[];
  readonly proxyPort: number;
  readonly proxyUid: number;
  /** Where the host keeps CNI binaries and configs. */
  readonly cniBinDir: string;
  readonly cniNetDir: string;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** Chained: the repair controller for pods that started before the plugin was installed. */
  readonly repair: 'off' | 'label' | 'delete';
  /**
   * Calico's groups GlobalNetworkPolicy and HostEndpoint are served under besides palisade.dev (CRDs, the agent's
   * read access and what it watches). None where Calico is installed: its CRDs own those groups.
   */
  readonly calicoGroups: readonly CalicoGroup[];
  /** The host endpoint controller: a HostEndpoint (palisade.dev) per node, covering all its interfaces. */
  readonly hostEndpointController: boolean;
  /** Labels the controller puts on the HostEndpoints it makes (what GlobalNetworkPolicy selectors match). */
  readonly hostEndpointLabels: Readonly<Record<string, string>>;
  /**
   * Encryption between nodes (issue 12). WireGuard: the agents publish their key on their Node, so they may
   * patch Nodes, and a ValidatingAdmissionPolicy lets that patch change nothing but the key's annotation (and,
   * with a token bound to a Node, only that Node). IPsec: the pre-shared key comes from the Secret
   * IPSEC_SECRET (key `psk`) in the namespace, mounted into the agent; no API write.
   */
  readonly encryption: 'off' | 'wireguard' | 'ipsec';
}

export const DEFAULT_VALUES: Values = {
  mode: 'main',
  namespace: 'palisade-system',
  // What `make image` builds and tags (image/build.sh takes the tag from here; docs/image.md).
  image: 'localhost/palisade:0.1.0',
  imagePullPolicy: 'IfNotPresent',
  excludeNamespaces: ['kube-system'],
  proxyPort: 15006,
  proxyUid: 1337,
  cniBinDir: '/opt/cni/bin',
  cniNetDir: '/etc/cni/net.d',
  logLevel: 'info',
  repair: 'off',
  calicoGroups: CALICO_GROUPS,
  hostEndpointController: false,
  hostEndpointLabels: {},
  encryption: 'off',
};

/** The agents' ServiceAccount (in the values' namespace), bound to the ClusterRole of the same name. */
export const SERVICE_ACCOUNT = 'palisade';

const KEYS = Object.keys(DEFAULT_VALUES).concat('cniConfName');

/** Values from a decoded values file over the defaults; every problem names the key and the value. */
export function parseValues(raw: unknown, source = 'values'): Values | { errors: string[] } {
  if (raw === undefined || raw === null) return DEFAULT_VALUES;
  if (typeof raw !== 'object' || Array.isArray(raw)) return { errors: [`${source}: must be a mapping`] };
  const v = raw as Record<string, unknown>;
  const errors: string[] = [];
  for (const k of Object.keys(v)) {
    if (!KEYS.includes(k)) errors.push(`${source}: ${k}: unknown key (known: ${KEYS.join(', ')})`);
  }
  const str = (k: string, re: RegExp, what: string) => {
    if (v[k] === undefined) return;
    if (typeof v[k] !== 'string' || !re.test(v[k] as string))
      errors.push(`${source}: ${k}: ${JSON.stringify(v[k])} must be ${what}`);
  };
  const oneOf = (k: string, values: readonly string[]) => {
    if (v[k] !== undefined && !values.includes(v[k] as string))
      errors.push(`${source}: ${k}: ${JSON.stringify(v[k])} must be one of ${values.join(', ')}`);
  };
  oneOf('mode', ['main', 'chained']);
  oneOf('imagePullPolicy', ['Always', 'IfNotPresent', 'Never']);
  oneOf('logLevel', ['debug', 'info', 'warn', 'error']);
  oneOf('repair', ['off', 'label', 'delete']);
  oneOf('encryption', ['off', 'wireguard', 'ipsec']);
  str('namespace', /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'a namespace name');
  str('image', /^\S+$/, 'an image reference');
  str('cniConfName', /^[^/]+\.(conf|conflist|json)$/, 'a .conf or .conflist file name');
  str('cniBinDir', /^\//, 'an absolute path');
  str('cniNetDir', /^\//, 'an absolute path');
  for (const k of ['proxyPort', 'proxyUid']) {
    const n = v[k];
    const max = k === 'proxyPort' ? 65535 : 2 ** 32 - 1;
    if (
      n !== undefined &&
      (typeof n !== 'number' || !Number.isInteger(n) || n < (k === 'proxyPort' ? 1 : 0) || n > max)
    )
      errors.push(`${source}: ${k}: ${JSON.stringify(n)} must be an integer up to ${max}`);
  }
  const ex = v.excludeNamespaces;
  if (ex !== undefined && (!Array.isArray(ex) || !ex.every((x) => typeof x === 'string')))
    errors.push(`${source}: excludeNamespaces: ${JSON.stringify(ex)} must be a list of namespace names`);
  errors.push(...hostEndpointProblems(v, source));
  const groups =
    v.calicoGroups === undefined ? undefined : parseCalicoGroups(v.calicoGroups, `${source}: calicoGroups`);
  if (groups && 'errors' in groups) errors.push(...groups.errors);
  if (errors.length > 0) return { errors };
  return {
    ...DEFAULT_VALUES,
    ...(v as Partial<Values>),
    ...(groups && 'groups' in groups ? { calicoGroups: groups.groups } : {}),
  };
}

function hostEndpointProblems(v: Record<string, unknown>, source: string): string[] {
  const errors: string[] = [];
  const on = v.hostEndpointController;
  if (on !== undefined && typeof on !== 'boolean')
    errors.push(`${source}: hostEndpointController: ${JSON.stringify(on)} must be true or false`);
  const labels = v.hostEndpointLabels;
  if (labels === undefined) return errors;
  if (labels === null) return [...errors, `${source}: hostEndpointLabels: must be a map of labels`];
  errors.push(...labelsProblems(labels, `${source}: hostEndpointLabels`));
  if (on !== true && labels !== null && typeof labels === 'object' && Object.keys(labels).length > 0)
    errors.push(`${source}: hostEndpointLabels: given without hostEndpointController: true`);
  return errors;
}

type Obj = Record<string, unknown>;

const labels = { 'app.kubernetes.io/name': 'palisade', 'app.kubernetes.io/component': 'node' };

/** The CNI entry install-cni writes (chained: appended to the primary CNI's config). */
export function cniEntry(v: Values): Obj {
  if (v.mode === 'chained') {
    return {
      type: 'palisade-cni',
      mode: 'redirect',
      excludeNamespaces: [...new Set([...v.excludeNamespaces, v.namespace])],
      proxyPort: v.proxyPort,
      proxyUid: v.proxyUid,
      agentSocket: '/run/palisade/cni.sock',
      kubeconfig: '__KUBECONFIG_FILEPATH__',
    };
  }
  return {
    type: 'palisade-cni',
    agentSocket: '/run/palisade/cni.sock',
    ipam: { type: 'palisade', subnet: '__POD_CIDR__', dataDir: '/var/lib/cni/palisade' },
  };
}

function clusterRole(v: Values): Obj {
  // The repair controller labels or deletes pods, and gets that verb only when it is on.
  const repairVerbs =
    v.mode === 'chained' && v.repair !== 'off' ? [v.repair === 'label' ? 'patch' : 'delete'] : [];
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: 'palisade', labels },
    rules: [
      // What the agent watches (its datastore) and what the CNI's API fallback reads.
      { apiGroups: [''], resources: ['pods', 'namespaces', 'nodes'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'], verbs: ['get', 'list', 'watch'] },
      {
        apiGroups: [CLUSTER_NETWORK_POLICY_GROUP],
        resources: ['clusternetworkpolicies'],
        verbs: ['get', 'list', 'watch'],
      },
      {
        apiGroups: servedGroups(v.calicoGroups),
        resources: ['globalnetworkpolicies', 'hostendpoints'],
        verbs: ['get', 'list', 'watch'],
      },
      // Each ClusterNetworkPolicy's conditions: accepted, failing closed, parts not programmed.
      {
        apiGroups: [CLUSTER_NETWORK_POLICY_GROUP],
        resources: ['clusternetworkpolicies/status'],
        verbs: ['update', 'patch'],
      },
      // GlobalNetworkPolicy and HostEndpoint conditions (src/agent/host-report.ts), in every group read.
      {
        apiGroups: servedGroups(v.calicoGroups),
        resources: ['globalnetworkpolicies/status', 'hostendpoints/status'],
        verbs: ['update', 'patch'],
      },
      // Warning events: policies that fail closed (NetworkPolicies, ClusterNetworkPolicies, GlobalNetworkPolicies),
      // and host policy (HostEndpoints rejected or not programmed, interfaces not found, lockout refusals).
      { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
      ...(repairVerbs.length > 0 ? [{ apiGroups: [''], resources: ['pods'], verbs: repairVerbs }] : []),
      // The host endpoint controller keeps one HostEndpoint of Palisade's own group per node (reading the Node,
      // which the first rule grants already).
      ...(v.hostEndpointController
        ? [
            {
              apiGroups: ['palisade.dev'],
              resources: ['hostendpoints'],
              verbs: ['create', 'patch'],
            },
          ]
        : []),
      // Encryption: the agent publishes its public key on its Node (nodeAnnotationPolicy narrows this patch).
      ...(v.encryption === 'wireguard' ? [{ apiGroups: [''], resources: ['nodes'], verbs: ['patch'] }] : []),
    ],
  };
}

/** The Secret holding IPsec's pre-shared key (key `psk`), made by the cluster's admin. */
export const IPSEC_SECRET = 'palisade-ipsec';

/** The name of the admission policy (and its binding) that narrows the agents' Node patches. */
export const NODE_ANNOTATION_POLICY = 'palisade-node-annotation';

/**
 * RBAC cannot say "only this annotation" or "only your own Node": a ValidatingAdmissionPolicy on the agents'
 * ServiceAccount does. Its updates of a Node may change the WireGuard annotation and nothing else of the
 * object (status is the nodes/status subresource, which it cannot write at all); with a token bound to a Node
 * (or to a pod on one), only that Node's.
 */
function nodeAnnotationPolicy(v: Values): Obj[] {
  if (v.encryption !== 'wireguard') return [];
  const others = (o: string) =>
    `(has(${o}.metadata.annotations) ? ${o}.metadata.annotations : {}).filter(k, k != '${WIREGUARD_ANNOTATION}')`;
  const map = (o: string, f: string) => `(has(${o}.metadata.${f}) ? ${o}.metadata.${f} : {})`;
  const list = (o: string, f: string) => `(has(${o}.metadata.${f}) ? ${o}.metadata.${f} : [])`;
  const nodeName = "request.userInfo.extra['authentication.kubernetes.io/node-name']";
  return [
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name: NODE_ANNOTATION_POLICY, labels },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: {
          resourceRules: [
            { apiGroups: [''], apiVersions: ['v1'], operations: ['UPDATE'], resources: ['nodes'] },
          ],
        },
        matchConditions: [
          {
            name: 'palisade-agent',
            expression: `request.userInfo.username == 'system:serviceaccount:${v.namespace}:${SERVICE_ACCOUNT}'`,
          },
        ],
        validations: [
          {
            expression: `object.spec == oldObject.spec && ${map('object', 'labels')} == ${map('oldObject', 'labels')} && ${list('object', 'finalizers')} == ${list('oldObject', 'finalizers')} && ${list('object', 'ownerReferences')} == ${list('oldObject', 'ownerReferences')}`,
            message: `the palisade agent may change only the ${WIREGUARD_ANNOTATION} annotation of a Node`,
          },
          {
            expression: `${others('object')}.all(k, k in ${map('oldObject', 'annotations')} && ${map('oldObject', 'annotations')}[k] == object.metadata.annotations[k]) && ${others('oldObject')}.all(k, k in ${map('object', 'annotations')})`,
            message: `the palisade agent may change only the ${WIREGUARD_ANNOTATION} annotation of a Node`,
          },
          {
            expression: `!('authentication.kubernetes.io/node-name' in request.userInfo.extra) || ${nodeName}.all(n, n == object.metadata.name)`,
            messageExpression: `'the palisade agent of node ' + ${nodeName}[0] + ' may not change Node ' + object.metadata.name`,
          },
        ],
      },
    },
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name: NODE_ANNOTATION_POLICY, labels },
      spec: { policyName: NODE_ANNOTATION_POLICY, validationActions: ['Deny'] },
    },
  ];
}

function encryptionArgs(v: Values): string[] {
  return v.encryption === 'off' ? [] : ['--encryption', v.encryption];
}

/** Which of Calico's groups the agent watches, when not its default (the same as ours: CALICO_GROUPS). */
function calicoGroupArgs(v: Values): string[] {
  const same =
    v.calicoGroups.length === CALICO_GROUPS.length && CALICO_GROUPS.every((g) => v.calicoGroups.includes(g));
  return same ? [] : ['--calico-groups', v.calicoGroups.length === 0 ? 'none' : v.calicoGroups.join(',')];
}

function hostEndpointArgs(v: Values): string[] {
  if (!v.hostEndpointController) return [];
  const labels = Object.entries(v.hostEndpointLabels).flatMap(([k, val]) => [
    '--host-endpoint-label',
    `${k}=${val}`,
  ]);
  return ['--auto-host-endpoints', ...labels];
}

function hostPath(name: string, path: string, type: string): Obj {
  return { name, hostPath: { path, type } };
}

function daemonSet(v: Values): Obj {
  const env = (name: string, value: string) => ({ name, value });
  const common = { image: v.image, imagePullPolicy: v.imagePullPolicy };
  const installCni = {
    name: 'install-cni',
    ...common,
    command: ['palisade', 'install-cni'],
    env: [
      env('PALISADE_CNI_MODE', v.mode),
      env('CNI_BIN_DIR', '/host/opt/cni/bin'),
      env('CNI_NET_DIR', '/host/etc/cni/net.d'),
      env('HOST_CNI_NET_DIR', v.cniNetDir),
      env('PALISADE_INSTALL_LISTEN', '127.0.0.1:9098'),
      env('PALISADE_LOG_LEVEL', v.logLevel),
      ...(v.cniConfName ? [env('CNI_CONF_NAME', v.cniConfName)] : []),
      {
        name: 'CNI_NETWORK_CONFIG',
        valueFrom: { configMapKeyRef: { name: 'palisade-config', key: 'cni_network_config' } },
      },
      { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
    ],
    readinessProbe: {
      httpGet: { host: '127.0.0.1', path: '/readyz', port: 9098 },
      periodSeconds: 5,
    },
    securityContext: {
      // Writes root-owned files under the host's CNI dirs: root, and nothing else.
      runAsUser: 0,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    },
    resources: { requests: { cpu: '10m', memory: '64Mi' }, limits: { memory: '128Mi' } },
    volumeMounts: [
      { name: 'cni-bin', mountPath: '/host/opt/cni/bin' },
      { name: 'cni-net', mountPath: '/host/etc/cni/net.d' },
    ],
  };
  const agent = {
    name: 'agent',
    ...common,
    command: [
      'palisade',
      'agent',
      '--node',
      '$(NODE_NAME)',
      '--datastore',
      'kubernetes',
      '--ipam-dir',
      '/var/lib/cni/palisade',
      '--cni-socket',
      '/run/palisade/cni.sock',
      '--listen',
      '127.0.0.1:9099',
      '--log-level',
      v.logLevel,
      ...(v.mode === 'chained' && v.repair !== 'off'
        ? ['--repair', v.repair, '--redirect-config', '$(CNI_NETWORK_CONFIG)']
        : []),
      ...calicoGroupArgs(v),
      ...hostEndpointArgs(v),
      ...encryptionArgs(v),
    ],
    env: [
      { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
      {
        name: 'CNI_NETWORK_CONFIG',
        valueFrom: { configMapKeyRef: { name: 'palisade-config', key: 'cni_network_config' } },
      },
      // glibc's per-thread malloc arenas cost the agent ~10 MB of RSS for nothing.
      env('MALLOC_ARENA_MAX', '2'),
    ],
    livenessProbe: { httpGet: { host: '127.0.0.1', path: '/healthz', port: 9099 }, periodSeconds: 10 },
    readinessProbe: { httpGet: { host: '127.0.0.1', path: '/readyz', port: 9099 }, periodSeconds: 5 },
    securityContext: {
      // nftables and conntrack in the host's netns (NET_ADMIN), raw sockets for conntrack (NET_RAW), and entering
      // pods' network namespaces for CNI invocations it runs (SYS_ADMIN for setns).
      runAsUser: 0,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'], add: ['NET_ADMIN', 'NET_RAW', 'SYS_ADMIN'] },
    },
    resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } },
    volumeMounts: [
      { name: 'run-palisade', mountPath: '/run/palisade' },
      { name: 'ipam', mountPath: '/var/lib/cni/palisade' },
      { name: 'netns', mountPath: '/var/run/netns', mountPropagation: 'HostToContainer' },
      // The node's WireGuard key (kept across agent restarts) or charon's state, the TUN device wireguard-go and
      // kernel-libipsec need where the kernel has neither, and IPsec's pre-shared key.
      ...(v.encryption !== 'off'
        ? [
            { name: 'palisade-state', mountPath: '/var/lib/palisade' },
            { name: 'dev-tun', mountPath: '/dev/net/tun' },
          ]
        : []),
      ...(v.encryption === 'ipsec'
        ? [{ name: 'ipsec-psk', mountPath: '/etc/palisade/ipsec', readOnly: true }]
        : []),
    ],
  };
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'palisade-node', namespace: v.namespace, labels },
    spec: {
      selector: { matchLabels: { 'app.kubernetes.io/name': 'palisade' } },
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
      template: {
        metadata: { labels },
        spec: {
          serviceAccountName: SERVICE_ACCOUNT,
          hostNetwork: true,
          dnsPolicy: 'ClusterFirstWithHostNet',
          priorityClassName: 'system-node-critical',
          // Every node, whatever its taints: a node without its CNI runs no pods.
          tolerations: [{ operator: 'Exists' }],
          terminationGracePeriodSeconds: 30,
          containers: [installCni, agent],
          volumes: [
            hostPath('cni-bin', v.cniBinDir, 'DirectoryOrCreate'),
            hostPath('cni-net', v.cniNetDir, 'DirectoryOrCreate'),
            hostPath('run-palisade', '/run/palisade', 'DirectoryOrCreate'),
            hostPath('ipam', '/var/lib/cni/palisade', 'DirectoryOrCreate'),
            hostPath('netns', '/var/run/netns', 'DirectoryOrCreate'),
            ...(v.encryption !== 'off'
              ? [
                  hostPath('palisade-state', '/var/lib/palisade', 'DirectoryOrCreate'),
                  hostPath('dev-tun', '/dev/net/tun', 'CharDevice'),
                ]
              : []),
            ...(v.encryption === 'ipsec'
              ? [
                  {
                    name: 'ipsec-psk',
                    // defaultMode 0400: only the agent (root) reads it.
                    secret: {
                      secretName: IPSEC_SECRET,
                      items: [{ key: 'psk', path: 'psk' }],
                      defaultMode: 0o400,
                    },
                  },
                ]
              : []),
          ],
        },
      },
    },
  };
}

/** Every object of the install, in apply order. */
export function renderManifests(v: Values): Obj[] {
  return [
    ...renderCrds({ calicoGroups: v.calicoGroups }),
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: v.namespace, labels } },
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: SERVICE_ACCOUNT, namespace: v.namespace, labels },
    },
    clusterRole(v),
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'palisade', labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'palisade' },
      subjects: [{ kind: 'ServiceAccount', name: SERVICE_ACCOUNT, namespace: v.namespace }],
    },
    ...nodeAnnotationPolicy(v),
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'palisade-config', namespace: v.namespace, labels },
      data: { cni_network_config: JSON.stringify(cniEntry(v), null, 2) },
    },
    daemonSet(v),
  ];
}
