// The pod-deletion-cost writer against a local HTTP server that answers as the Kubernetes API does: a
// JSON merge patch of the pod's annotations, with the service account's bearer token. No cluster here.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../process/logger.js';
import { ANNOTATION, deletionCost, podApiFromEnvironment } from './deletion-cost.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

let server: Server | undefined;
afterEach(() => server?.close());

/** A stand-in for the API server: records each request, answers `status` with a Status or the patched pod. */
async function fakeApi(status = 200): Promise<{ base: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  server = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body: JSON.parse(text) });
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(status === 200 ? { kind: 'Pod' } : { kind: 'Status', status: 'Failure', code: status, message: 'pods "w-1" is forbidden: User "system:serviceaccount:selfhost:worker" cannot patch resource "pods"' }));
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

const api = (base: string) => ({ base, namespace: 'selfhost', pod: 'worker-7d9f-abcde', token: 'the-token' });

describe('the pod deletion cost', () => {
  it('is patched onto the pod: busy high while a task runs, idle low after it, the latest value last', async () => {
    const { base, seen } = await fakeApi();
    const cost = deletionCost(api(base), createLogger('silent', 'test'));
    cost.set(true);
    await cost.flush();
    cost.set(false);
    cost.set(true);
    cost.set(false);
    await cost.flush();
    // The three quick changes are coalesced: only the last is written.
    expect(seen).toHaveLength(2);
    for (const s of seen) {
      expect(s.method).toBe('PATCH');
      expect(s.url).toBe('/api/v1/namespaces/selfhost/pods/worker-7d9f-abcde');
      expect(s.headers['content-type']).toBe('application/merge-patch+json');
      expect(s.headers.authorization).toBe('Bearer the-token');
    }
    expect(seen.map((s) => s.body)).toEqual([
      { metadata: { annotations: { [ANNOTATION]: '1000' } } },
      { metadata: { annotations: { [ANNOTATION]: '0' } } },
    ]);
  });

  it('logs a refusal once and goes on, the task unaffected', async () => {
    const { base, seen } = await fakeApi(403);
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
    const cost = deletionCost(api(base), log);
    cost.set(true);
    await cost.flush();
    cost.set(false);
    await cost.flush();
    expect(seen).toHaveLength(2);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('cannot patch resource');
  });

  it('is off outside a cluster, or without a service account token', () => {
    const dir = mkdtempSync(join(tmpdir(), 'selfhost-sa-'));
    const inPod = { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443', POD_NAME: 'w-1', POD_NAMESPACE: 'selfhost' };
    expect(podApiFromEnvironment({}, dir)).toBeUndefined();
    expect(podApiFromEnvironment(inPod, dir)).toBeUndefined();
    writeFileSync(join(dir, 'token'), 'tok\n');
    writeFileSync(join(dir, 'ca.crt'), 'PEM');
    expect(podApiFromEnvironment(inPod, dir)).toEqual({ base: 'https://10.0.0.1:443', namespace: 'selfhost', pod: 'w-1', token: 'tok', ca: 'PEM' });
    expect(podApiFromEnvironment({ ...inPod, POD_NAME: undefined }, dir)).toBeUndefined();
  });
});
