// A private CA and certificates made with openssl for the TLS tests, in a temp dir; plus a second CA that
// nobody trusts, for the certificate Redis should not be serving.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface KeyPair {
  cert: string;
  key: string;
}

export interface Certificates {
  dir: string;
  /** The CA file to trust. */
  ca: string;
  /** Redis' certificate, for the name `redis.test` only (not 127.0.0.1): connecting needs server_name. */
  server: KeyPair;
  /** A client certificate the CA signed, for a Redis that asks for one. */
  client: KeyPair;
  /** A certificate for `redis.test` from another CA. */
  stranger: KeyPair;
  /** PEM text of a file. */
  read(file: string): string;
  remove(): void;
}

export const SERVER_NAME = 'redis.test';

export function makeCertificates(): Certificates {
  const dir = mkdtempSync(join(tmpdir(), 'selfhost-tls-'));
  const at = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

  const ca = (name: string) => openssl('req', '-x509', ...ec, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`);
  const sign = (name: string, by: string, extensions: string): KeyPair => {
    openssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    writeFileSync(at(`${name}.ext`), extensions);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${by}.crt`, '-CAkey', `${by}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`);
    return { cert: at(`${name}.crt`), key: at(`${name}.key`) };
  };
  ca('test-ca');
  ca('other-ca');
  const serverExt = `subjectAltName=DNS:${SERVER_NAME}\nextendedKeyUsage=serverAuth\n`;
  return {
    dir,
    ca: at('test-ca.crt'),
    server: sign('server', 'test-ca', serverExt),
    client: sign('client', 'test-ca', 'extendedKeyUsage=clientAuth\n'),
    stranger: sign('stranger', 'other-ca', serverExt),
    read: (file) => readFileSync(file, 'utf8'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
