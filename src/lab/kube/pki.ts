// The lab cluster's PKI, made with the openssl CLI: a CA, the API server's serving certificate, the service
// account signing key pair, and one client certificate per identity (Kubernetes reads the user from the CN and
// the groups from O). EC P-256 keys: each certificate takes a few milliseconds.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Runner } from '../../dataplane/runner.js';

/** A client identity: CN is the user, O the groups. */
export interface ClientIdentity {
  /** File stem of its certificate and key. */
  readonly file: string;
  readonly user: string;
  readonly groups: readonly string[];
}

export interface PkiPaths {
  readonly dir: string;
  readonly caCert: string;
  readonly caKey: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly saKey: string;
  readonly saPub: string;
  client(file: string): { cert: string; key: string };
}

export function pkiPaths(dir: string): PkiPaths {
  return {
    dir,
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    serverCert: join(dir, 'apiserver.crt'),
    serverKey: join(dir, 'apiserver.key'),
    saKey: join(dir, 'sa.key'),
    saPub: join(dir, 'sa.pub'),
    client: (file) => ({ cert: join(dir, `${file}.crt`), key: join(dir, `${file}.key`) }),
  };
}

// Extension sections, chosen per certificate with -extensions. SAN comes from the environment.
const OPENSSL_CONFIG = `[req]
distinguished_name = dn
prompt = no
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = $ENV::PALISADE_SAN
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
`;

/** openssl -subj of a client identity: /O=group/.../CN=user (slashes and commas in names are refused). */
export function clientSubject(id: ClientIdentity): string {
  for (const part of [id.user, ...id.groups]) {
    if (!/^[A-Za-z0-9:._-]+$/.test(part))
      throw new Error(`pki: identity part "${part}" has unsafe characters`);
  }
  return `${id.groups.map((g) => `/O=${g}`).join('')}/CN=${id.user}`;
}

export async function createPki(
  runner: Runner,
  dir: string,
  opts: { serverNames: readonly string[]; serverIPs: readonly string[]; clients: readonly ClientIdentity[] },
): Promise<PkiPaths> {
  const p = pkiPaths(dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const config = join(dir, 'openssl.cnf');
  writeFileSync(config, OPENSSL_CONFIG);
  const san = [...opts.serverNames.map((n) => `DNS:${n}`), ...opts.serverIPs.map((ip) => `IP:${ip}`)].join(
    ',',
  );
  const env = { ...process.env, PALISADE_SAN: san || 'DNS:localhost' };
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const x509 = (extensions: string, subject: string, cert: string, key: string, signed: boolean) =>
    runner.run(
      [
        'openssl',
        'req',
        '-x509',
        '-config',
        config,
        '-extensions',
        extensions,
        ...newKey,
        '-keyout',
        key,
        '-out',
        cert,
        '-subj',
        subject,
        '-days',
        '3650',
        ...(signed ? ['-CA', p.caCert, '-CAkey', p.caKey] : []),
      ],
      { env },
    );
  await x509('ca', '/CN=palisade-lab-ca', p.caCert, p.caKey, false);
  await x509('server', '/CN=kube-apiserver', p.serverCert, p.serverKey, true);
  for (const id of opts.clients) {
    const c = p.client(id.file);
    await x509('client', clientSubject(id), c.cert, c.key, true);
  }
  await runner.run(['openssl', 'ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', p.saKey]);
  await runner.run(['openssl', 'ec', '-in', p.saKey, '-pubout', '-out', p.saPub]);
  return p;
}
