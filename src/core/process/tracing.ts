// OpenTelemetry tracing, set up from the standard OTEL_* variables alone. Off unless they ask for an
// exporter: nothing of OpenTelemetry is then loaded, not even its API, and callers check tracingOn() so
// that a request or a task pays nothing for it. docs/observability.md says how to turn it on.
import type { Attributes, Span, SpanStatusCode, Tracer } from '@opentelemetry/api';
import type { SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Logger } from 'pino';
import { ConfigError } from './main.js';

export type { Span };

/** A span's context as W3C headers (`traceparent`, `tracestate`): what a job carries to its worker, and a worker to its service process. */
export type TraceCarrier = Record<string, string>;

/** Attribute values a span takes. */
export type SpanAttributes = Record<string, string | number | boolean>;

type Env = Record<string, string | undefined>;

/** The OpenTelemetry API, loaded by startTracing(): undefined while tracing is off. */
let api: typeof import('@opentelemetry/api') | undefined;
let provider: { forceFlush(): Promise<void>; shutdown(): Promise<void> } | undefined;
let tracer: Tracer | undefined;

/** True once startTracing() has set tracing up in this process. */
export function tracingOn(): boolean {
  return provider !== undefined;
}

/** A variable's value; an empty one counts as unset, as the OpenTelemetry specification says. */
const read = (env: Env, name: string) => env[name]?.trim() || undefined;

const EXPORTERS = ['otlp', 'console', 'none'];
const PROTOCOLS = ['http/protobuf', 'http/json'];
const SAMPLERS = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'];

function fail(name: string, reason: string): never {
  throw new ConfigError(`environment: ${name}: ${reason}`);
}

/** The exporters OTEL_TRACES_EXPORTER names, `[]` when it is unset. */
function exportersOf(env: Env): string[] {
  const names = (read(env, 'OTEL_TRACES_EXPORTER') ?? '').split(',').map((n) => n.trim().toLowerCase()).filter(Boolean);
  const unknown = names.find((n) => !EXPORTERS.includes(n));
  if (unknown) fail('OTEL_TRACES_EXPORTER', `"${unknown}" is not an exporter this program has: use otlp, console or none`);
  return names;
}

/**
 * Whether the environment asks for traces: an OTLP endpoint (OTEL_EXPORTER_OTLP_ENDPOINT or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) or an exporter (OTEL_TRACES_EXPORTER=otlp or console) is set, and
 * neither OTEL_SDK_DISABLED=true nor OTEL_TRACES_EXPORTER=none turns them off. Throws ConfigError for an
 * exporter it does not know.
 */
export function tracingWanted(env: Env = process.env): boolean {
  if (read(env, 'OTEL_SDK_DISABLED')?.toLowerCase() === 'true') return false;
  const exporters = exportersOf(env);
  if (exporters.includes('none')) return false;
  return exporters.length > 0 || read(env, 'OTEL_EXPORTER_OTLP_ENDPOINT') !== undefined || read(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') !== undefined;
}

/** OTLP over HTTP, in protobuf (the specification's default) or JSON; gRPC would need an exporter this program does not ship. */
function protocolOf(env: Env): string {
  const name = read(env, 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL' : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  const protocol = read(env, name) ?? 'http/protobuf';
  if (protocol === 'grpc') {
    fail(name, 'grpc is not supported: this program sends OTLP over HTTP (the gRPC exporter is not installed); use http/protobuf (the default) or http/json, and the collector\'s HTTP port, 4318');
  }
  if (!PROTOCOLS.includes(protocol)) fail(name, `"${protocol}" is not an OTLP protocol: use http/protobuf (the default) or http/json`);
  return protocol;
}

/** The SDK reads the sampler by itself, but only logs a wrong one and samples everything: refuse it instead. */
function checkSampler(env: Env): void {
  const sampler = read(env, 'OTEL_TRACES_SAMPLER');
  if (sampler !== undefined && !SAMPLERS.includes(sampler)) fail('OTEL_TRACES_SAMPLER', `"${sampler}" is not a sampler: use one of ${SAMPLERS.join(', ')}`);
  const ratio = read(env, 'OTEL_TRACES_SAMPLER_ARG');
  if (ratio !== undefined && sampler?.endsWith('traceidratio') && !(Number(ratio) >= 0 && Number(ratio) <= 1)) {
    fail('OTEL_TRACES_SAMPLER_ARG', `"${ratio}" is not a ratio: use a number from 0 to 1`);
  }
}

export interface TracingOptions {
  /** Where spans go, each as it ends, instead of the exporters the environment names: for tests. */
  exporter?: SpanExporter;
}

/**
 * Sets tracing up when the environment asks for it (see tracingWanted) or `exporter` is given: loads the
 * SDK and registers it, with W3C trace context. `serviceName` is the default `service.name`, which
 * OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES override. Call it before createLogger(), whose lines then
 * carry trace_id and span_id. Throws ConfigError for a variable it cannot honour.
 */
export async function startTracing(serviceName: string, { exporter }: TracingOptions = {}): Promise<boolean> {
  if (provider) return true;
  const env = process.env;
  if (!exporter && !tracingWanted(env)) return false;
  checkSampler(env);
  const exporters = exporter ? [] : exportersOf(env);
  if (exporters.length === 0 && !exporter) exporters.push('otlp');
  const protocol = exporters.includes('otlp') ? protocolOf(env) : undefined;

  const [otel, sdk, resources] = await Promise.all([import('@opentelemetry/api'), import('@opentelemetry/sdk-trace-node'), import('@opentelemetry/resources')]);
  const processors: SpanProcessor[] = exporter ? [new sdk.SimpleSpanProcessor(exporter)] : [];
  for (const name of exporters) {
    if (name === 'console') processors.push(new sdk.SimpleSpanProcessor(new sdk.ConsoleSpanExporter()));
    else {
      const { OTLPTraceExporter } = protocol === 'http/json' ? await import('@opentelemetry/exporter-trace-otlp-http') : await import('@opentelemetry/exporter-trace-otlp-proto');
      // The exporter reads its endpoint, headers, timeout and certificates from OTEL_EXPORTER_OTLP_*; the
      // processor its batch settings from OTEL_BSP_*, and the provider the sampler from OTEL_TRACES_SAMPLER.
      processors.push(new sdk.BatchSpanProcessor(new OTLPTraceExporter()));
    }
  }
  const resource = resources
    .defaultResource()
    .merge(resources.resourceFromAttributes({ 'service.name': serviceName }))
    .merge(resources.detectResources({ detectors: [resources.envDetector] }));
  const tracerProvider = new sdk.NodeTracerProvider({ resource, spanProcessors: processors });
  tracerProvider.register();
  api = otel;
  provider = tracerProvider;
  tracer = otel.trace.getTracer('selfhost');
  return true;
}

/**
 * Logs what the SDK reports going wrong (a collector that refuses or does not answer) as warnings, at
 * most one a minute: a collector that is down must not flood the log.
 */
export function logTracingErrors(log: Logger): void {
  if (!api) return;
  let last = 0;
  const report = (message: string, ...args: unknown[]) => {
    if (Date.now() - last < 60_000) return;
    last = Date.now();
    log.warn({ detail: args.map(String).join(' ') || undefined }, `tracing: ${errorMessage(message)}`);
  };
  const quiet = () => {};
  api.diag.setLogger({ error: report, warn: report, info: quiet, debug: quiet, verbose: quiet }, { logLevel: api.DiagLogLevel.WARN, suppressOverrideMessage: true });
}

/** The SDK reports a failed export as the error in JSON: its message says enough. */
function errorMessage(text: string): string {
  try {
    const { message } = JSON.parse(text) as { message?: unknown };
    return typeof message === 'string' ? message : text;
  } catch {
    return text;
  }
}

/** Sends the spans that have ended and not yet gone out; never rejects. */
export async function flushTracing(): Promise<void> {
  await provider?.forceFlush().catch(() => {});
}

/** Sends what is left and stops tracing, within `ms`: a stopping process must not hang on a collector that does not answer. */
export async function stopTracing(ms = 2000): Promise<void> {
  const [stopping, otel] = [provider, api];
  if (!stopping || !otel) return;
  provider = undefined;
  api = undefined;
  tracer = undefined;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([stopping.shutdown().catch(() => {}), new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
  otel.trace.disable();
  otel.context.disable();
  otel.propagation.disable();
  otel.diag.disable();
}

export interface SpanSettings {
  kind?: 'server' | 'producer' | 'consumer' | 'internal';
  attributes?: Attributes;
  /** The parent, from another process; without it, the active span (none: a new trace). */
  parent?: TraceCarrier;
  /** Whether an error `fn` throws marks the span failed (default: every error does). */
  failure?(err: unknown): boolean;
}

/**
 * Runs `fn` in a new span, which is the active one for whatever `fn` does, and ends it when `fn` settles;
 * an error marks it failed and is thrown on. Only while tracingOn(): callers check it, so that with
 * tracing off they pay nothing, and run `fn` without a span.
 */
export async function inSpan<T>(name: string, settings: SpanSettings, fn: (span: Span) => Promise<T> | T): Promise<T> {
  if (!api || !tracer) throw new Error('inSpan() while tracing is off');
  const { context, propagation, trace, SpanKind } = api;
  const parent = settings.parent ? propagation.extract(api.ROOT_CONTEXT, settings.parent) : context.active();
  const kind = { server: SpanKind.SERVER, producer: SpanKind.PRODUCER, consumer: SpanKind.CONSUMER, internal: SpanKind.INTERNAL }[settings.kind ?? 'internal'];
  const span = tracer.startSpan(name, { kind, attributes: settings.attributes }, parent);
  try {
    return await context.with(trace.setSpan(parent, span), fn, undefined, span);
  } catch (err) {
    if (settings.failure?.(err) ?? true) failSpan(span, err);
    throw err;
  } finally {
    span.end();
  }
}

/** SpanStatusCode.ERROR, without loading the API to read it. */
const ERROR = 2 as SpanStatusCode;

/** Marks `span` failed, with `err` when there is one. */
export function failSpan(span: Span, err?: unknown): void {
  if (err === undefined) return void span.setStatus({ code: ERROR });
  span.recordException(err instanceof Error ? err : String(err));
  span.setStatus({ code: ERROR, message: err instanceof Error ? err.message : String(err) });
}

/** What a service's `ctx.span()` does: `fn` in a span of its own when tracing is on, `fn` alone otherwise. */
export function serviceSpan<T>(name: string, fn: () => Promise<T> | T, attributes?: SpanAttributes): Promise<T> {
  if (!provider) return (async () => fn())();
  return inSpan(name, { attributes }, () => fn());
}

/** The active span's context as W3C headers, for another process to continue the trace; undefined when tracing is off. */
export function currentCarrier(): TraceCarrier | undefined {
  if (!api) return undefined;
  const carrier: TraceCarrier = {};
  api.propagation.inject(api.context.active(), carrier);
  return Object.keys(carrier).length > 0 ? carrier : undefined;
}

/**
 * The active span's ids, for a log line (pino's mixin): `{trace_id, span_id}`, or nothing outside a span.
 * A new object each time: pino merges the line's own fields into it.
 */
export function traceFields(): { trace_id?: string; span_id?: string } {
  const spanContext = api?.trace.getSpan(api.context.active())?.spanContext();
  return spanContext && api!.isSpanContextValid(spanContext) ? { trace_id: spanContext.traceId, span_id: spanContext.spanId } : {};
}
