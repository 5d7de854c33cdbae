// Tracing: one trace from the request to the service's run, seen by the SDK's in-memory exporter in one
// process, and by an OTLP/HTTP receiver across the real server, worker and service processes; the log
// lines that go with it; and, with tracing off, no SDK loaded anywhere.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createLogger } from '../src/core/process/logger.js';
import { startTracing, stopTracing, tracingWanted } from '../src/core/process/tracing.js';
import { createRunner } from '../src/core/worker/dispatch.js';
import { taskProcessor } from '../src/core/worker/processor.js';
import type { Sandbox, SandboxRun } from '../src/core/worker/sandbox.js';
import { basic, eventually, redisUrl, ROOT, services, startProcess, startStack, testApp, type Proc, type Stack } from './helpers.js';

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

const jsonLines = (proc: Proc) =>
  proc
    .stdout()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('in one process, with the in-memory exporter', () => {
  const memory = new InMemorySpanExporter();
  let api: ReturnType<typeof testApp>;
  let connection: Redis;
  let worker: Worker;

  beforeAll(async () => {
    await startTracing('test', { exporter: memory });
    api = testApp();
    // The worker's processor as the worker runs it; for the service process, the runner it runs each task
    // with, here in this process, given what the worker sends it (the real one: the test below).
    const runner = createRunner(services, api.serviceOptions);
    const log = createLogger('silent', 'test');
    const sandbox = {
      run: (task: SandboxRun) =>
        runner(task.name, task.input, {
          log, taskId: task.taskId, signal: task.signal, resume: task.resume, trace: task.trace,
          progress: async (value) => task.onProgress(value),
          checkpoint: async (state) => task.onCheckpoint(state),
        }),
    } as unknown as Sandbox;
    connection = new Redis(redisUrl(), { maxRetriesPerRequest: null });
    const tasks = taskProcessor({ services, sandbox, redis: connection, defaultTimeout: 60, killAfter: 5, progressRate: 10, log });
    worker = new Worker('tasks', tasks.processor, { connection, prefix: api.config.queue_prefix, concurrency: 1 });
  });

  afterAll(async () => {
    await worker?.close();
    connection?.disconnect();
    await api?.close();
    await stopTracing();
  });

  /** Submits `body` to POST /math, waits until the task is final; returns it, the answer and the spans of its trace. */
  async function mathsTask(body: object, headers: Record<string, string> = {}) {
    const res = await api.request('/math', 'alice', { method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json', ...headers } });
    expect(res.status).toBe(202);
    const { task_id: taskId } = (await res.json()) as { task_id: string };
    const status = await eventually(async () => {
      const s = await api.tasks.status(taskId, 'alice');
      return s && ['SUCCESS', 'FAILURE'].includes(s.task_status) ? s : undefined;
    });
    const server = memory.getFinishedSpans().find((s) => s.kind === SpanKind.SERVER && s.attributes['selfhost.request_id'] === res.headers.get('X-Request-Id'))!;
    const trace = memory.getFinishedSpans().filter((s) => s.spanContext().traceId === server.spanContext().traceId);
    const one = (name: string) => {
      const found = trace.filter((s) => s.name === name);
      expect(found.map((s) => s.name)).toEqual([name]);
      return found[0];
    };
    return { taskId, status, res, server, one };
  }

  const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
  const idOf = (span: ReadableSpan) => span.spanContext().spanId;

  it('makes one trace of the request, the enqueue, the job, the service\'s run and its own spans, continuing an incoming traceparent', async () => {
    const [traceId, parentId] = [hex(16), hex(8)];
    const { taskId, status, res, server, one } = await mathsTask({ a: 1, b: 2 }, { traceparent: `00-${traceId}-${parentId}-01` });
    expect(status.task_result).toBe(103);

    expect(server.spanContext().traceId).toBe(traceId);
    expect(parentOf(server)).toBe(parentId);
    expect(server.name).toBe('POST /math');
    expect(server.attributes).toMatchObject({
      'http.request.method': 'POST', 'http.route': '/math', 'http.response.status_code': 202,
      'user.name': 'alice', 'selfhost.request_id': res.headers.get('X-Request-Id'),
    });

    const send = one('send tasks');
    expect(send.kind).toBe(SpanKind.PRODUCER);
    expect(parentOf(send)).toBe(idOf(server));
    expect(send.attributes).toMatchObject({ 'selfhost.task_id': taskId, 'selfhost.service': 'maths', 'messaging.destination.name': 'tasks' });

    const job = one('process tasks');
    expect(job.kind).toBe(SpanKind.CONSUMER);
    expect(parentOf(job)).toBe(idOf(send));
    expect(job.attributes).toMatchObject({ 'selfhost.task_id': taskId, 'selfhost.service': 'maths', 'selfhost.attempt': 1 });

    const run = one('run maths');
    expect(parentOf(run)).toBe(idOf(job));
    expect(run.attributes).toMatchObject({ 'selfhost.task_id': taskId });
    // The service's own spans, made with ctx.span().
    expect(parentOf(one('a + b'))).toBe(idOf(run));
    expect(parentOf(one('+ 100'))).toBe(idOf(run));
    for (const span of [server, send, job, run]) expect(span.status.code).not.toBe(SpanStatusCode.ERROR);
  });

  it('starts a trace of its own without a traceparent, and marks the run and the job failed when the service fails', async () => {
    const { status, server, one } = await mathsTask({ op: 'div', a: 1, b: 0 });
    expect(status).toMatchObject({ task_status: 'FAILURE', error: 'division by zero' });
    expect(server.parentSpanContext).toBeUndefined();
    const run = one('run maths');
    expect(run.status).toMatchObject({ code: SpanStatusCode.ERROR, message: 'division by zero' });
    expect(one('process tasks').status.code).toBe(SpanStatusCode.ERROR);
    expect(parentOf(run)).toBe(idOf(one('process tasks')));
  });
});

/** A span as an OTLP/JSON export carries it, with its resource's service.name. */
interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
}

interface OtlpAttribute {
  key: string;
  value: Record<string, unknown>;
}

const attributesOf = (list: OtlpAttribute[] = []) => Object.fromEntries(list.map(({ key, value }) => [key, Object.values(value)[0]]));

/** A node:http OTLP/HTTP receiver: the spans of every JSON export POSTed to /v1/traces, and the content types they came with. */
async function otlpReceiver() {
  const spans: ReceivedSpan[] = [];
  const contentTypes = new Set<string>();
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      contentTypes.add(String(req.headers['content-type']));
      if (req.method === 'POST' && req.url === '/v1/traces') {
        const { resourceSpans = [] } = JSON.parse(body) as { resourceSpans?: { resource?: { attributes?: OtlpAttribute[] }; scopeSpans?: { spans?: (ReceivedSpan & { attributes?: OtlpAttribute[] })[] }[] }[] };
        for (const { resource, scopeSpans = [] } of resourceSpans) {
          const service = String(attributesOf(resource?.attributes)['service.name']);
          for (const { spans: list = [] } of scopeSpans) {
            for (const s of list) spans.push({ ...s, service, parentSpanId: s.parentSpanId || undefined, attributes: attributesOf(s.attributes) });
          }
        }
      }
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, spans, contentTypes, close: () => new Promise((resolve) => server.close(resolve)) };
}

describe('across the server, worker and service processes, over OTLP/HTTP in JSON', () => {
  let receiver: Awaited<ReturnType<typeof otlpReceiver>>;
  let stack: Stack;
  const [traceId, parentId] = [hex(16), hex(8)];
  let maths: { taskId: string; requestId: string };
  let sleep: { taskId: string; requestId: string };

  beforeAll(async () => {
    receiver = await otlpReceiver();
    stack = await startStack({
      // No batch goes out on its own within the test: only the flush after a service's run, and the ones at shutdown.
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '600000' },
    });
    const submit = async (path: string, init: RequestInit & { headers?: Record<string, string> } = {}) => {
      const res = await fetch(stack.base + path, { ...init, headers: { Authorization: basic('alice'), ...init.headers } });
      expect(res.status).toBe(202);
      const { task_id: taskId } = (await res.json()) as { task_id: string };
      await eventually(async () => ((await (await fetch(`${stack.base}/tasks/${taskId}`, { headers: { Authorization: basic('alice') } })).json()).task_status === 'SUCCESS' ? true : undefined));
      return { taskId, requestId: res.headers.get('X-Request-Id')! };
    };
    maths = await submit('/math', { method: 'POST', body: JSON.stringify({ a: 1, b: 2 }), headers: { 'Content-Type': 'application/json', traceparent: `00-${traceId}-${parentId}-01` } });
    sleep = await submit('/sleep/0');
    // Stopped before the spans are read: the server's and the worker's come with their shutdown.
    await stack.stop();
  });

  afterAll(async () => {
    await stack?.stop();
    await receiver?.close();
  });

  it('sends one trace, continuing the incoming traceparent, from the server\'s request to the service process\'s spans', () => {
    expect([...receiver.contentTypes]).toEqual(['application/json']);
    const trace = receiver.spans.filter((s) => s.traceId === traceId);
    const one = (name: string) => {
      const found = trace.filter((s) => s.name === name);
      expect(found.map((s) => s.name)).toEqual([name]);
      return found[0];
    };
    const server = one('POST /math');
    const send = one('send tasks');
    const job = one('process tasks');
    const run = one('run maths');
    expect(server).toMatchObject({ service: 'selfhost-server', parentSpanId: parentId, attributes: { 'http.route': '/math', 'selfhost.request_id': maths.requestId } });
    expect(send).toMatchObject({ service: 'selfhost-server', parentSpanId: server.spanId, attributes: { 'selfhost.task_id': maths.taskId } });
    expect(job).toMatchObject({ service: 'selfhost-worker', parentSpanId: send.spanId, attributes: { 'selfhost.task_id': maths.taskId } });
    expect(run).toMatchObject({ service: 'selfhost-worker', parentSpanId: job.spanId, attributes: { 'selfhost.task_id': maths.taskId } });
    expect(one('+ 100')).toMatchObject({ parentSpanId: run.spanId });
    // OTLP's span kinds: SERVER 2, PRODUCER 4, CONSUMER 5.
    expect([server.kind, send.kind, job.kind]).toEqual([2, 4, 5]);
  });

  it('logs level names, the trace\'s ids on the lines written inside a span, and the request id on the worker\'s lines of a task', () => {
    const serverLines = jsonLines(stack.server);
    const request = serverLines.find((l) => l.msg === 'request' && l.request_id === maths.requestId)!;
    const serverSpan = receiver.spans.find((s) => s.name === 'POST /math' && s.traceId === traceId)!;
    expect(request).toMatchObject({ level: 'info', trace_id: traceId, span_id: serverSpan.spanId, task_id: maths.taskId });

    const workerLines = jsonLines(stack.worker);
    const slept = workerLines.find((l) => l.msg === 'slept' && l.task_id === sleep.taskId)!;
    const run = receiver.spans.find((s) => s.name === 'run sleep' && s.attributes['selfhost.task_id'] === sleep.taskId)!;
    expect(slept).toMatchObject({ level: 'info', request_id: sleep.requestId, trace_id: run.traceId, span_id: run.spanId });
    expect(workerLines.find((l) => l.msg === 'task done' && l.task_id === sleep.taskId)).toMatchObject({ level: 'info', request_id: sleep.requestId });
  });
});

describe('with no OTEL_* variable set', () => {
  let stack: Stack;
  const modules = mkdtempSync(join(tmpdir(), 'selfhost-modules-'));
  let task: { taskId: string; requestId: string };

  beforeAll(async () => {
    stack = await startStack({
      env: { NODE_OPTIONS: `--import=${join(ROOT, 'test/fixtures/loaded-modules.js')}`, LOADED_MODULES_DIR: modules },
    });
    const res = await fetch(`${stack.base}/sleep/0`, { headers: { Authorization: basic('alice') } });
    expect(res.status).toBe(202);
    const { task_id: taskId } = (await res.json()) as { task_id: string };
    await eventually(async () => ((await (await fetch(`${stack.base}/tasks/${taskId}`, { headers: { Authorization: basic('alice') } })).json()).task_status === 'SUCCESS' ? true : undefined));
    task = { taskId, requestId: res.headers.get('X-Request-Id')! };
    await stack.stop();
  });

  afterAll(() => stack?.stop());

  it('loads no OpenTelemetry SDK or exporter in the server, the worker or its service process', () => {
    const lists = readdirSync(modules).map((file) => JSON.parse(readFileSync(join(modules, file), 'utf8')) as string[]);
    // The server, the worker, the service process; each loaded the template's dependencies (pino, say).
    expect(lists.length).toBeGreaterThanOrEqual(3);
    for (const list of lists) {
      expect(list.some((path) => path.includes('/node_modules/pino/'))).toBe(true);
      // The API alone may be there: prom-client loads it by itself (for exemplars), in whatever serves /metrics.
      expect(list.filter((path) => path.includes('/@opentelemetry/') && !path.includes('/@opentelemetry/api/'))).toEqual([]);
    }
    // The worker (no health port here, so no prom-client) and its service process: not even the API.
    expect(lists.filter((list) => !list.some((path) => path.includes('/@opentelemetry/'))).length).toBeGreaterThanOrEqual(2);
  });

  it('logs level names, no trace ids, and the request id on the worker\'s lines of a task', () => {
    const lines = [...jsonLines(stack.server), ...jsonLines(stack.worker)];
    expect(lines.length).toBeGreaterThan(3);
    for (const line of lines) {
      expect(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).toContain(line.level);
      expect(line).not.toHaveProperty('trace_id');
    }
    const taskLines = jsonLines(stack.worker).filter((l) => l.task_id === task.taskId);
    expect(taskLines.map((l) => l.msg)).toEqual(expect.arrayContaining(['slept', 'task done']));
    for (const line of taskLines) expect(line.request_id).toBe(task.requestId);
  });
});

describe('a variable tracing cannot honour', () => {
  it('stops the server at start, naming it', async () => {
    const proc = startProcess('src/server.ts', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' });
    expect(await proc.exited).toBe(1);
    expect(proc.output()).toContain('config error:\nenvironment: OTEL_EXPORTER_OTLP_PROTOCOL: grpc is not supported');
  });
});

describe('compose.tracing.yaml', () => {
  it('adds a collector that takes OTLP over HTTP, and points the server and the workers at it', () => {
    const { services: compose } = parse(readFileSync(join(ROOT, 'compose.tracing.yaml'), 'utf8')) as { services: Record<string, any> };
    expect(compose.jaeger.command.join(' ')).toContain('receivers.otlp.protocols.http.endpoint=0.0.0.0:4318');
    // Its UI on this machine only, like the server's port.
    expect(compose.jaeger.ports).toEqual(['127.0.0.1:16686:16686']);
    for (const name of ['server', 'worker']) {
      const { environment } = compose[name];
      expect(environment.OTEL_EXPORTER_OTLP_ENDPOINT).toBe('http://jaeger:4318');
      expect(tracingWanted(environment)).toBe(true);
    }
  });
});
