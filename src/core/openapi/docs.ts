// API docs: the OpenAPI document at /openapi.json and Swagger UI at /docs, its assets served from
// node_modules, so the page works offline and under a CSP that allows nothing but this server.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { serveStatic } from '@hono/node-server/serve-static';
import type { Hono } from 'hono';
import type { AppEnv } from '../http/app-env.js';
import { buildOpenApi } from './document.js';
import type { TaskRoute } from '../api/submit.js';

/** Everything from this server only; swagger-ui's icons are data: images. */
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const ASSETS = ['swagger-ui.css', 'swagger-ui-bundle.js', 'favicon-32x32.png'];

// validatorUrl: null, or swagger-ui sends the document to an online validator.
const INIT = `window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
});
`;

const escape = (text: string) => text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

const page = (title: string) => `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>${escape(title)}: API docs</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
  <link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
`;

export function apiDocs(app: Hono<AppEnv>, serviceRoutes: readonly TaskRoute[]): void {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { name: string; version: string };
  const document = buildOpenApi({ title: pkg.name, version: pkg.version }, serviceRoutes);
  const html = page(pkg.name);
  const uiDir = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

  app.get('/openapi.json', (c) => c.json(document));
  app.get('/docs', (c) => {
    // Set here, not only globally: the page needs exactly this much and no more.
    c.header('Content-Security-Policy', DOCS_CSP);
    return c.html(html);
  });
  app.get('/docs/init.js', (c) => c.body(INIT, 200, { 'Content-Type': 'text/javascript; charset=utf-8' }));
  for (const file of ASSETS) app.get(`/docs/${file}`, serveStatic({ path: join(uiDir, file) }));
}
