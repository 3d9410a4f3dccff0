// Pod facts for chained-mode tests and benches: a pod the codesealer profile selects (injected, with its proxy
// container and a port annotation), and one it does not.
import type { PodFacts } from '../selection.js';

/** Selected: status annotation present, dport 8080, a `codesealer-core` container beside the app. */
export function injectedPod(name: string, namespace = 'shop'): PodFacts {
  return {
    namespace,
    name,
    labels: { app: name },
    annotations: { 'sidecar.codesealer.com/status': 'injected', 'codesealer.com/dport': '8080' },
    containers: [
      { name, ports: [{ containerPort: 8080, protocol: 'TCP' }] },
      { name: 'codesealer-core', ports: [] },
    ],
    initContainers: [],
  };
}

/** Not selected: no sidecar, no annotations. */
export function plainPod(name: string, namespace = 'shop'): PodFacts {
  return {
    namespace,
    name,
    labels: { app: name },
    annotations: {},
    containers: [{ name, ports: [] }],
    initContainers: [],
  };
}
