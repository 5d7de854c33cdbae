// `npm run dev`: Redis (yours or a private one), one server and one worker, stopped together with Ctrl-C.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { parse, stringify } from 'yaml';
import { redisAnswers, startPrivateRedis, type PrivateRedis } from './private-redis.js';

const SERVER_CONFIG = process.env.CONFIG_FILENAME || 'server_config.yaml';
const WORKER_CONFIG = 'worker_config.yaml';

function say(line: string): void {
  process.stdout.write(`[dev] ${line}\n`);
}

/** REDIS_URL if set; else the config's redis_url if one answers there; else a private redis-server. */
async function chooseRedis(fileConfig: Record<string, unknown>): Promise<{ url: string; own?: PrivateRedis }> {
  if (process.env.REDIS_URL) return { url: process.env.REDIS_URL };
  const configured = typeof fileConfig.redis_url === 'string' ? fileConfig.redis_url : undefined;
  if (configured && (await redisAnswers(configured))) return { url: configured };
  if (configured) say(`nothing answers at ${configured}: starting a private redis-server`);
  const own = await startPrivateRedis({ detached: true });
  say(`private redis-server on ${own.url} (stopped on exit, keeps nothing)`);
  return { url: own.url, own };
}

async function main(): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'selfhost-dev-'));
  let fileConfig: Record<string, unknown> = {};
  let serverConfig = SERVER_CONFIG;
  let devUser: { user: string; password: string } | undefined;
  if (existsSync(SERVER_CONFIG)) {
    fileConfig = (parse(readFileSync(SERVER_CONFIG, 'utf8')) as Record<string, unknown>) ?? {};
  } else {
    // No config yet: a development user with a fresh random password, for this run only.
    devUser = { user: 'dev', password: randomBytes(12).toString('base64url') };
    serverConfig = join(tmp, 'server_config.yaml');
    writeFileSync(serverConfig, stringify({ httpauth: { [devUser.user]: bcrypt.hashSync(devUser.password, 10) } }));
  }
  const redis = await chooseRedis(fileConfig);
  const port = process.env.PORT || String(fileConfig.port ?? 8000);

  const children: ChildProcess[] = [];
  let stopping = false;
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
          }),
      ),
    );
    await redis.own?.stop();
    rmSync(tmp, { recursive: true, force: true });
    process.exit(code);
  };

  const run = (name: string, entry: string, configFile: string | undefined) => {
    // Development mode: a server_config.yaml copied from the example (its known password) still starts.
    const env = { ENVIRONMENT: 'development', ...process.env, REDIS_URL: redis.url, PORT: port, CONFIG_FILENAME: configFile ?? '' };
    // Each child in its own process group: a Ctrl-C reaches this script alone, which sends one SIGTERM,
    // so the worker drains its task instead of taking the terminal's SIGINT and ours as a second signal.
    const child = spawn(process.execPath, ['--import', 'tsx', entry], { env, stdio: 'inherit', detached: true });
    child.once('exit', (code, signal) => {
      if (!stopping) {
        say(`${name} exited (${signal ?? code}): stopping everything`);
        void stopAll(1);
      }
    });
    children.push(child);
  };
  run('server', 'src/server.ts', serverConfig);
  run('worker', 'src/worker.ts', existsSync(WORKER_CONFIG) ? WORKER_CONFIG : undefined);

  // The first signal lets the server and the worker drain; a second one, like theirs, stops all at once.
  const onSignal = () => {
    if (!stopping) return void stopAll(0);
    say('second signal: stopping everything now');
    for (const child of children) child.kill('SIGKILL');
    void Promise.resolve(redis.own?.stop('SIGKILL')).finally(() => process.exit(1));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);

  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200 && !stopping; i++) {
    const up = await fetch(base).then((r) => r.ok, () => false);
    if (up) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  if (stopping) return;
  say(`server on ${base}, one worker, Redis at ${redis.url}. Ctrl-C stops all.`);
  if (devUser) {
    say(`no ${SERVER_CONFIG}: made a development user for this run only`);
    say(`  username: ${devUser.user}`);
    say(`  password: ${devUser.password}`);
    say(`  try:      curl -u ${devUser.user}:${devUser.password} ${base}/sleep/10`);
    say(`  then:     curl -u ${devUser.user}:${devUser.password} ${base}/tasks/<task_id>`);
  } else {
    say(`users from ${SERVER_CONFIG}; try: curl -u USER:PASSWORD ${base}/sleep/10`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`[dev] ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
