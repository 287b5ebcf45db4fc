// Distributed tracing at the waypoint: each request gets a server span (child of the caller's context from W3C
// `traceparent`/`tracestate` or B3 headers) and a client span for the call upstream, whose context is injected into
// the forwarded request in both formats, so the application can continue the trace. Spans go to the OTLP/HTTP
// (protobuf) collector the mesh config's `opentelemetry` provider names, through the OpenTelemetry JS SDK (batched);
// which provider and how many requests is the Telemetry API's `tracing` for this waypoint (Istio's 1% by default).
// A caller's sampling decision is honoured (parent based). The trace's service name is `<waypoint>.<namespace>`.
import { context, SpanKind, SpanStatusCode, trace, type Context, type Span, type TextMapGetter, type TextMapSetter, type Tracer } from '@opentelemetry/api';
import { CompositePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { B3InjectEncoding, B3Propagator } from '@opentelemetry/propagator-b3';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace-base';
import type { Logger } from 'pino';
import type { OtelTracingProvider } from '../api/mesh-config.js';
import { parseIstioDurationMs } from '../api/kinds/checks.js';
import { describeError } from '../lib/errors.js';
import type { WaypointConfigRecord } from '../lib/xds/waypoint-records.js';
import type { Exchange, Headers } from './exchange.js';

const PROPAGATOR = new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new B3Propagator({ injectEncoding: B3InjectEncoding.MULTI_HEADER })] });

const getter: TextMapGetter<Headers> = {
  keys: (h) => Object.keys(h),
  get: (h, key) => {
    const v = h[key.toLowerCase()];
    return Array.isArray(v) ? v[0] : v === undefined ? undefined : String(v);
  },
};
const setter: TextMapSetter<Headers> = { set: (h, key, value) => void (h[key.toLowerCase()] = value) };

/** One request's spans. */
export interface RequestTrace {
  /** Starts the client span and writes its context into the upstream request's headers. */
  injectUpstream(headers: Headers): void;
  /** Ends both spans with the response status. */
  end(status: number, error?: string): void;
}

export class WaypointTracing {
  #key = '';
  #tracer: Tracer | undefined;
  #provider: BasicTracerProvider | undefined;
  readonly #service: string;
  readonly #log: Logger;

  constructor(opts: { name: string; namespace: string; log: Logger }) {
    this.#service = `${opts.name}.${opts.namespace}`;
    this.#log = opts.log;
  }

  /** Applies a config's tracing (absent: spans off); a changed collector or sampling rebuilds the exporter. */
  configure(tracing: WaypointConfigRecord['tracing'] | undefined): void {
    const otel = tracing?.provider.opentelemetry as unknown as OtelTracingProvider | undefined;
    const key = otel ? JSON.stringify([otel, tracing!.randomSamplingPercentage]) : '';
    if (key === this.#key) return;
    this.#key = key;
    const old = this.#provider;
    this.#provider = undefined;
    this.#tracer = undefined;
    if (old) void old.shutdown().catch((err: unknown) => this.#log.debug({ error: describeError(err) }, 'tracer shutdown failed'));
    if (!otel) return;
    const url = `http://${otel.service}:${otel.port}${otel.path}`;
    const exporter = new OTLPTraceExporter({ url, headers: otel.headers ?? {}, timeoutMillis: parseIstioDurationMs(otel.timeout ?? '') ?? 10_000 });
    this.#provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': this.#service }),
      sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(tracing!.randomSamplingPercentage / 100) }),
      spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: 1000 })],
    });
    this.#tracer = this.#provider.getTracer('ambit-waypoint');
    this.#log.info({ collector: url, samplingPercent: tracing!.randomSamplingPercentage, telemetry: tracing!.telemetry }, 'tracing on');
  }

  /** Sends what is batched now (tests, shutdown). */
  async flush(): Promise<void> {
    await this.#provider?.forceFlush();
  }

  async close(): Promise<void> {
    await this.#provider?.shutdown();
  }

  /** The request's server span, from the caller's context in its headers; undefined while tracing is off. */
  start(ex: Exchange): RequestTrace | undefined {
    const tracer = this.#tracer;
    if (!tracer) return undefined;
    const parent: Context = PROPAGATOR.extract(context.active(), ex.headers, getter);
    const path = ex.path.split('?')[0] ?? '/';
    const attributes = { 'http.method': ex.method, 'http.url': `http://${ex.authority}${ex.path}`, 'http.protocol': ex.protocol, 'component': 'proxy' };
    const server = tracer.startSpan(`${ex.authority}${path}`, { kind: SpanKind.SERVER, attributes }, parent);
    let client: Span | undefined;
    const serverCtx = trace.setSpan(parent, server);
    return {
      injectUpstream: (headers) => {
        client ??= tracer.startSpan(`${ex.authority}${path} egress`, { kind: SpanKind.CLIENT, attributes }, serverCtx);
        // The caller's own trace headers are replaced by ours (the upstream's parent is the client span).
        for (const h of ['traceparent', 'tracestate', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'x-b3-flags', 'b3']) delete headers[h];
        PROPAGATOR.inject(trace.setSpan(serverCtx, client), headers, setter);
      },
      end: (status, error) => {
        for (const span of [client, server]) {
          if (!span) continue;
          span.setAttribute('http.status_code', status);
          if (status >= 500 || error) span.setStatus({ code: SpanStatusCode.ERROR, ...(error ? { message: error } : {}) });
          span.end();
        }
      },
    };
  }
}


