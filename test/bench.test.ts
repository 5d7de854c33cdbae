// The benchmark's smoke run, so that `npm run bench` cannot rot: every figure measured, beside its baseline.
// Speed is not asserted here: a loaded test machine says nothing about it.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { areas } from '../bench/areas.js';
import { childrenOf } from '../bench/children.js';
import { eventually, ROOT } from './helpers.js';

const FIGURES = [
  'enqueue_rps',
  'status_rps',
  'status_vs_hello_rps',
  'healthz_rps',
  'worker_jobs_per_s',
  'worker_vs_bare_jobs_per_s',
  'worker_maths_jobs_per_s',
  'e2e_p50_ms',
  'e2e_p99_ms',
  'backlog_status_ms',
  'backlog_unknown_ms',
  'backlog_submit_ms',
  'backlog_status_redis_us',
  'server_rss_idle_mb',
  'server_rss_load_mb',
  'worker_rss_idle_mb',
  'worker_rss_load_mb',
  'server_ready_ms',
  'worker_ready_ms',
];

describe('bench --quick', () => {
  it('measures every figure and its baseline, prints the table and writes the JSON', async () => {
    const out = mkdtempSync(join(tmpdir(), 'selfhost-bench-test-'));
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--quick', '--out', out], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code, output).toBe(0);

    // The smoke run leaves the committed bench/results/latest.json alone.
    const files = readdirSync(out);
    expect(files, output).toHaveLength(1);
    expect(files[0]).toMatch(/^\d{4}-\d\d-\d\dT[\d-]+Z\.json$/);
    const record = JSON.parse(readFileSync(join(out, files[0]), 'utf8'));
    expect(['wait', 'poll']).toContain(record.e2e_mode);
    expect(record.figures.map((f: { key: string }) => f.key)).toEqual(FIGURES);
    for (const f of record.figures) {
      expect(f.value, f.key).toBeGreaterThan(0);
      expect(f.baseline.value, f.key).toBeGreaterThan(0);
      expect(Number.isFinite(f.ratio), f.key).toBe(true);
      expect(output).toContain(f.label);
    }
  }, 180_000);

  it('stops its Redis and every process it started when it is sent SIGTERM mid-run, and exits 143', async () => {
    const out = mkdtempSync(join(tmpdir(), 'selfhost-bench-test-'));
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--quick', '--out', out], { cwd: ROOT, stdio: 'ignore' });
    const code = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const descendants = (pid: number): number[] => childrenOf(pid).flatMap((c) => [c, ...descendants(c)]);
    // Its private Redis, and a server starting up to be timed.
    const started = await eventually(async () => {
      const pids = descendants(child.pid!);
      return pids.length >= 2 ? pids : undefined;
    }, 60_000, 50);
    child.kill('SIGTERM');
    expect(await code).toBe(143);
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
      } catch {
        return false;
      }
    };
    await eventually(async () => (started.some(alive) ? undefined : true), 10_000);
  }, 90_000);
});

describe('bench/areas.ts', () => {
  it('charges each sample to the innermost known area, a syscall to the code that made it, and skips start-up', () => {
    const frame = (functionName: string, url: string) => ({ functionName, url });
    const node = (id: number, f: ReturnType<typeof frame>, children: number[] = []) => ({ id, callFrame: f, children });
    const profile = {
      nodes: [
        node(1, frame('(root)', ''), [2, 3, 6, 8, 9]),
        node(2, frame('(idle)', '')),
        node(3, frame('respond', 'file:///app/node_modules/@hono/node-server/dist/index.mjs'), [4]),
        node(4, frame('sendCommand', 'file:///app/node_modules/ioredis/built/Redis.js'), [5]),
        node(5, frame('writeBuffer', '')),
        node(6, frame('log', 'file:///app/dist/src/core/http/request-log.js'), [7]),
        node(7, frame('write', 'file:///app/node_modules/pino/lib/proto.js')),
        node(8, frame('loadModule', 'node:internal/modules/esm/loader')),
        node(9, frame('(garbage collector)', '')),
      ],
      // Start-up first (module loading, 50 µs), then the first answer: from there on everything counts.
      samples: [8, 3, 5, 5, 7, 2, 9, 8],
      timeDeltas: [50, 10, 20, 20, 5, 100, 3, 7],
    };
    expect(Object.fromEntries(areas(profile))).toEqual({
      '@hono/node-server (incl. the answer\'s socket write)': 10,
      'ioredis (incl. its socket writes)': 40,
      'request log': 5,
      '(idle)': 100,
      '(garbage collector)': 3,
      'Node.js (HTTP parsing, timers, module loading)': 7,
    });
  });
});
