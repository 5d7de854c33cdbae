// Which OTEL_* variables turn tracing on, which ones stop a process at start, and what the SDK reads itself.
import { diag } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigError } from './main.js';
import { logTracingErrors, serviceSpan, startTracing, stopTracing, tracingOn, tracingWanted } from './tracing.js';

afterEach(async () => {
  await stopTracing();
  vi.unstubAllEnvs();
});

describe('tracingWanted', () => {
  it.each([
    [{}, false],
    [{ OTEL_SERVICE_NAME: 'api' }, false],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, true],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }, true],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: '' }, false],
    [{ OTEL_TRACES_EXPORTER: 'otlp' }, true],
    [{ OTEL_TRACES_EXPORTER: 'console' }, true],
    [{ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, false],
    [{ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, false],
    [{ OTEL_SDK_DISABLED: 'false', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, true],
  ])('%j: %s', (env, wanted) => {
    expect(tracingWanted(env)).toBe(wanted);
  });
});

describe('startTracing', () => {
  it('stays off, loading nothing, when no variable asks for it', async () => {
    expect(await startTracing('test')).toBe(false);
    expect(tracingOn()).toBe(false);
    // A service's span is then its function alone.
    expect(await serviceSpan('step', () => 42)).toBe(42);
    await expect(serviceSpan('step', () => Promise.reject(new Error('broken')))).rejects.toThrow('broken');
  });

  it.each([
    [{ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, 'environment: OTEL_EXPORTER_OTLP_PROTOCOL: grpc is not supported'],
    [{ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }, 'environment: OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: grpc is not supported'],
    [{ OTEL_EXPORTER_OTLP_PROTOCOL: 'http' }, 'environment: OTEL_EXPORTER_OTLP_PROTOCOL: "http" is not an OTLP protocol'],
    [{ OTEL_TRACES_EXPORTER: 'zipkin' }, 'environment: OTEL_TRACES_EXPORTER: "zipkin" is not an exporter this program has'],
    [{ OTEL_TRACES_SAMPLER: 'sometimes' }, 'environment: OTEL_TRACES_SAMPLER: "sometimes" is not a sampler'],
    [{ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '10%' }, 'environment: OTEL_TRACES_SAMPLER_ARG: "10%" is not a ratio'],
  ])('refuses %j, naming the variable', async (env, message) => {
    vi.stubEnv('OTEL_EXPORTER_OTLP_ENDPOINT', 'http://127.0.0.1:4318');
    for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
    const start = startTracing('test');
    await expect(start).rejects.toThrow(ConfigError);
    await expect(start).rejects.toThrow(message);
    expect(tracingOn()).toBe(false);
  });

  it('names the service as told, OTEL_SERVICE_NAME over the default', async () => {
    const named = async () => {
      const memory = new InMemorySpanExporter();
      await startTracing('selfhost-worker', { exporter: memory });
      await serviceSpan('step', () => {});
      const names = memory.getFinishedSpans().map((s) => s.resource.attributes['service.name']);
      await stopTracing();
      return names;
    };
    expect(await named()).toEqual(['selfhost-worker']);
    vi.stubEnv('OTEL_SERVICE_NAME', 'billing-worker');
    expect(await named()).toEqual(['billing-worker']);
  });

  it('samples as OTEL_TRACES_SAMPLER says', async () => {
    vi.stubEnv('OTEL_TRACES_SAMPLER', 'always_off');
    const memory = new InMemorySpanExporter();
    await startTracing('test', { exporter: memory });
    expect(await serviceSpan('step', () => 'done', { size: 3 })).toBe('done');
    expect(memory.getFinishedSpans()).toEqual([]);
  });

  it('records a service\'s span, nested in the one around it, and its failure', async () => {
    const memory = new InMemorySpanExporter();
    await startTracing('test', { exporter: memory });
    await serviceSpan('outer', () => serviceSpan('inner', () => 1, { size: 3 }));
    await expect(serviceSpan('broken', () => Promise.reject(new Error('no luck')))).rejects.toThrow('no luck');
    const [inner, outer, broken] = memory.getFinishedSpans();
    expect(inner).toMatchObject({ name: 'inner', attributes: { size: 3 } });
    expect(inner.parentSpanContext?.spanId).toBe(outer.spanContext().spanId);
    expect(broken.status).toMatchObject({ code: 2, message: 'no luck' });
  });
});

describe('logTracingErrors', () => {
  it('logs what the SDK reports as a warning with the error\'s message, at most one a minute', async () => {
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    await startTracing('test', { exporter: new InMemorySpanExporter() });
    logTracingErrors(log);
    // What the batch processor reports when its export fails: the error, as JSON.
    diag.error(JSON.stringify({ message: 'connect ECONNREFUSED 127.0.0.1:4318', code: 'ECONNREFUSED' }));
    diag.error(JSON.stringify({ message: 'connect ECONNREFUSED 127.0.0.1:4318', code: 'ECONNREFUSED' }));
    expect(lines).toEqual([expect.objectContaining({ level: 40, msg: 'tracing: connect ECONNREFUSED 127.0.0.1:4318' })]);
  });
});
