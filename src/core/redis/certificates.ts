// TLS errors that no reconnect will fix (a certificate refused, either way), said for the operator: what
// is wrong and which redis_tls key to set.
import { connect, type ConnectionOptions } from 'node:tls';

/** Node's codes for a certificate it refused, and what to do about each. */
const CERTIFICATE_CODES: Record<string, string> = {
  SELF_SIGNED_CERT_IN_CHAIN: 'is signed by a CA this process does not trust: set redis_tls.ca_file to that CA',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'is self-signed: set redis_tls.ca_file to it, or to the CA that should sign it',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'is signed by a CA this process does not trust: set redis_tls.ca_file to that CA',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'is signed by a CA this process does not trust: set redis_tls.ca_file to that CA',
  UNABLE_TO_GET_ISSUER_CERT: 'is signed by a CA this process does not trust: set redis_tls.ca_file to that CA',
  CERT_SIGNATURE_FAILURE: 'has a signature that does not verify',
  CERT_HAS_EXPIRED: 'has expired',
  CERT_NOT_YET_VALID: 'is not valid yet (check the clocks)',
  ERR_TLS_CERT_ALTNAME_INVALID: 'does not name the host connected to: set redis_tls.server_name to a name it carries',
};

/** Messages of the same problems, for errors that carry only a message (ioredis' Sentinel and Cluster errors wrap the TLS one). */
const CERTIFICATE_MESSAGES: [RegExp, string][] = [
  [/self[- ]signed certificate in certificate chain|unable to (get (local )?issuer certificate|verify the first certificate)/i, CERTIFICATE_CODES.SELF_SIGNED_CERT_IN_CHAIN],
  [/self[- ]signed certificate/i, CERTIFICATE_CODES.DEPTH_ZERO_SELF_SIGNED_CERT],
  [/certificate has expired/i, CERTIFICATE_CODES.CERT_HAS_EXPIRED],
  [/Hostname\/IP does not match certificate's altnames/i, CERTIFICATE_CODES.ERR_TLS_CERT_ALTNAME_INVALID],
];

/** TLS alerts Redis sends when it refuses this client's certificate, or the lack of one. */
const CLIENT_REFUSED = /alert (certificate required|bad certificate|unknown ca|handshake failure|certificate unknown)/i;
const NOT_TLS = /wrong version number|packet length too long|unknown protocol/i;

/**
 * What is wrong with the TLS handshake, said for the operator, when `err` is a certificate error: one
 * that retrying will not fix. `undefined` for every other error.
 */
export function certificateProblem(err: unknown): string | undefined {
  if (!(err instanceof Error)) return undefined;
  const code = (err as NodeJS.ErrnoException).code;
  // OpenSSL's messages carry a file and line; the alert's words are what an operator needs.
  const message = /\b(?:tlsv1\d?|sslv3) alert [a-z ]+/i.exec(err.message)?.[0] ?? err.message.split('\n')[0];
  const why = `(${code ? `${code}: ` : ''}${message})`;
  if (code && CERTIFICATE_CODES[code]) return `Redis' TLS certificate ${CERTIFICATE_CODES[code]} ${why}`;
  for (const [pattern, advice] of CERTIFICATE_MESSAGES) if (pattern.test(err.message)) return `Redis' TLS certificate ${advice} ${why}`;
  if (CLIENT_REFUSED.test(err.message)) {
    return `Redis refused this client's TLS certificate, or its lack of one: set redis_tls.cert_file and key_file to a certificate its CA signed ${why}`;
  }
  if (NOT_TLS.test(err.message)) return `Redis did not answer in TLS at that address: use redis:// or Redis' TLS port ${why}`;
  // A cluster that found no node reports the last node's error beside its own.
  const inner = (err as { lastNodeError?: unknown }).lastNodeError;
  return inner ? certificateProblem(inner) : undefined;
}

/**
 * Completes a TLS handshake with Redis and listens, sending nothing, for what Redis says next. Redis
 * refuses a client certificate (or its lack) with an alert after the handshake (TLS 1.3); a client that
 * writes at once, as ioredis does, often meets the closed connection instead (ECONNRESET), which names
 * nothing. Resolves with the problem the alert names, or `undefined` when there is none within `ms`.
 */
export function probeHandshake(options: ConnectionOptions, ms = 1000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect(options);
    const finish = (problem?: string) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(problem);
    };
    const timer = setTimeout(() => finish(), ms);
    socket.on('error', (err) => finish(certificateProblem(err)));
    socket.once('data', () => finish());
    socket.once('close', () => finish());
  });
}
