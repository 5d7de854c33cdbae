// The command line as a user runs it: real processes, exit codes, what they print.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { describe, expect, it } from 'vitest';
import { EXAMPLE_HASH } from '../src/core/auth/password-hash.js';
import { HASHES, ROOT, writeYaml } from './helpers.js';

function run(args: string[], input = '', env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', ...args], {
    cwd: ROOT,
    input,
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('hash-password', () => {
  it('reads one line from stdin and prints a bcrypt hash of it', () => {
    const { code, stdout } = run(['src/cli.ts', 'hash-password', '--cost', '4'], 'correct horse\n');
    expect(code).toBe(0);
    const hash = stdout.trim();
    expect(hash).toMatch(/^\$2[aby]\$04\$/);
    expect(bcrypt.compareSync('correct horse', hash)).toBe(true);
    expect(bcrypt.compareSync('correct horsf', hash)).toBe(false);
  });

  it('uses cost 12 by default', () => {
    const { stdout } = run(['src/cli.ts', 'hash-password'], 'pw\n');
    expect(bcrypt.getRounds(stdout.trim())).toBe(12);
  });

  it('refuses an empty password and one over 72 bytes', () => {
    const empty = run(['src/cli.ts', 'hash-password', '-c', '4'], '\n');
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain('the password is empty');
    const long = run(['src/cli.ts', 'hash-password', '-c', '4'], `${'é'.repeat(37)}\n`);
    expect(long.code).toBe(1);
    expect(long.stderr).toContain('over 72 bytes');
    expect(long.stdout).toBe('');
  });

  // On a terminal it asks twice and echoes nothing; util-linux `script` gives it a pseudo-terminal.
  const hasScript = !spawnSync('script', ['--version']).error;
  function onTerminal(answers: string[]): Promise<{ code: number | null; output: string }> {
    const command = `${process.execPath} --import tsx src/cli.ts hash-password --cost 4`;
    const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    const prompts = ['Password: ', 'Repeat password: '];
    const onData = (d: Buffer) => {
      output += d.toString();
      // Answer each prompt once it is on the screen, as a person would.
      while (prompts.length > 0 && output.includes(prompts[0]!) && answers.length > 0) {
        prompts.shift();
        child.stdin.write(`${answers.shift()}\r`);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    return new Promise((resolve) => child.once('exit', (code) => resolve({ code, output })));
  }

  it.skipIf(!hasScript)('on a terminal asks twice without echoing the password', async () => {
    const { code, output } = await onTerminal(['tty-secret-1', 'tty-secret-1']);
    expect(code).toBe(0);
    expect(output).toContain('Repeat password: ');
    expect(output).not.toContain('tty-secret-1');
    const hash = output.match(/\$2[aby]\$04\$[./A-Za-z0-9]{53}/)![0];
    expect(bcrypt.compareSync('tty-secret-1', hash)).toBe(true);

    const mismatch = await onTerminal(['tty-secret-1', 'tty-secret-2']);
    expect(mismatch.code).toBe(1);
    expect(mismatch.output).toContain('the passwords do not match');
    expect(mismatch.output).not.toMatch(/\$2[aby]\$/);
  }, 30_000);
});

describe('check-config', () => {
  it('accepts the shipped examples in development, and refuses the example password hash in production', () => {
    const example = readFileSync(join(ROOT, 'server_config.yaml.example'), 'utf8');
    const development = writeYaml(example.replace(/^environment: production/m, 'environment: development'));
    for (const file of [development, 'worker_config.yaml.example']) {
      const { code, stdout } = run(['src/cli.ts', 'check-config', file]);
      expect(code).toBe(0);
      expect(stdout).toContain(`${file}: a valid`);
    }
    const production = run(['src/cli.ts', 'check-config', 'server_config.yaml.example']);
    expect(production.code).toBe(1);
    expect(production.stderr).toContain('server_config.yaml.example: httpauth.admin: the example hash');
    expect(production.stderr).toContain('npm run hash-password');
    const overridden = run(['src/cli.ts', 'check-config', 'server_config.yaml.example'], '', { ENVIRONMENT: 'development' });
    expect(overridden.code).toBe(0);
  });

  it('checks a server config that lacks httpauth as a server config, by its name', () => {
    const file = writeYaml({ port: 8000 }, 'server_config.yaml');
    const { code, stderr } = run(['src/cli.ts', 'check-config', file]);
    expect(code).toBe(1);
    expect(stderr).toContain(`${file}: httpauth: `);
  });

  it("reports each user's hash scheme and flags weak and unrecognised ones", () => {
    const file = writeYaml({
      httpauth: {
        alice: HASHES.alice,
        old: 'pbkdf2:sha256:260000$vbbUQBCE3F9d5g6M$e74c4397d48a3c9ff31228dc91680515e744a9e5a9a9cb2bdcb92ada874ef0e6',
        cheap: 'pbkdf2:sha256:1000$salt$00ff',
      },
    });
    const { code, stdout } = run(['src/cli.ts', 'check-config', file]);
    expect(code).toBe(0);
    expect(stdout).toContain(`${file}: httpauth.alice: bcrypt cost 4: WEAK (bcrypt cost below 10)`);
    expect(stdout).toContain(`${file}: httpauth.old: pbkdf2:sha256 260000 iterations\n`);
    expect(stdout).toContain(`${file}: httpauth.cheap: pbkdf2:sha256 1000 iterations: WEAK (pbkdf2 below 100000 iterations)`);
    expect(stdout).toContain('hashes of different costs');

    const plaintext = run(['src/cli.ts', 'check-config', writeYaml({ httpauth: { alice: 'correct horse' } })]);
    expect(plaintext.code).toBe(1);
    expect(plaintext.stderr).toMatch(/httpauth\.alice: not a recognised password hash .*npm run hash-password/);
  });

  it("accepts the Python version's config files unchanged and says how their celery block is read", () => {
    const celery = 'celery:\n  broker_url: redis://localhost:6379\n  result_backend: redis://localhost:6379\n  result_expires: 60\n';
    const server = writeYaml(
      `---\n${celery}\nhttpauth:\n  myuser: "pbkdf2:sha256:260000$wyq8Mr00ETYzCfQn$166386b90bdb3b65856c25ada6787c4dc49e21b28947bdcd96caac986a0a8037"\n`,
      'server_config.yaml',
    );
    const worker = writeYaml(`---\n${celery}`, 'worker_config.yaml');
    const env = { ENVIRONMENT: '', REDIS_URL: '' };
    const checked = run(['src/cli.ts', 'check-config', server], '', env);
    expect(checked.stderr).toBe('');
    expect(checked.code).toBe(0);
    expect(checked.stdout).toContain(`${server}: celery.broker_url: used as redis_url\n`);
    expect(checked.stdout).toContain(`${server}: celery.result_expires: used as result_ttl\n`);
    expect(checked.stdout).toContain(`${server}: celery.result_backend: ignored`);
    expect(checked.stdout).toContain(`${server}: a valid server config`);
    const workerChecked = run(['src/cli.ts', 'check-config', worker], '', env);
    expect(workerChecked.code).toBe(0);
    expect(workerChecked.stdout).toContain(`${worker}: celery.broker_url: used as redis_url\n`);
    expect(workerChecked.stdout).toContain(`${worker}: a valid worker config`);
  });

  it('exits 1 and says exactly what is wrong', () => {
    const file = writeYaml({ httpauth: HASHES, port: 'eighty', services: { sleep: { max_sleep_seconds: -1 } } });
    const { code, stderr } = run(['src/cli.ts', 'check-config', file]);
    expect(code).toBe(1);
    expect(stderr).toContain(`${file}: port: `);
  });
});

describe('entry points', () => {
  it('a server with a bad config stops with the file, key and reason', () => {
    const file = writeYaml({ httpauth: HASHES, result_ttl: 'soon' });
    const { code, stderr } = run(['src/server.ts'], '', { CONFIG_FILENAME: file });
    expect(code).toBe(1);
    expect(stderr).toContain(`${file}: result_ttl: Invalid input: expected number`);
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it('a server refuses to start with no users or the example hash, saying how to make one', () => {
    for (const httpauth of [{}, { admin: EXAMPLE_HASH }]) {
      const file = writeYaml({ httpauth });
      const { code, stderr } = run(['src/server.ts'], '', { CONFIG_FILENAME: file });
      expect(code).toBe(1);
      expect(stderr).toMatch(new RegExp(`${file}: httpauth.*npm run hash-password`));
    }
  });

  it('a worker with a bad service setting stops naming it', () => {
    const file = writeYaml({ services: { sleep: { max_sleep_seconds: 'many' } } });
    const { code, stderr } = run(['src/worker.ts'], '', { CONFIG_FILENAME: file });
    expect(code).toBe(1);
    expect(stderr).toContain(`${file}: services.sleep.max_sleep_seconds:`);
  });
});
