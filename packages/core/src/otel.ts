/**
 * `@wimse/core/otel`: OpenTelemetry spans and metrics from the `wimse:*` diagnostics channels
 * (diagnostics.ts). Needs `@opentelemetry/api` (an optional peer dependency of `@wimse/core`) and
 * Node's `diagnostics_channel`; the main entry never loads this file.
 *
 * Attribute names follow the OpenTelemetry semantic conventions where one exists (`error.type`,
 * `url.full`, `http.response.status_code`), `wimse.*` otherwise. Metrics never carry the workload
 * identifier (unbounded cardinality); spans do.
 *
 * @packageDocumentation
 * @module @wimse/core/otel
 */
import { SpanKind, SpanStatusCode, metrics, trace, type Attributes, type MeterProvider, type TracerProvider } from '@opentelemetry/api';
import { WIMSE_CHANNELS, subscribe, type WimseJwksMessage, type WimseReplayMessage, type WimseVerifyMessage } from './diagnostics.js';

/** Options of {@link instrumentWimse}. */
export interface WimseInstrumentationOptions {
  /** Where spans go. Default: the global tracer provider. */
  tracerProvider?: TracerProvider;
  /** Where metrics go. Default: the global meter provider. */
  meterProvider?: MeterProvider;
}

const SCOPE = '@wimse/core';

/**
 * Records spans and metrics for every verification, JWKS fetch and replay store failure, until
 * the returned function is called:
 * - span `wimse.verify` and `wimse.jwks.fetch`, ending when the event is published and starting
 *   its duration earlier (inside the request's active context, so under its server span);
 * - counters `wimse.verifications`, `wimse.jwks.fetches`, `wimse.replay.failures`;
 * - histogram `wimse.verify.duration` (seconds).
 *
 * @example
 * import { instrumentWimse } from '@wimse/core/otel'
 * instrumentWimse() // after the OpenTelemetry SDK is registered
 */
export function instrumentWimse(options: WimseInstrumentationOptions = {}): () => void {
  const tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer(SCOPE);
  const meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter(SCOPE);
  const verifications = meter.createCounter('wimse.verifications', { description: 'WIMSE request verifications, by outcome' });
  const duration = meter.createHistogram('wimse.verify.duration', { description: 'Time spent verifying a request', unit: 's' });
  const jwksFetches = meter.createCounter('wimse.jwks.fetches', { description: 'Remote JWKS fetches, by trust domain and outcome' });
  const replayFailures = meter.createCounter('wimse.replay.failures', { description: 'Replay store refusals and failures' });

  // A subscriber that throws would surface as an uncaught exception (Node re-throws it): never let it.
  const safely =
    <T>(record: (message: T) => void) =>
    (message: unknown): void => {
      try {
        record(message as T);
      } catch {
        // Telemetry must not take the service down.
      }
    };

  const unsubscribers = [
    subscribe(
      WIMSE_CHANNELS.verify,
      safely<WimseVerifyMessage>((m) => {
        const metric: Attributes = { 'wimse.outcome': m.outcome };
        if (m.code !== undefined) metric['error.type'] = m.code;
        if (m.method !== undefined) metric['wimse.proof.method'] = m.method;
        if (m.trustDomain !== undefined) metric['wimse.trust_domain'] = m.trustDomain;
        verifications.add(1, metric);
        duration.record(m.durationMs / 1000, metric);
        const attributes: Attributes = { ...metric };
        if (m.workload !== undefined) attributes['wimse.workload'] = m.workload;
        if (m.status !== undefined) attributes['wimse.error.status'] = m.status;
        // Refusing bad input is the verifier working; only a server-side failure (5xx) is a span error.
        span('wimse.verify', SpanKind.INTERNAL, m.durationMs, attributes, m.status !== undefined && m.status >= 500 ? m.code : undefined);
      }),
    ),
    subscribe(
      WIMSE_CHANNELS.jwks,
      safely<WimseJwksMessage>((m) => {
        const metric: Attributes = { 'wimse.trust_domain': m.trustDomain, 'wimse.outcome': m.outcome };
        if (m.reason !== undefined) metric['error.type'] = m.reason;
        if (m.status !== undefined) metric['http.response.status_code'] = m.status;
        jwksFetches.add(1, metric);
        const attributes: Attributes = { ...metric, 'url.full': m.url, 'http.request.method': 'GET' };
        if (m.keys !== undefined) attributes['wimse.jwks.keys'] = m.keys;
        if (m.contentType !== undefined) attributes['wimse.jwks.content_type'] = m.contentType;
        span(
          'wimse.jwks.fetch',
          SpanKind.CLIENT,
          m.durationMs,
          attributes,
          m.outcome === 'error' ? `${m.reason ?? 'error'}: ${m.error ?? ''}` : undefined,
        );
      }),
    ),
    subscribe(
      WIMSE_CHANNELS.replay,
      safely<WimseReplayMessage>((m) => {
        replayFailures.add(1, { 'wimse.replay.store': m.store, 'error.type': m.code, 'wimse.replay.kind': m.kind });
      }),
    ),
  ];

  function span(name: string, kind: SpanKind, durationMs: number, attributes: Attributes, error: string | undefined): void {
    const end = Date.now();
    const s = tracer.startSpan(name, { kind, attributes, startTime: end - durationMs });
    if (error !== undefined) s.setStatus({ code: SpanStatusCode.ERROR, message: error });
    s.end(end);
  }

  return () => {
    for (const off of unsubscribers) off();
  };
}
