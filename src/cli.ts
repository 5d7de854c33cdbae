#!/usr/bin/env node
// Command line: hash-password, check-config.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { createInterface } from 'node:readline';
import bcrypt from 'bcryptjs';
import { Command, InvalidArgumentError } from 'commander';
import { parse } from 'yaml';
import { ConfigError } from './core/process/main.js';
import { loadServerConfig, loadWorkerConfig, resolveServiceOptions } from './core/config/load.js';
import { costOf, describeHash, parseHash, weakness } from './core/auth/password-hash.js';
import { servicesOf } from './core/service/routes.js';
import { routes } from './routes.js';

/** Reads a password: twice without echo on a terminal, else one line from stdin. */
async function readPassword(): Promise<string> {
  if (!process.stdin.isTTY) {
    const rl = createInterface({ input: process.stdin });
    for await (const line of rl) return line;
    return '';
  }
  const ask = (prompt: string) =>
    new Promise<string>((resolve) => {
      const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
      // Print the prompt, then swallow the echo of every key typed.
      const write = (rl as unknown as { _writeToOutput: (s: string) => void });
      rl.question(prompt, (answer) => {
        rl.close();
        process.stderr.write('\n');
        resolve(answer);
      });
      write._writeToOutput = () => {};
    });
  const first = await ask('Password: ');
  const second = await ask('Repeat password: ');
  if (first !== second) throw new Error('the passwords do not match');
  return first;
}

function cost(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 4 || n > 31) throw new InvalidArgumentError('a whole number from 4 to 31');
  return n;
}

/** One line per user: the hash scheme and cost, and WEAK when it is cheap to attack offline. */
function reportHashes(file: string, httpauth: Record<string, string>): void {
  const costs = new Set<string>();
  for (const [user, text] of Object.entries(httpauth)) {
    const hash = parseHash(text)!;
    costs.add(costOf(hash));
    const weak = weakness(hash);
    process.stdout.write(`${file}: httpauth.${user}: ${describeHash(hash)}${weak ? `: WEAK (${weak}); make a new one with: npm run hash-password` : ''}\n`);
  }
  if (costs.size > 1) {
    // The server hides who exists by making every failed login as slow as the slowest check (docs/authentication.md#timing).
    process.stdout.write(`${file}: httpauth: hashes of different costs; every failed login takes as long as a check of the dearest, so rehash the others at one cost\n`);
  }
}

const program = new Command('selfhost').description('Tools for the selfhost service template');

program
  .command('hash-password')
  .description('print a bcrypt hash for httpauth in server_config.yaml')
  .option('-c, --cost <rounds>', 'bcrypt cost factor', cost, 12)
  .action(async (opts: { cost: number }) => {
    const password = await readPassword();
    if (password.length === 0) throw new Error('the password is empty');
    if (Buffer.byteLength(password, 'utf8') > 72) throw new Error('the password is over 72 bytes; bcrypt would ignore the rest');
    process.stdout.write(`${await bcrypt.hash(password, opts.cost)}\n`);
  });

program
  .command('check-config')
  .description('validate a server or worker config file as the process would load it, environment overrides included; exit 0 if good, 1 if not')
  .argument('<file>', 'server_config.yaml or worker_config.yaml')
  .option('-k, --kind <kind>', 'server or worker (default: server if the file has httpauth or "server" in its name)')
  .action((file: string, opts: { kind?: string }) => {
    let raw: unknown;
    try {
      raw = parse(readFileSync(file, 'utf8')) ?? {};
    } catch (err) {
      throw new ConfigError(`${file}: ${(err as Error).message.split('\n')[0]}`);
    }
    const looksLikeServer = (raw !== null && typeof raw === 'object' && 'httpauth' in raw) || basename(file).includes('server');
    const kind = opts.kind ?? (looksLikeServer ? 'server' : 'worker');
    if (kind !== 'server' && kind !== 'worker') throw new ConfigError(`--kind must be server or worker, not "${kind}"`);
    // The same loader as the entry points, so ENVIRONMENT, REDIS_URL and the rest count here too.
    const env = { ...process.env, CONFIG_FILENAME: file };
    const { config, notes } = kind === 'server' ? loadServerConfig(env) : loadWorkerConfig(env);
    resolveServiceOptions(file, config.services, servicesOf(routes));
    if ('httpauth' in config) reportHashes(file, config.httpauth);
    for (const note of notes) process.stdout.write(`${file}: ${note}\n`);
    process.stdout.write(`${file}: a valid ${kind} config\n`);
  });

program.parseAsync().catch((err: unknown) => {
  process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
