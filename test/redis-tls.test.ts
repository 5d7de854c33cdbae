// Redis over TLS with a private CA (made by openssl), a client certificate and a server name: tasks run,
// a certificate mistake stops the processes at start naming it, and a wrong certificate at run time is
// named in the log and in /readyz, and forgotten once it is fixed.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startPrivateRedis, type PrivateRedis } from '../scripts/private-redis.js';
import { basic, eventually, HASHES, startProcess, uniquePrefix, writeYaml, type Proc } from './helpers.js';
import { makeCertificates, SERVER_NAME, type Certificates } from './tls-certs.js';

let certs: Certificates;
let redis: PrivateRedis;
let tls: Record<string, string>;
/** A connection that stays open while Redis changes its certificate, so the test can change it back. */
let admin: Redis;
const procs: Proc[] = [];

beforeAll(async () => {
  certs = makeCertificates();
  tls = { ca_file: certs.ca, cert_file: certs.client.cert, key_file: certs.client.key, server_name: SERVER_NAME };
  const probe = { tls: { ca: certs.read(certs.ca), cert: certs.read(certs.client.cert), key: certs.read(certs.client.key), servername: SERVER_NAME } };
  redis = await startPrivateRedis({ tls: { cert: certs.server.cert, key: certs.server.key, ca: certs.ca, authClients: true, probe } });
  admin = new Redis(redis.url, probe);
});

afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop('SIGKILL')));
  admin?.disconnect();
  await redis?.stop();
  certs?.remove();
});

async function start(kind: 'server' | 'worker', redisTls: Record<string, string>, prefix = uniquePrefix()) {
  const port = await freePort();
  const settings = { redis_url: redis.url, redis_tls: redisTls, queue_prefix: prefix };
  const config = writeYaml(kind === 'server' ? { httpauth: HASHES, host: '127.0.0.1', ...settings } : settings, `${kind}_config.yaml`);
  const proc = startProcess(`src/${kind}.ts`, { CONFIG_FILENAME: config, PORT: String(port), REDIS_URL: '' });
  procs.push(proc);
  return { proc, config, base: `http://127.0.0.1:${port}` };
}

const get = async (base: string, path: string) => {
  const res = await fetch(base + path, { headers: { Authorization: basic('alice') }, signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: (await res.json()) as any };
};

describe('Redis over TLS', () => {
  let server: Awaited<ReturnType<typeof start>>;

  it('runs tasks with the CA, the client certificate and the server name of redis_tls', async () => {
    const prefix = uniquePrefix();
    server = await start('server', tls, prefix);
    const worker = await start('worker', tls, prefix);
    await Promise.all([server.proc.waitFor(/listening on/), worker.proc.waitFor(/worker started/)]);
    expect(await get(server.base, '/readyz')).toEqual({ status: 200, body: { msg: 'ready', status: 200 } });
    const accepted = await get(server.base, '/math/1/2');
    expect(accepted.status).toBe(202);
    const done = await eventually(async () => {
      const { body } = await get(server.base, `/tasks/${accepted.body.task_id}`);
      return body.task_status === 'SUCCESS' ? body : undefined;
    });
    expect(done.task_result).toBe(103);
  });

  it('names a wrong certificate at run time in the log and in /readyz, and recovers once Redis serves the right one', async () => {
    // Redis now serves a certificate from a CA nobody trusts, and drops its clients, which reconnect.
    await admin.config('SET', 'tls-cert-file', certs.stranger.cert, 'tls-key-file', certs.stranger.key);
    try {
      await admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
      const refused = await eventually(async () => {
        const answer = await get(server.base, '/readyz');
        return answer.status === 503 && answer.body.msg !== 'not ready: redis unreachable' ? answer : undefined;
      });
      expect(refused.body).toEqual({
        msg: "not ready: redis TLS: Redis' TLS certificate is signed by a CA this process does not trust: set redis_tls.ca_file to that CA (UNABLE_TO_VERIFY_LEAF_SIGNATURE: unable to verify the first certificate)",
        status: 503,
      });
      await server.proc.waitFor(/"problem":"Redis' TLS certificate is signed by a CA this process does not trust.*"msg":"redis TLS certificate problem: /);
      expect(server.proc.output()).not.toContain('"msg":"redis unavailable: retrying in the background"');
    } finally {
      await admin.config('SET', 'tls-cert-file', certs.server.cert, 'tls-key-file', certs.server.key);
    }
    await eventually(async () => ((await get(server.base, '/readyz')).status === 200 ? true : undefined));
    await server.proc.waitFor(/redis connection restored/);
  });

  it.each([
    ['it does not trust the CA', { ca_file: undefined }, "Redis' TLS certificate is signed by a CA this process does not trust: set redis_tls.ca_file to that CA (SELF_SIGNED_CERT_IN_CHAIN"],
    ['the certificate does not name the host', { server_name: undefined }, "Redis' TLS certificate does not name the host connected to: set redis_tls.server_name to a name it carries (ERR_TLS_CERT_ALTNAME_INVALID"],
    ['Redis wants a client certificate', { cert_file: undefined, key_file: undefined }, "Redis refused this client's TLS certificate, or its lack of one: set redis_tls.cert_file and key_file to a certificate its CA signed (ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: tlsv13 alert certificate required)"],
  ])('stops a server at start, exit 1, when %s, saying what to set', async (_, change, message) => {
    const settings: Record<string, string> = {};
    for (const [key, value] of Object.entries({ ...tls, ...change })) if (value !== undefined) settings[key] = value;
    const { proc, config } = await start('server', settings);
    expect(await proc.exited).toBe(1);
    expect(proc.output()).toContain(`config error:\n${config}: redis_url: cannot connect: ${message}`);
  });

  it('stops a worker at start the same way', async () => {
    const { proc, config } = await start('worker', { ...tls, server_name: 'elsewhere.test' });
    expect(await proc.exited).toBe(1);
    expect(proc.output()).toContain(`config error:\n${config}: redis_url: cannot connect: Redis' TLS certificate does not name the host connected to`);
  });
});
