// `npm run new-service NAME` on a copy of the project's files: what it writes works, what it refuses leaves no trace.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { stripVTControlCharacters } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { runLocal } from '../src/core/service/run-local.js';
import { servicesOf, type ServiceRoute } from '../src/core/service/routes.js';
import type { Service } from '../src/core/service/service.js';
import { basic, ROOT, testApp } from './helpers.js';

const roots: string[] = [];

/** A project root holding copies of the files the script edits; the rest is linked to the real project. */
function copyOfProject(): string {
  const root = mkdtempSync(join(tmpdir(), 'selfhost-new-service-'));
  roots.push(root);
  mkdirSync(join(root, 'src'));
  cpSync(join(ROOT, 'src', 'services'), join(root, 'src', 'services'), { recursive: true });
  cpSync(join(ROOT, 'src', 'routes.ts'), join(root, 'src', 'routes.ts'));
  symlinkSync(join(ROOT, 'src', 'core'), join(root, 'src', 'core'));
  symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'));
  writeFileSync(join(root, 'package.json'), JSON.stringify({ type: 'module' }));
  const tsconfig = JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8'));
  delete tsconfig.compilerOptions.rootDir;
  writeFileSync(join(root, 'tsconfig.json'), JSON.stringify({ ...tsconfig, include: ['src/routes.ts', 'src/services'] }));
  return root;
}

function newService(root: string, ...args: string[]) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'new-service.ts'), ...args, '--root', root], { cwd: ROOT, encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const snapshot = (root: string) => {
  const files = ['src/routes.ts', ...readdirSync(join(root, 'src', 'services')).map((f) => `src/services/${f}`)];
  return Object.fromEntries(files.map((f) => [f, readFileSync(join(root, f), 'utf8')]));
};

let closeApp: (() => Promise<void>) | undefined;
const realTree = snapshot(ROOT);

afterAll(async () => {
  await closeApp?.();
  for (const root of roots) rmSync(root, { recursive: true, force: true });
  expect(snapshot(ROOT)).toEqual(realTree);
});

describe('npm run new-service', () => {
  it('writes a service and its test and routes POST /NAME, changing no other file: it typechecks, runs and is served', async () => {
    const root = copyOfProject();
    const before = snapshot(root);
    const made = newService(root, 'echo');
    expect(made.stderr).toBe('');
    expect(made.code).toBe(0);
    const after = snapshot(root);
    const changed = Object.keys(before).filter((file) => after[file] !== before[file]);
    expect(changed).toEqual(['src/routes.ts']);
    expect(Object.keys(after).filter((file) => !(file in before)).sort()).toEqual(['src/services/echo.test.ts', 'src/services/echo.ts']);
    expect(readFileSync(join(root, 'src/routes.ts'), 'utf8')).toMatch(/import echo from '\.\/services\/echo\.js';[\s\S]*\n {2}post\('\/echo', echo\),\n\];/);
    // A two-word name: kebab-case file, service name and route; a camelCase import.
    const twoWords = newService(root, 'resizeImage');
    expect(twoWords.stderr).toBe('');
    expect(twoWords.stdout).toContain('created src/services/resize-image.ts and src/services/resize-image.test.ts');
    expect(readFileSync(join(root, 'src/routes.ts'), 'utf8')).toMatch(
      /import resizeImage from '\.\/services\/resize-image\.js';[\s\S]*\n {2}post\('\/resize-image', resizeImage\),\n\];/,
    );

    const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '--noEmit', '-p', root], { encoding: 'utf8' });
    expect(tsc.stdout + tsc.stderr).toBe('');
    const testFiles = ['src/services/echo.test.ts', 'src/services/resize-image.test.ts'];
    const vitest = spawnSync(process.execPath, [join(ROOT, 'node_modules/vitest/vitest.mjs'), 'run', '--root', root, ...testFiles], { encoding: 'utf8' });
    expect(vitest.status, vitest.stdout + vitest.stderr).toBe(0);
    expect(stripVTControlCharacters(vitest.stdout)).toMatch(/Test Files\s+2 passed/);

    const load = async (file: string) => import(pathToFileURL(join(root, file)).href);
    const echo: Service = (await load('src/services/echo.ts')).default;
    expect(await runLocal(echo, { text: 'hi' })).toEqual({ result: { text: 'hi' }, progress: [100], checkpoints: [] });
    const { routes } = (await load('src/routes.ts')) as { routes: ServiceRoute[] };
    expect(servicesOf(routes).map((s) => s.name)).toEqual(['sleep', 'maths', 'echo', 'resize-image']);
    const { app, close } = testApp({}, { routes });
    closeApp = close;
    const headers = { Authorization: basic('alice'), 'Content-Type': 'application/json' };
    expect((await app.request('/echo', { method: 'POST', headers, body: JSON.stringify({ text: 'hi' }) })).status).toBe(202);
    expect((await app.request('/echo', { method: 'POST', headers, body: JSON.stringify({ text: '' }) })).status).toBe(400);
    expect((await app.request('/resize-image', { method: 'POST', headers, body: JSON.stringify({ text: 'hi' }) })).status).toBe(202);
  }, 120_000);

  it('takes resize-image and resizeImage as the same name', () => {
    const [kebab, camel] = [copyOfProject(), copyOfProject()];
    expect(newService(kebab, 'resize-image').code).toBe(0);
    expect(newService(camel, 'resizeImage').code).toBe(0);
    expect(snapshot(camel)).toEqual(snapshot(kebab));
    expect(readFileSync(join(kebab, 'src/services/resize-image.ts'), 'utf8')).toContain("name: 'resize-image',");
  });

  it.each([
    ['9lives', /not a valid name/],
    ['my_service', /not a valid name/],
    ['my--service', /not a valid name/],
    ['my-Service', /not a valid name/],
    ['my-2nd', /not a valid name/],
    ['Echo', /not a valid name/],
    ['parseURL', /capitals in a row/],
    ['class', /reserved word/],
    ['tasks', /clashes with the server's own \/tasks route/],
    ['sleep', /sleep\.ts already exists/],
    ['math', /a route under \/math already exists/],
  ])('refuses %s with a message and exit code 1, writing nothing', (name, message) => {
    const root = copyOfProject();
    const before = snapshot(root);
    const refused = newService(root, name);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(message);
    expect(snapshot(root)).toEqual(before);
  });

  it('refuses a second service of the same name, in either spelling', () => {
    const root = copyOfProject();
    expect(newService(root, 'resize').code).toBe(0);
    expect(newService(root, 'resize-image').code).toBe(0);
    const before = snapshot(root);
    const attempts = [
      ['resize', /resize\.ts already exists/],
      ['resize-image', /resize-image\.ts already exists/],
      ['resizeImage', /resize-image\.ts already exists/],
    ] as const;
    for (const [name, message] of attempts) {
      const again = newService(root, name);
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(message);
    }
    expect(snapshot(root)).toEqual(before);
  });

  /** Replaces `from` with `to` in a file of the copy. */
  const edit = (root: string, file: string, from: string, to: string) => {
    const text = readFileSync(join(root, file), 'utf8');
    expect(text).toContain(from);
    writeFileSync(join(root, file), text.replace(from, to));
  };
  const addRoute = (route: string) => (root: string) => edit(root, 'src/routes.ts', "post('/math', maths),", `post('/math', maths),\n  ${route}`);
  it.each([
    ['resize-image', 'a file resizeImage.ts', (root: string) => writeFileSync(join(root, 'src/services/resizeImage.ts'), ''), /resizeImage\.ts already exists/],
    [
      'resizeImage',
      'a service named resize-image',
      (root: string) => edit(root, 'src/services/maths.ts', "name: 'maths'", "name: 'resize-image'"),
      /a service named "resize-image" already exists in .*maths\.ts/,
    ],
    [
      'resize-image',
      'an import resizeImage',
      (root: string) => edit(root, 'src/routes.ts', "import sleep from './services/sleep.js';", "import sleep from './services/sleep.js';\nimport resizeImage from './services/maths.js';"),
      /"resizeImage" is already imported in .*routes\.ts/,
    ],
    ['resizeImage', 'a route /resize-image', addRoute("post('/resize-image', maths),"), /a route under \/resize-image already exists/],
    ['resize-image', 'a route /resizeImage', addRoute("get('/resizeImage/:text', maths),"), /a route under \/resizeImage already exists/],
  ])('refuses %s beside %s, writing nothing', (name, _, setUp, message) => {
    const root = copyOfProject();
    setUp(root);
    const before = snapshot(root);
    const refused = newService(root, name);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(message);
    expect(snapshot(root)).toEqual(before);
  });

  it('explains its usage without a name', () => {
    const { code, stderr } = newService(copyOfProject());
    expect(code).toBe(2);
    expect(stderr).toContain('usage: npm run new-service NAME');
  });
});
