// Kubeconfig files for the lab's identities. JSON is YAML, so kubectl, client-go and client-node all read it.
// A token file is given as client-node's `tokenFile` auth provider, which re-reads the file every minute (as a
// pod's projected token is re-read): the agents' kubeconfigs use it. kubectl does not know that provider, so
// kubeconfigs for kubectl and the components use client certificates.

export type KubeCredentials =
  | { readonly clientCertificate: string; readonly clientKey: string }
  | { readonly tokenFile: string };

export function kubeconfig(opts: {
  server: string;
  caFile: string;
  user: string;
  credentials: KubeCredentials;
  namespace?: string;
}): Record<string, unknown> {
  const user =
    'tokenFile' in opts.credentials
      ? { 'auth-provider': { name: 'tokenFile', config: { tokenFile: opts.credentials.tokenFile } } }
      : {
          'client-certificate': opts.credentials.clientCertificate,
          'client-key': opts.credentials.clientKey,
        };
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'lab', cluster: { server: opts.server, 'certificate-authority': opts.caFile } }],
    users: [{ name: opts.user, user }],
    contexts: [
      {
        name: 'lab',
        context: {
          cluster: 'lab',
          user: opts.user,
          ...(opts.namespace ? { namespace: opts.namespace } : {}),
        },
      },
    ],
    'current-context': 'lab',
  };
}
