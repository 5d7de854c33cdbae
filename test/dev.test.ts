// The quick start: `npm run dev` on a machine with no config and no Redis configured.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { freePort, redisAnswers } from '../scripts/private-redis.js';
import { eventually, HASHES, ROOT, writeYaml } from './helpers.js';

describe('npm run dev', () => {
  it('starts Redis, a server and a worker, prints a working curl line, and stops them all', async () => {
    const port = await freePort();
    const env: Record<string, string | undefined> = { ...process.env, PORT: String(port), CONFIG_FILENAME: join(tmpdir(), `none-${port}.yaml`) };
    delete env.REDIS_URL;
    // The README's command, in a process group of its own as a terminal would run it: npm, then the script.
    const dev = spawn('npm', ['run', '--silent', 'dev'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    dev.stdout.on('data', (d: Buffer) => (out += d.toString()));
    dev.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<string>((resolve) => dev.once('exit', (code, signal) => resolve(signal ?? String(code))));
    try {
      const line = await eventually(async () => out.match(/curl -u (\S+):(\S+) (http:\/\/\S+)\/sleep\/10/) ?? undefined);
      const [, user, password, base] = line;
      const redisUrl = out.match(/private redis-server on (\S+)/)![1];
      expect(await redisAnswers(redisUrl)).toBe(true);

      const auth = { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
      const submitted = await fetch(`${base}/sleep/1`, { headers: auth });
      expect(submitted.status).toBe(202);
      const { task_id } = await submitted.json();
      const done = await eventually(async () => {
        const status = await (await fetch(`${base}/tasks/${task_id}`, { headers: auth })).json();
        return status.task_status === 'SUCCESS' ? status : undefined;
      });
      expect(done.task_result).toBe('slept 1 second');

      // Ctrl-C in a terminal signals the whole process group: a running task still finishes. npm passes the
      // signal on to the script as well, and the script must take the two as one Ctrl-C, not as a second one
      // that kills the worker mid-task.
      const running = await (await fetch(`${base}/sleep/2`, { headers: auth })).json();
      await eventually(async () => {
        const status = await (await fetch(`${base}/tasks/${running.task_id}`, { headers: auth })).json();
        return status.task_status === 'STARTED' ? status : undefined;
      });
      process.kill(-dev.pid!, 'SIGINT');
      expect(await exited).toMatch(/^(0|SIGINT)$/);
      expect(out).toMatch(new RegExp(`"task_id":"${running.task_id}"[^\n]*"msg":"task done"`));
      expect(out).not.toContain('second signal');
      expect(await redisAnswers(redisUrl)).toBe(false);
    } finally {
      if (dev.exitCode === null && dev.signalCode === null) process.kill(-dev.pid!, 'SIGKILL');
    }
  }, 60_000);

  it('stops at a config mistake with the file, the key and the reason, having started nothing', async () => {
    const file = writeYaml({ httpauth: HASHES, port: 'eighty' }, 'server_config.yaml');
    const env: Record<string, string | undefined> = { ...process.env, CONFIG_FILENAME: file };
    delete env.REDIS_URL;
    const dev = spawn(process.execPath, ['--import', 'tsx', 'scripts/dev.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    dev.stdout.on('data', (d: Buffer) => (out += d.toString()));
    dev.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => dev.once('exit', resolve));
    expect(code, out).toBe(1);
    expect(out).toContain(`[dev] config error:\n${file}: port: Invalid input`);
    expect(out).not.toMatch(/^\s+at /m);
    expect(out).not.toContain('redis-server');
  });
});
