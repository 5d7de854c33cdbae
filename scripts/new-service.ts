// `npm run new-service NAME`: writes src/services/NAME.ts (kebab-case) and its test from a template, and adds its
// route to src/routes.ts, the one existing file it changes.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const USAGE = 'usage: npm run new-service NAME [-- --root DIR]';
const TEMPLATES = join(import.meta.dirname, 'templates');

/** Words a name cannot be: JavaScript's reserved words, and what routes.ts already imports. */
const RESERVED = new Set(
  ('break case catch class const continue debugger default delete do else enum export extends false finally for function if ' +
    'import in instanceof new null return super switch this throw true try typeof var void while with yield let static ' +
    'implements interface package private protected public await arguments eval undefined ' +
    'routes get post').split(' '),
);
/** First path segments the server already serves. */
const TAKEN_PATHS = new Set(['tasks', 'docs', 'admin', 'metrics', 'healthz', 'readyz', 'openapi']);

class Refusal extends Error {}

/**
 * The two spellings of one name: `resize-image` and `resizeImage` give the same pair. Kebab-case is
 * what users see (the file name, the service's stable name, the route); camelCase is the import, since a
 * JavaScript identifier cannot hold a hyphen. A one-word name is spelled the same both ways.
 */
function spellings(name: string): { kebab: string; camel: string } {
  if (/^[a-z][a-z0-9]*(-[a-z][a-z0-9]*)*$/.test(name)) return { kebab: name, camel: name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()) };
  if (/^[a-z][a-zA-Z0-9]*$/.test(name)) {
    // parseURL would become parse-u-r-l.
    if (/[A-Z]{2}/.test(name)) throw new Refusal(`"${name}" has capitals in a row: capitalise only the first letter of each word (parseUrl or parse-url, not parseURL)`);
    return { kebab: name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`), camel: name };
  }
  throw new Refusal(
    `"${name}" is not a valid name: use words of lower-case letters and digits, each starting with a letter, ` +
      'joined by hyphens (resize-image) or in camelCase (resizeImage)',
  );
}

/** The files to write, computed in full before any is written: a refusal leaves the tree untouched. */
export function plan(root: string, name: string): Map<string, string> {
  const { kebab, camel } = spellings(name);
  if (RESERVED.has(camel)) throw new Refusal(`"${camel}" is a reserved word or already used in src/routes.ts`);
  if (TAKEN_PATHS.has(kebab)) throw new Refusal(`"${kebab}" clashes with the server's own /${kebab} route`);
  // Either spelling already in use is a clash: `resizeImage.ts` or a `/resizeImage` route predates kebab-case names.
  const both = [...new Set([kebab, camel])];
  const dir = join(root, 'src', 'services');
  const routesFile = join(root, 'src', 'routes.ts');
  if (!existsSync(routesFile)) throw new Refusal(`${routesFile} not found: run this in the project's root, or pass --root`);
  for (const file of both.flatMap((n) => [join(dir, `${n}.ts`), join(dir, `${n}.test.ts`)])) {
    if (existsSync(file)) throw new Refusal(`${file} already exists`);
  }
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const text = readFileSync(join(dir, file), 'utf8');
    for (const n of both) {
      if (new RegExp(`^\\s*name:\\s*['"\`]${n}['"\`]`, 'm').test(text)) throw new Refusal(`a service named "${n}" already exists in ${join(dir, file)}`);
    }
  }
  const routes = readFileSync(routesFile, 'utf8');
  const imported = new RegExp(`^import\\s+(type\\s+)?(${camel}|\\{[^}]*\\b${camel}\\b[^}]*\\})\\s+from`, 'm');
  if (imported.test(routes)) throw new Refusal(`"${camel}" is already imported in ${routesFile}`);
  for (const n of both) {
    if (new RegExp(`['"\`]/${n}(/|['"\`])`).test(routes)) throw new Refusal(`a route under /${n} already exists in ${routesFile}`);
  }

  const lastRoute = [...routes.matchAll(/^([ \t]*)(get|post)\(.*\),[ \t]*$/gm)].at(-1);
  if (!lastRoute) throw new Refusal(`cannot find a line such as "post('/path', service)," in ${routesFile} to add the route after`);

  const afterLastImport = (text: string, line: string) => {
    const imports = [...text.matchAll(/^import .*;$/gm)];
    const end = imports.length > 0 ? imports.at(-1)!.index! + imports.at(-1)![0].length : 0;
    return `${text.slice(0, end)}\n${line}${text.slice(end)}`;
  };
  const routeEnd = lastRoute.index! + lastRoute[0].length;
  const withRoute = `${routes.slice(0, routeEnd)}\n${lastRoute[1]}post('/${kebab}', ${camel}),${routes.slice(routeEnd)}`;
  const newRoutes = afterLastImport(withRoute, `import ${camel} from './services/${kebab}.js';`);

  const fill = (template: string) =>
    readFileSync(join(TEMPLATES, template), 'utf8').replaceAll('__NAME__', kebab).replaceAll('__IDENTIFIER__', camel);
  return new Map([
    [join(dir, `${kebab}.ts`), fill('service.ts.tmpl')],
    [join(dir, `${kebab}.test.ts`), fill('service.test.ts.tmpl')],
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
    const { kebab } = spellings(name);
    process.stdout.write(
      `created src/services/${kebab}.ts and src/services/${kebab}.test.ts\n` +
        `added POST /${kebab} to src/routes.ts\n` +
        `next: write the service, then npx vitest run src/services/${kebab}.test.ts\n`,
    );
    return 0;
  } catch (err) {
    if (!(err instanceof Refusal)) throw err;
    process.stderr.write(`new-service: ${err.message}\n`);
    return 1;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) process.exitCode = main();
