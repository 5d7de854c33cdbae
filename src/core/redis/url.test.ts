import { describe, expect, it } from 'vitest';
import { keySlot } from './durability.js';
import { hashTag, parseRedisUrl, redactRedisUrl } from './url.js';

describe('parseRedisUrl', () => {
  it('reads one node, with credentials, database and TLS', () => {
    expect(parseRedisUrl('redis://127.0.0.1')).toEqual({ kind: 'single', tls: false, hosts: [{ host: '127.0.0.1', port: 6379 }], db: 0 });
    expect(parseRedisUrl('rediss://user:p%40ss@redis.example:6380/3')).toEqual({
      kind: 'single', tls: true, hosts: [{ host: 'redis.example', port: 6380 }], db: 3, username: 'user', password: 'p@ss',
    });
    expect(parseRedisUrl('redis://:secret@[::1]:7000/')).toMatchObject({ hosts: [{ host: '::1', port: 7000 }], password: 'secret', db: 0 });
  });

  it('reads Sentinel: several sentinels, the master name, a database and the sentinels\' own password', () => {
    expect(parseRedisUrl('redis+sentinel://:pw@s1,s2:26380,10.0.0.3:26381/mymaster/2?sentinel_password=sp&sentinel_username=su')).toEqual({
      kind: 'sentinel',
      tls: false,
      hosts: [{ host: 's1', port: 26379 }, { host: 's2', port: 26380 }, { host: '10.0.0.3', port: 26381 }],
      password: 'pw',
      db: 2,
      masterName: 'mymaster',
      sentinelPassword: 'sp',
      sentinelUsername: 'su',
    });
    expect(parseRedisUrl('rediss+sentinel://s1/m')).toMatchObject({ kind: 'sentinel', tls: true, masterName: 'm' });
  });

  it('reads Cluster seed nodes', () => {
    expect(parseRedisUrl('redis+cluster://a:7000,b:7001')).toMatchObject({ kind: 'cluster', hosts: [{ host: 'a', port: 7000 }, { host: 'b', port: 7001 }] });
  });

  it.each([
    ['http://h', /^must start with redis:\/\/, rediss:\/\//],
    ['redis://', /names no host/],
    ['redis://a,b', /names several hosts: use redis\+sentinel/],
    ['redis://h/x', /the database "x" is not a number/],
    ['redis://h:0', /port 0 of h is not between 1 and 65535/],
    ['redis+sentinel://s1:26379', /needs the name the sentinels know the primary by/],
    ['redis+sentinel://s1/m?password=x', /unknown parameter "password" \(known: sentinel_password, sentinel_username\)/],
    ['redis+cluster://a/0', /a cluster has only database 0/],
    ['redis://h?db=1', /unknown parameter "db"/],
  ])('refuses %s, saying why', (url, why) => {
    expect(() => parseRedisUrl(url)).toThrow(why);
  });

  it('redacts passwords for logs', () => {
    expect(redactRedisUrl('redis+sentinel://u:pw@s1/m?sentinel_password=sp')).toBe('redis+sentinel://u:***@s1/m?sentinel_password=***');
  });
});

describe('hashTag and keySlot', () => {
  it('find the part Redis Cluster hashes, as Redis does', () => {
    expect(hashTag('{tasks}')).toBe('tasks');
    expect(hashTag('bull')).toBeUndefined();
    expect(hashTag('{}tasks')).toBeUndefined();
    // Redis' own examples (CLUSTER KEYSLOT): "foo" is slot 12182, and a tag hashes alone.
    expect(keySlot('foo')).toBe(12182);
    expect(keySlot('{foo}:tasks:wait')).toBe(12182);
    expect(keySlot('123456789')).toBe(0x31c3 % 16384);
  });
});
