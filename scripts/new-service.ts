// `npm run new-service NAME`: writes src/services/NAME.ts and its test from a template, adds the registry entry and a route.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const USAGE = 'usage: npm run new-service NAME [-- --root DIR]';
const TEMPLATES = join(import.meta.dirname, 'templates');

/** Words a name cannot be: JavaScript's reserved words, and what routes.ts and index.ts already import. */
const RESERVED = new Set(
  ('break case catch class const continue debugger default delete do else enum export extends false finally for function if ' +
    'import in instanceof new null return super switch this throw true try typeof var void while with yield let static ' +
    'implements interface package private protected public await arguments eval undefined ' +
    'routes services task Service TaskRouter').split(' '),
);
/** First path segments the server already serves. */
const TAKEN_PATHS = new Set(['tasks', 'docs', 'admin', 'metrics', 'healthz', 'readyz', 'openapi']);

class Refusal extends Error {}

/** The files to write, computed in full before any is written: a refusal leaves the tree untouched. */
export function plan(root: string, name: string): Map<string, string> {
  if (!/^[a-z][a-zA-Z0-9]*$/.test(name)) {
    throw new Refusal(`"${name}" is not a valid name: use a JavaScript identifier of letters and digits starting with a lower-case letter, such as resizeImage`);
  }
  if (RESERVED.has(name)) throw new Refusal(`"${name}" is a reserved word or already used in src/routes.ts or src/services/index.ts`);
  if (TAKEN_PATHS.has(name)) throw new Refusal(`"${name}" clashes with the server's own /${name} route`);
  const dir = join(root, 'src', 'services');
  const registryFile = join(dir, 'index.ts');
  const routesFile = join(root, 'src', 'routes.ts');
  for (const file of [registryFile, routesFile]) {
    if (!existsSync(file)) throw new Refusal(`${file} not found: run this in the project's root, or pass --root`);
  }
  for (const file of [join(dir, `${name}.ts`), join(dir, `${name}.test.ts`)]) {
    if (existsSync(file)) throw new Refusal(`${file} already exists`);
  }
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    if (new RegExp(`^\\s*name:\\s*['"\`]${name}['"\`]`, 'm').test(readFileSync(join(dir, file), 'utf8'))) {
      throw new Refusal(`a service named "${name}" already exists in ${join(dir, file)}`);
    }
  }
  const registry = readFileSync(registryFile, 'utf8');
  const routes = readFileSync(routesFile, 'utf8');
  const imported = new RegExp(`^import\\s+(type\\s+)?(${name}|\\{[^}]*\\b${name}\\b[^}]*\\})\\s+from`, 'm');
  for (const [file, text] of [[registryFile, registry], [routesFile, routes]]) {
    if (imported.test(text)) throw new Refusal(`"${name}" is already imported in ${file}`);
  }
  if (new RegExp(`['"\`]/${name}(/|['"\`])`).test(routes)) throw new Refusal(`a route under /${name} already exists in ${routesFile}`);

  const list = /(export const services: readonly Service\[\] = \[)([^\]]*)(\];)/;
  if (!list.test(registry)) throw new Refusal(`cannot find "export const services: readonly Service[] = [...]" in ${registryFile}`);
  const lastRoute = [...routes.matchAll(/^([ \t]*)task\.(get|post)\(.*$/gm)].at(-1);
  if (!lastRoute) throw new Refusal(`cannot find a task.get(...) or task.post(...) line in ${routesFile} to add the route after`);

  const afterLastImport = (text: string, line: string) => {
    const imports = [...text.matchAll(/^import .*;$/gm)];
    const end = imports.length > 0 ? imports.at(-1)!.index! + imports.at(-1)![0].length : 0;
    return `${text.slice(0, end)}\n${line}${text.slice(end)}`;
  };
  const newRegistry = afterLastImport(registry, `import ${name} from './${name}.js';`).replace(list, (_, open: string, items: string, close: string) =>
    `${open}${items.trim() ? `${items.trimEnd()}, ` : ''}${name}${close}`,
  );
  const routeEnd = lastRoute.index! + lastRoute[0].length;
  const withRoute = `${routes.slice(0, routeEnd)}\n${lastRoute[1]}task.post('/${name}', ${name});${routes.slice(routeEnd)}`;
  const newRoutes = afterLastImport(withRoute, `import ${name} from './services/${name}.js';`);

  const fill = (template: string) => readFileSync(join(TEMPLATES, template), 'utf8').replaceAll('__NAME__', name);
  return new Map([
    [join(dir, `${name}.ts`), fill('service.ts.tmpl')],
    [join(dir, `${name}.test.ts`), fill('service.test.ts.tmpl')],
    [registryFile, newRegistry],
    [routesFile, newRoutes],
  ]);
}

function main(): number {
  let name: string | undefined;
  let root: string;
  try {
    const { values, positionals } = parseArgs({ options: { root: { type: 'string', default: '.' } }, allowPositionals: true });
    if (positionals.length !== 1) throw new Error('give exactly one NAME');
    name = positionals[0];
    root = resolve(values.root);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  try {
    const files = plan(root, name);
    for (const [file, text] of files) writeFileSync(file, text);
    process.stdout.write(
      `created src/services/${name}.ts and src/services/${name}.test.ts\n` +
        `added ${name} to src/services/index.ts and POST /${name} to src/routes.ts\n` +
        `next: write the service, then npx vitest run src/services/${name}.test.ts\n`,
    );
    return 0;
  } catch (err) {
    if (!(err instanceof Refusal)) throw err;
    process.stderr.write(`new-service: ${err.message}\n`);
    return 1;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) process.exitCode = main();
