// The soak script's smoke run, so that `npm run soak` cannot rot: the same code on 100 tasks.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers.js';

describe('soak --quick', () => {
  it('loses no task, completes none twice, and survives a worker stopped mid-task', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/soak.ts', '--quick'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(out).toMatch(/accepted and not final \(lost or stuck\)\s+0\n/);
    expect(out).toMatch(/completed twice \(worker logs\)\s+0\n/);
    expect(out).toMatch(/SUCCESS\s+100\n/);
    expect(out).toMatch(/^PASS/m);
    expect(code, out).toBe(0);
  }, 90_000);
});
