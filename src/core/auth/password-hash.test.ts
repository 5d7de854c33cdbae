import bcrypt from 'bcryptjs';
import { afterAll, describe, expect, it } from 'vitest';
import { HashPool } from './hash-pool.js';
import { describeHash, dummyHash, hashRefusal, parseHash, weakness } from './password-hash.js';

// Made by Werkzeug's generate_password_hash, as the ancestor's server_config.yaml holds them.
const WERKZEUG_PBKDF2 = 'pbkdf2:sha256:260000$vbbUQBCE3F9d5g6M$e74c4397d48a3c9ff31228dc91680515e744a9e5a9a9cb2bdcb92ada874ef0e6';
const WERKZEUG_SCRYPT =
  'scrypt:32768:8:1$Xq3vL9aT0kPz1mRb$c3153ab295abc3a67c208706988451c30cfbd673139262407d9d08f9d242a7eda64161bd17e9a821af336116c1db73971e76d35b765173376d0bb9c62a2faaf7';

const pool = new HashPool({ threads: 2, queue: 10 });
afterAll(() => pool.close());

describe('password hashes', () => {
  it.each([
    ['pbkdf2', WERKZEUG_PBKDF2, 'pbkdf2:sha256 260000 iterations'],
    ['scrypt', WERKZEUG_SCRYPT, 'scrypt N=32768 r=8 p=1'],
    ['bcrypt', bcrypt.hashSync('correct horse', 4), 'bcrypt cost 4'],
    ['bcrypt $2a$', bcrypt.hashSync('correct horse', 4).replace('$2b$', '$2a$'), 'bcrypt cost 4'],
    ['bcrypt $2y$', bcrypt.hashSync('correct horse', 4).replace('$2b$', '$2y$'), 'bcrypt cost 4'],
  ])('verifies the password of a %s hash, and nothing else', async (_scheme, text, description) => {
    const hash = parseHash(text)!;
    expect(describeHash(hash)).toBe(description);
    expect(await pool.verify('correct horse', hash)).toMatchObject({ ok: true });
    expect(await pool.verify('correct horse ', hash)).toMatchObject({ ok: false });
    expect(await pool.verify('', hash)).toMatchObject({ ok: false });
  });

  it('recognises nothing but well-formed hashes', () => {
    for (const text of ['correct horse', 'sha256$salt$abcd', 'pbkdf2:sha256$salt$abcd', 'pbkdf2:md5:1000$s$abcd', 'scrypt:1000:8:1$s$abcd', 'scrypt:32768:8:1$s$abc', '$2b$12$short', '']) {
      expect(parseHash(text), text).toBeUndefined();
      expect(hashRefusal(text), text).toBeDefined();
    }
  });

  it('refuses bcrypt hashes that bcryptjs cannot verify, saying so', () => {
    const digest = bcrypt.hashSync('x', 4).slice(7);
    // $2x$ and a cost out of 04-31 make bcryptjs throw; a 59-character $2$ fails every password at once.
    for (const text of [`$2x$10$${digest}`, `$2b$03$${digest}`, `$2b$32$${digest}`, `$2$10$${digest}`, `$2$10$${digest.slice(1)}`]) {
      expect(parseHash(text), text).toBeUndefined();
      expect(hashRefusal(text), text).toMatch(/^a bcrypt hash this server cannot verify/);
    }
    expect(hashRefusal(`$2b$10$${digest}`)).toBeUndefined();
  });

  it('flags cheap hashes', () => {
    expect(weakness(parseHash(bcrypt.hashSync('x', 9))!)).toBe('bcrypt cost below 10');
    expect(weakness(parseHash(bcrypt.hashSync('x', 10))!)).toBeUndefined();
    expect(weakness(parseHash('pbkdf2:sha256:99999$salt$abcd')!)).toBe('pbkdf2 below 100000 iterations');
    expect(weakness(parseHash(WERKZEUG_PBKDF2)!)).toBeUndefined();
    expect(weakness(parseHash(WERKZEUG_SCRYPT)!)).toBeUndefined();
  });

  it('makes dummy hashes of the same scheme and cost that no password matches', async () => {
    for (const text of [WERKZEUG_PBKDF2, WERKZEUG_SCRYPT, bcrypt.hashSync('correct horse', 5)]) {
      const dummy = dummyHash(parseHash(text));
      expect(describeHash(dummy)).toBe(describeHash(parseHash(text)!));
      expect(await pool.verify('correct horse', dummy)).toMatchObject({ ok: false, error: undefined });
    }
  });
});
