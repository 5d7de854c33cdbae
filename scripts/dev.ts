// `npm run dev`: Redis (yours or a private one), one server and one worker, stopped together with Ctrl-C.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { stringify } from 'yaml';
import { configFile, loadServerConfig, loadWorkerConfig } from '../src/core/config/load.js';
import { ConfigError } from '../src/core/process/main.js';
import { startLocalStack, type LocalStack } from './local-stack.js';
import { freePort, redisAnswers } from './private-redis.js';

function say(line: string): void {
  process.stdout.write(`[dev] ${line}\n`);
}

/** REDIS_URL if set; else the Redis the config names, if one answers there; else none: a private redis-server. */
async function chooseRedis(named: string | undefined): Promise<string | undefined> {
  if (process.env.REDIS_URL) return process.env.REDIS_URL;
  if (named && (await redisAnswers(named))) return named;
  if (named) say(`nothing answers at ${named}: starting a private redis-server`);
  return undefined;
}

/** No config yet: a development user with a fresh random password, for this run only, in a config of its own. */
function devUserConfig() {
  const dir = mkdtempSync(join(tmpdir(), 'selfhost-dev-'));
  const user = 'dev';
  const password = randomBytes(12).toString('base64url');
  const file = join(dir, 'server_config.yaml');
  writeFileSync(file, stringify({ httpauth: { [user]: bcrypt.hashSync(password, 10) } }));
  return { user, password, file, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

async function main(): Promise<void> {
  // Development mode: a server_config.yaml copied from the example (its known password) still starts.
  const env = { ENVIRONMENT: process.env.ENVIRONMENT || 'development' };
  const { file } = configFile('server', process.env);
  const devUser = existsSync(file) ? undefined : devUserConfig();
  let stack: LocalStack;
  try {
    // As the server and the worker will read them (the worker: worker_config.yaml if there is one), so that a
    // mistake stops dev here, with the file, the key and the reason.
    const server = loadServerConfig({ ...process.env, ...env, CONFIG_FILENAME: devUser?.file ?? file });
    loadWorkerConfig({ ...process.env, ...env, CONFIG_FILENAME: '' });
    // The schema's default redis_url is not one the config names: without one, a private Redis.
    const redisUrl = await chooseRedis(server.given.has('redis_url') ? server.config.redis_url : undefined);
    stack = await startLocalStack({
      output: 'inherit',
      redisUrl,
      env,
      // Port 0 (any free port) picked here, so that dev knows where to find the server.
      server: { config: devUser?.file ?? file, port: server.config.port || (await freePort()) },
      workers: { count: 1 },
      // Ctrl-C is how dev ends: once all is stopped, exit 0, so that npm does not report it as a failure.
      signals: { exitCode: () => 0, say },
    });
    if (!redisUrl) say(`private redis-server on ${stack.redisUrl} (stopped on exit, keeps nothing)`);
  } catch (err) {
    devUser?.remove();
    throw err;
  }
  if (devUser) stack.onStop(devUser.remove);

  for (const proc of [stack.server!, ...stack.workers]) {
    void proc.exited.then((code) => {
      if (stack.stopping) return;
      say(`${proc.name} exited (${proc.child.signalCode ?? code}): stopping everything`);
      void stack.stop().finally(() => process.exit(1));
    });
  }

  const { base } = stack;
  say(`server on ${base}, one worker, Redis at ${stack.redisUrl}. Ctrl-C stops all.`);
  if (devUser) {
    say(`no ${file}: made a development user for this run only`);
    say(`  username: ${devUser.user}`);
    say(`  password: ${devUser.password}`);
    say(`  try:      curl -u ${devUser.user}:${devUser.password} ${base}/sleep/10`);
    say(`  then:     curl -u ${devUser.user}:${devUser.password} ${base}/tasks/<task_id>`);
  } else {
    say(`users from ${file}; try: curl -u USER:PASSWORD ${base}/sleep/10`);
  }
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) process.stderr.write(`[dev] config error:\n${err.message}\n`);
  else process.stderr.write(`[dev] ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
