/**
 * `@wimse/core/otel` against the OpenTelemetry SDK itself: an in-memory span exporter and a
 * metric reader collect what a verification, a JWKS fetch and a replay store failure record.
 */
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { MeterProvider, MetricReader, type DataPoint, type MetricData } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { verifyChannel } from './diagnostics.js';
import { instrumentWimse } from './otel.js';
import {
  AUDIENCE,
  NOW,
  TRUST_DOMAIN,
  createIssuer,
  createWorkload,
  verifierFor,
  wptRequest,
  type Issuer,
  type Workload,
} from '@wimse/test-support/factory';
import { createVerifier } from './verifier.js';

class TestReader extends MetricReader {
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

let issuer: Issuer;
let workload: Workload;
let spans: InMemorySpanExporter;
let reader: TestReader;
let stop: (() => void) | undefined;

beforeAll(async () => {
  issuer = await createIssuer();
  workload = await createWorkload(issuer);
});

beforeEach(() => {
  spans = new InMemorySpanExporter();
  reader = new TestReader();
  stop = instrumentWimse({
    tracerProvider: new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }),
    meterProvider: new MeterProvider({ readers: [reader] }),
  });
});
afterEach(() => stop?.());

async function metric(name: string): Promise<MetricData | undefined> {
  const { resourceMetrics } = await reader.collect();
  return resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === name);
}

const points = (m: MetricData | undefined) => (m?.dataPoints ?? []) as DataPoint<unknown>[];

describe('a verification: span wimse.verify, counter wimse.verifications, histogram wimse.verify.duration', () => {
  it('success: a span with the outcome, workload, trust domain and proof method, and a count of 1', async () => {
    await verifierFor(issuer).verify(await wptRequest(workload));
    const [span, ...more] = spans.getFinishedSpans();
    expect(more).toEqual([]);
    expect(span!.name).toBe('wimse.verify');
    expect(span!.kind).toBe(SpanKind.INTERNAL);
    expect(span!.attributes).toEqual({
      'wimse.outcome': 'ok',
      'wimse.workload': 'spiffe://example.org/client',
      'wimse.trust_domain': 'example.org',
      'wimse.proof.method': 'wpt',
    });
    expect(span!.status.code).toBe(SpanStatusCode.UNSET);
    expect(points(await metric('wimse.verifications'))).toEqual([
      expect.objectContaining({
        attributes: { 'wimse.outcome': 'ok', 'wimse.trust_domain': 'example.org', 'wimse.proof.method': 'wpt' },
        value: 1,
      }),
    ]);
    const duration = await metric('wimse.verify.duration');
    expect(duration?.descriptor.unit).toBe('s');
    expect(points(duration)).toEqual([expect.objectContaining({ value: expect.objectContaining({ count: 1 }) })]);
  });

  it('a refusal: error.type is the code, the span status stays unset (bad input is not a server error)', async () => {
    const v = verifierFor(issuer);
    await v.verify(await wptRequest(workload, { aud: 'https://elsewhere.example.org/x' })).catch(() => undefined);
    await v.verify({ method: 'GET', path: '/', headers: {} }).catch(() => undefined);
    const finished = spans.getFinishedSpans();
    expect(
      finished.map((s) => [s.attributes['wimse.outcome'], s.attributes['error.type'], s.attributes['wimse.error.status'], s.status.code]),
    ).toEqual([
      ['error', 'wpt_aud', 401, SpanStatusCode.UNSET],
      ['error', 'credentials_missing', 401, SpanStatusCode.UNSET],
    ]);
    expect(finished[0]!.attributes).not.toHaveProperty('wimse.workload');
    const counted = points(await metric('wimse.verifications')).map((p) => [p.attributes['error.type'], p.value]);
    expect(counted).toEqual(
      expect.arrayContaining([
        ['wpt_aud', 1],
        ['credentials_missing', 1],
      ]),
    );
  });

  it('a server-side failure (replay store down, 503): span status ERROR', async () => {
    const v = verifierFor(issuer, { replayStore: { checkAndStore: () => Promise.reject(new Error('down')) }, logger: false });
    await v.verify(await wptRequest(workload)).catch(() => undefined);
    const [span] = spans.getFinishedSpans();
    expect(span!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'replay_unavailable' });
    expect(points(await metric('wimse.replay.failures'))).toEqual([
      expect.objectContaining({
        attributes: { 'wimse.replay.store': 'ReplayStore', 'error.type': 'replay_unavailable', 'wimse.replay.kind': 'wpt' },
        value: 1,
      }),
    ]);
  });

  it('no span or attribute holds a token', async () => {
    const request = await wptRequest(workload);
    await verifierFor(issuer).verify(request);
    const text = JSON.stringify(spans.getFinishedSpans().map((s) => ({ name: s.name, attributes: s.attributes, status: s.status })));
    for (const t of [workload.wit, String(request.headers.authorization).slice(4)])
      for (const part of t.split('.')) expect(text).not.toContain(part);
  });

  it('after the returned function is called: no listener, no span', async () => {
    stop!();
    stop = undefined;
    expect(verifyChannel.hasSubscribers).toBe(false);
    await verifierFor(issuer).verify(await wptRequest(workload));
    expect(spans.getFinishedSpans()).toEqual([]);
  });
});

describe('a JWKS fetch: span wimse.jwks.fetch (client), counter wimse.jwks.fetches', () => {
  let server: Server;
  let base: string;
  let status = 200;
  beforeAll(async () => {
    server = createServer((_req, res) => {
      if (status === 200) res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [issuer.publicJwk] }));
      else res.writeHead(status, { 'content-type': 'text/html' }).end('<h1>Not Found</h1>');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const verifier = () =>
    createVerifier({ trustDomains: { [TRUST_DOMAIN]: { keys: `${base}/jwks` } }, audience: AUDIENCE, now: () => NOW, logger: false });

  it('a good fetch: status 200, key count, url', async () => {
    status = 200;
    await verifier().verifyWit(workload.wit);
    const [span] = spans.getFinishedSpans();
    expect(span!.name).toBe('wimse.jwks.fetch');
    expect(span!.kind).toBe(SpanKind.CLIENT);
    expect(span!.attributes).toMatchObject({
      'url.full': `${base}/jwks`,
      'http.request.method': 'GET',
      'http.response.status_code': 200,
      'wimse.jwks.keys': 1,
      'wimse.outcome': 'ok',
    });
    expect(points(await metric('wimse.jwks.fetches'))).toEqual([
      expect.objectContaining({
        attributes: { 'wimse.trust_domain': 'example.org', 'wimse.outcome': 'ok', 'http.response.status_code': 200 },
        value: 1,
      }),
    ]);
  });

  it('HTTP 404: span status ERROR, error.type status, status code 404', async () => {
    status = 404;
    await verifier()
      .verifyWit(workload.wit)
      .catch(() => undefined);
    const [span] = spans.getFinishedSpans();
    expect(span!.attributes).toMatchObject({
      'http.response.status_code': 404,
      'error.type': 'status',
      'wimse.jwks.content_type': 'text/html',
    });
    expect(span!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'status: HTTP 404' });
  });
});
