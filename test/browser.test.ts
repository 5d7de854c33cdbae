// What a person sees in a real headless Chromium: the job dashboard with a finished task, and the API docs.
// Both must load everything from this server (they work offline) without breaking their CSP.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basic, eventually, ROOT, startStack, USERS, type Stack } from './helpers.js';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ARTIFACTS = join(ROOT, 'test-artifacts');
const HOW_TO_INSTALL = [
  `Chromium was not found at ${CHROMIUM}; the browser tests need it. Install it:`,
  '  Debian/Ubuntu: sudo apt-get update && sudo apt-get install -y chromium',
  '  elsewhere:     set CHROMIUM_PATH to a Chromium or Chrome executable',
].join('\n');

let stack: Promise<Stack> | undefined;
let base: string;
let profile: string;
let browser: BrowserContext;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(HOW_TO_INSTALL);
  stack = startStack({ server: { dashboard: { users: ['alice'] } } });
  profile = mkdtempSync(join(tmpdir(), 'chromium-profile-'));
  const [context, started] = await Promise.all([
    chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ],
      viewport: { width: 1280, height: 800 },
      httpCredentials: { username: 'alice', password: USERS.alice },
    }),
    stack,
  ]);
  browser = context;
  base = started.base;
  mkdirSync(ARTIFACTS, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  await stack?.then((s) => s.stop(), () => {});
  if (profile) rmSync(profile, { recursive: true, force: true });
});

const get = (path: string, init: RequestInit = {}, auth: string | null = basic('alice')) =>
  fetch(base + path, { ...init, headers: auth ? { Authorization: auth } : {} });

/** A page that records console errors (CSP violations land there) and every URL it asks for. */
async function open(): Promise<{ page: Page; errors: string[]; requested: string[] }> {
  const page = await browser.newPage();
  page.setDefaultTimeout(10_000);
  const errors: string[] = [];
  const requested: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('request', (r) => requested.push(r.url()));
  return { page, errors, requested };
}

const elsewhere = (urls: string[]) => urls.filter((url) => !url.startsWith(`${base}/`) && !url.startsWith('data:'));

describe('dashboard', () => {
  it('renders the board, lists the queue and shows a finished task', async () => {
    const { task_id } = await (await get('/math/20/22')).json();
    await eventually(async () => ((await (await get(`/tasks/${task_id}`)).json()).task_status === 'SUCCESS' ? true : undefined));

    const { page, errors, requested } = await open();
    const res = await page.goto(`${base}/admin/queues`);
    expect(res?.status()).toBe(200);
    const queue = page.getByRole('navigation').getByRole('link', { name: 'tasks', exact: true });
    await queue.waitFor();
    await queue.click();
    await page.getByText(/^completed/i).first().click();
    await page.getByText(task_id).waitFor();
    await page.getByText('returnValue').waitFor();
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png') });

    const card = await page.locator('body').innerText();
    expect(card).toContain('maths');
    expect(card).toMatch(/returnValue:\s*142/);
    expect(errors).toEqual([]);
    expect(elsewhere(requested)).toEqual([]);
    await page.close();
  });

  it('lets only dashboard users in, and refuses changes while read-only', async () => {
    const anonymous = await get('/admin/queues', {}, null);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('WWW-Authenticate')).toContain('Basic');
    const bob = await get('/admin/queues/api/queues', {}, basic('bob'));
    expect(bob.status).toBe(403);
    expect(await bob.json()).toEqual({ msg: 'not a dashboard user', status: 403 });

    const page = await get('/admin/queues');
    expect(page.status).toBe(200);
    expect(page.headers.get('Content-Security-Policy')).toContain("default-src 'none'");
    expect(await page.text()).not.toMatch(/https?:\/\//);

    const queues = await get('/admin/queues/api/queues');
    expect(queues.status).toBe(200);
    expect((await queues.json()).queues.map((q: { name: string; readOnlyMode: boolean }) => [q.name, q.readOnlyMode])).toEqual([['tasks', true]]);
    const clean = await get('/admin/queues/api/queues/tasks/clean/completed', { method: 'PUT' });
    expect(clean.status).toBe(405);
    expect(await clean.json()).toEqual({ msg: 'the dashboard is read-only', status: 405 });
    const completed = await (await get('/admin/queues/api/queues?activeQueue=tasks&status=completed')).json();
    expect(completed.queues[0].counts.completed).toBeGreaterThan(0);
  });
});

describe('API docs', () => {
  it('render from local assets under their CSP, and queue a task with "Try it out"', async () => {
    const { page, errors, requested } = await open();
    const res = await page.goto(`${base}/docs`);
    expect(res?.headers()['content-security-policy']).toContain("script-src 'self'");
    await page.getByText('/tasks/{id}', { exact: true }).first().waitFor();

    await page.getByRole('button', { name: 'Authorize' }).first().click();
    const dialog = page.locator('.modal-ux');
    await dialog.getByLabel('auth-basic-username').fill('alice');
    await dialog.getByLabel('auth-basic-password').fill(USERS.alice);
    await dialog.getByRole('button', { name: 'Apply credentials' }).click();
    await dialog.getByRole('button', { name: 'Close', exact: true }).click();

    await page.getByText('/sleep/{seconds}').click();
    await page.getByRole('button', { name: 'Try it out' }).click();
    await page.getByPlaceholder('seconds').fill('0');
    await page.getByRole('button', { name: 'Execute' }).click();
    const answer = page.locator('.live-responses-table .response');
    await answer.locator('.response-col_status').getByText('202', { exact: true }).waitFor();
    expect(await answer.innerText()).toContain('process started');
    await page.screenshot({ path: join(ARTIFACTS, 'docs.png'), fullPage: true });

    expect(errors).toEqual([]);
    expect(elsewhere(requested)).toEqual([]);
    await page.close();
  });
});
