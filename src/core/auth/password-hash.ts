// Password hashes in `httpauth`: bcrypt, and the ancestor's Werkzeug pbkdf2 and scrypt hashes. Their
// formats; hash-pool.ts checks passwords against them.
import { randomBytes } from 'node:crypto';
import bcrypt from 'bcryptjs';

/** The hash shipped in server_config.yaml.example (password "change me"): refused outside development. */
export const EXAMPLE_HASH = '$2b$12$pr2kokT7Z8FoaWbJmZ2pReaDENRJsAstITjpMp8AxjINkSy7/F31m';

export type PasswordHash =
  | { scheme: 'bcrypt'; cost: number; hash: string }
  | { scheme: 'pbkdf2'; digest: string; iterations: number; salt: string; key: Buffer }
  | { scheme: 'scrypt'; N: number; r: number; p: number; salt: string; key: Buffer };

/**
 * What bcryptjs can verify: `$2a$`, `$2b$`, `$2y$`, cost 04 to 31. It throws on `$2x$` and on costs out of
 * range, and fails any password at once for `$2$` (59 characters): such a user could never sign in, and
 * the quick answer would tell a guesser the user exists.
 */
const BCRYPT = /^\$2[aby]\$(0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}$/;
const PBKDF2 = /^pbkdf2:(sha1|sha224|sha256|sha384|sha512):(\d+)\$([^$]+)\$([0-9a-f]+)$/;
const SCRYPT = /^scrypt:(\d+):(\d+):(\d+)\$([^$]+)\$([0-9a-f]+)$/;

/** Werkzeug's scrypt memory bound; node's default (32 MiB) is too small for N = 32768, r = 8. */
export const scryptMaxmem = (N: number, r: number, p: number) => 132 * N * r * p;

/** Parses a hash; `undefined` when the scheme or its parameters are not recognised. */
export function parseHash(text: string): PasswordHash | undefined {
  let m = BCRYPT.exec(text);
  if (m) return { scheme: 'bcrypt', cost: Number(m[1]), hash: text };
  m = PBKDF2.exec(text);
  if (m && Number(m[2]) > 0 && m[4].length % 2 === 0) {
    return { scheme: 'pbkdf2', digest: m[1], iterations: Number(m[2]), salt: m[3], key: Buffer.from(m[4], 'hex') };
  }
  m = SCRYPT.exec(text);
  if (m && m[5].length % 2 === 0) {
    const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
    // N must be a power of two above 1; the memory bound keeps a hostile config from exhausting the host.
    if (N > 1 && (N & (N - 1)) === 0 && r > 0 && p > 0 && scryptMaxmem(N, r, p) <= 2 ** 31) {
      return { scheme: 'scrypt', N, r, p, salt: m[4], key: Buffer.from(m[5], 'hex') };
    }
  }
  return undefined;
}

/** Why `text` is not a hash this server can use, for the config error; `undefined` when it is one. */
export function hashRefusal(text: string): string | undefined {
  if (parseHash(text)) return undefined;
  if (text.startsWith('$2')) return 'a bcrypt hash this server cannot verify (it takes $2a$, $2b$ or $2y$ with a cost from 04 to 31)';
  return 'not a recognised password hash (bcrypt, pbkdf2 or scrypt)';
}

/** The scheme and its cost, e.g. "bcrypt cost 12", "pbkdf2:sha256 260000 iterations". */
export function describeHash(hash: PasswordHash): string {
  if (hash.scheme === 'bcrypt') return `bcrypt cost ${hash.cost}`;
  if (hash.scheme === 'pbkdf2') return `pbkdf2:${hash.digest} ${hash.iterations} iterations`;
  return `scrypt N=${hash.N} r=${hash.r} p=${hash.p}`;
}

/** Why a hash is too cheap to withstand an offline attack on a stolen config; `undefined` if it is not. */
export function weakness(hash: PasswordHash): string | undefined {
  if (hash.scheme === 'bcrypt' && hash.cost < 10) return 'bcrypt cost below 10';
  if (hash.scheme === 'pbkdf2' && hash.iterations < 100_000) return 'pbkdf2 below 100000 iterations';
  if (hash.scheme === 'scrypt' && hash.N * hash.r < 2 ** 17) return 'scrypt N*r below 131072';
  return undefined;
}

const BCRYPT_ALPHABET = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * The same scheme and cost as `like`, for a password nobody knows: unknown users are checked against it.
 * A random salt and a random digest: a check against them costs what a real check costs (it hashes the
 * password with that salt and cost), and making them costs nothing, where hashing a secret would add a
 * whole bcrypt hash (0.1 to 0.5 s) to every start-up.
 */
export function dummyHash(like: PasswordHash | undefined): PasswordHash {
  if (!like || like.scheme === 'bcrypt') {
    const digest = Array.from(randomBytes(31), (byte) => BCRYPT_ALPHABET[byte & 63]).join('');
    return parseHash(bcrypt.genSaltSync(like?.cost ?? 12) + digest)!;
  }
  return { ...like, key: randomBytes(like.key.length), salt: randomBytes(8).toString('hex') };
}

/** The scheme and parameters that decide how long a check takes. */
export function costOf(hash: PasswordHash): string {
  return hash.scheme === 'bcrypt' ? `bcrypt:${hash.cost}` : describeHash(hash);
}
