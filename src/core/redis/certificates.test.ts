import { describe, expect, it } from 'vitest';
import { certificateProblem } from './certificates.js';

const tlsError = (code: string, message: string) => Object.assign(new Error(message), { code });

describe('certificateProblem', () => {
  it('names a certificate Node refused by its code, with the key to set', () => {
    expect(certificateProblem(tlsError('CERT_HAS_EXPIRED', 'certificate has expired'))).toBe(
      "Redis' TLS certificate has expired (CERT_HAS_EXPIRED: certificate has expired)",
    );
  });

  it('finds the problem inside the errors ioredis wraps for Sentinel and Cluster', () => {
    const sentinel = new Error('All sentinels are unreachable. Retrying from scratch after 10ms. Last error: self-signed certificate in certificate chain');
    expect(certificateProblem(sentinel)).toMatch(/^Redis' TLS certificate is signed by a CA this process does not trust: set redis_tls.ca_file/);
    const cluster = Object.assign(new Error('Failed to refresh slots cache.'), { lastNodeError: tlsError('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames") });
    expect(certificateProblem(cluster)).toMatch(/set redis_tls.server_name/);
  });

  it('leaves other errors alone: an outage is retried, not a configuration mistake', () => {
    expect(certificateProblem(tlsError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:6379'))).toBeUndefined();
    expect(certificateProblem(tlsError('ECONNRESET', 'read ECONNRESET'))).toBeUndefined();
    expect(certificateProblem('not an error')).toBeUndefined();
  });
});
