// Swagger UI at /docs: the page under a CSP of its own, and its assets, all served by this server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp } from '../../../test/helpers.js';
import { DOCS_CSP } from './docs.js';

let app: ReturnType<typeof testApp>['app'];
let close: () => Promise<void>;

beforeAll(() => {
  ({ app, close } = testApp());
});

afterAll(() => close());

describe('/docs', () => {
  it('serves the page under a CSP that allows this server only, and its assets', async () => {
    const res = await app.request('/docs');
    expect(res.status).toBe(200);
    expect(res.headers.get('Content-Security-Policy')).toBe(DOCS_CSP);
    const html = await res.text();
    const urls = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    expect(urls.length).toBeGreaterThanOrEqual(3);
    for (const url of urls) {
      expect(url).toMatch(/^\/docs\//);
      const asset = await app.request(url);
      expect(asset.status, url).toBe(200);
      expect((await asset.arrayBuffer()).byteLength, url).toBeGreaterThan(0);
    }
    expect((await app.request('/docs/package.json')).status).toBe(404);
  });
});
