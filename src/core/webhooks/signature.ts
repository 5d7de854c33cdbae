// Standard Webhooks signatures (standardwebhooks.com): what a receiver checks to trust a delivery.
import { createHmac } from 'node:crypto';

/** `whsec_` and the key in base64, the form the Standard Webhooks libraries take a secret in. */
export const SECRET_PREFIX = 'whsec_';

/** The key a `whsec_…` secret holds. */
export function secretKey(secret: string): Buffer {
  return Buffer.from(secret.slice(SECRET_PREFIX.length), 'base64');
}

/**
 * The `webhook-signature` header of one delivery: `v1,` and the base64 HMAC-SHA256 of
 * `{webhook-id}.{webhook-timestamp}.{body}` under the secret's key.
 */
export function signature(key: Buffer, id: string, timestamp: number, body: string): string {
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}
