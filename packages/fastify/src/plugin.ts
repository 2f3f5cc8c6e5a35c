/**
 * Fastify 5 glue: build the core's request view, call the shared handler, set `request.wimse` or
 * send the core's error response. Verification runs in `onRequest`, or in `preParsing` when a
 * signature may cover the body: the core reads it there (bounded by `maxBodyBytes`) and the app's
 * own content-type parsers then read the same bytes. No protocol rule lives here.
 */
import { Readable } from 'node:stream';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest, RequestPayload } from 'fastify';
import fp from 'fastify-plugin';
import type { RequestHeaders, WimseAdapterOptions, WimseErrorResponse, WimsePrincipal, WimseRequest, WimseRouteRules } from '@wimse/core';
import {
  connectionOf,
  createWimseHandler,
  headersFor,
  headersFromRaw,
  readBody,
  type ResponseSignature,
  type WimseOutcome,
  type WimseRoute,
} from '@wimse/core/adapter';

/** Options of {@link wimsePlugin}: the core verifier's plus `optional`, `allow`, `onError`, `onInternalError`, `maxBodyBytes` and response signing (`responseSigner`, `signResponses`). */
export type WimseFastifyOptions = WimseAdapterOptions;

/**
 * Per-route rules, under `config: { wimse: { … } }`: `allow`, `public`, `optional`, `scope` (the
 * verified Txn-Token must grant them all; needs `transactionTokens`). Any other key throws when the
 * route is registered (a misspelt `allow` must not let every workload in).
 */
export type WimseRouteConfig = WimseRouteRules;

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated workload; `undefined` on public routes and in optional mode without credentials. */
    wimse: WimsePrincipal | undefined;
  }
  interface FastifyContextConfig {
    wimse?: WimseRouteConfig;
  }
}

// Per-request state, as request decorations (set in the request's constructor: no WeakMap per request).
// A request whose body a signature may cover, verified in preParsing once the body is read:
const kAwaitingBody = Symbol('wimse.awaitingBody');
// A request whose response must be signed (http-signature-07 §3.5), with the view to answer errors for:
const kResponseSignature = Symbol('wimse.responseSignature');

interface AwaitingBody {
  readonly route: WimseRoute | undefined;
  readonly headers: RequestHeaders;
}
interface PendingSignature {
  readonly signature: ResponseSignature;
  readonly view: WimseRequest;
}
interface WimseState {
  [kAwaitingBody]: AwaitingBody | undefined;
  [kResponseSignature]: PendingSignature | undefined;
}
const state = (request: FastifyRequest): WimseState => request as unknown as WimseState;

const plugin: FastifyPluginAsync<WimseFastifyOptions> = async (app, options) => {
  const handler = createWimseHandler(options);
  // Route rules compiled once per route config (in onRoute, so a bad pattern fails at start-up).
  const routes = new WeakMap<WimseRouteConfig, WimseRoute>();
  const compile = (config: WimseRouteConfig | undefined): WimseRoute | undefined => {
    if (config === undefined) return undefined;
    let route = routes.get(config);
    if (route === undefined) routes.set(config, (route = handler.route(config)));
    return route;
  };

  app.decorateRequest('wimse', undefined);
  app.decorateRequest(kAwaitingBody, undefined);
  app.decorateRequest(kResponseSignature, undefined);
  app.addHook('onRoute', (route) => void compile(route.config?.wimse));

  // Sets request.wimse and returns true, or sends the refusal (or a bug's 500) and returns false:
  // the hook chain then ends without done(), as reply.sent may still be false while an onSend hook
  // signs the refusal.
  const settle = (outcome: WimseOutcome, request: FastifyRequest, reply: FastifyReply, view: WimseRequest): boolean => {
    try {
      if (outcome.responseSignature !== undefined) {
        // Never sent unsigned: without the onSend hook below, a signature to make is a bug (500).
        if (!handler.signsResponses) throw new Error('a response signature without a response signing hook');
        state(request)[kResponseSignature] = { signature: outcome.responseSignature, view };
      }
    } catch (e) {
      sendError(reply, handler.fail(e, view).response);
      return false;
    }
    if (outcome.ok) {
      request.wimse = outcome.principal;
      return true;
    }
    sendError(reply, outcome.response);
    return false;
  };

  // A callback hook: when nothing had to wait (a cached WIT), the route runs in the same tick.
  app.addHook('onRequest', (request, reply, done) => {
    let view: WimseRequest;
    let outcome: WimseOutcome | Promise<WimseOutcome>;
    try {
      const route = compile(request.routeOptions.config.wimse);
      if (route?.public === true) return done();
      const headers = headersOf(request);
      if (handler.needsBody(headers)) {
        state(request)[kAwaitingBody] = { route, headers };
        return done();
      }
      view = viewOf(request, headers, undefined);
      outcome = handler.handle(view, route);
    } catch (e) {
      // A bug on our side: the reported 500 internal_error problem, not Fastify's error page.
      return void sendError(reply, handler.fail(e).response);
    }
    if (!(outcome instanceof Promise)) {
      if (settle(outcome, request, reply, view)) done();
      return;
    }
    outcome.then(
      (o) => void (settle(o, request, reply, view) && done()),
      (e: unknown) => void sendError(reply, handler.fail(e, view).response),
    );
  });

  if (handler.readsBodies) {
    // A callback hook too: a request without a body to verify costs no promise.
    app.addHook('preParsing', (request, reply, payload, done) => {
      const awaiting = state(request)[kAwaitingBody];
      if (awaiting === undefined) return done(null, payload);
      state(request)[kAwaitingBody] = undefined;
      verifyWithBody(request, reply, payload, awaiting).then(
        // undefined: answered (refused), the chain ends here.
        (replay) => void (replay !== undefined && done(null, replay)),
        // Only sending the error itself can throw here: Fastify's error handling then.
        (e: unknown) => done(e instanceof Error ? e : new Error(String(e))),
      );
    });
  }

  async function verifyWithBody(
    request: FastifyRequest,
    reply: FastifyReply,
    payload: RequestPayload,
    { route, headers }: AwaitingBody,
  ): Promise<Readable | undefined> {
    let view: WimseRequest | undefined;
    try {
      // The core's bound, before Fastify's parser (and its own bodyLimit) sees anything.
      const body = await readBody(payload, handler.maxBodyBytes, request.headers['content-length']);
      view = viewOf(request, headers, body);
      if (!settle(await handler.handle(view, route), request, reply, view)) return undefined;
      // The app's content-type parser reads the same bytes; Fastify checks their count against Content-Length.
      const replay = Readable.from(body.byteLength === 0 ? [] : [Buffer.from(body.buffer, body.byteOffset, body.byteLength)], {
        objectMode: false,
      });
      Object.defineProperty(replay, 'receivedEncodedLength', { value: body.byteLength });
      return replay;
    } catch (e) {
      // Bad input (e.g. body_too_large) as itself, a bug as the reported 500 internal_error problem.
      sendError(reply, handler.fail(e, view).response);
      return undefined;
    }
  }

  // Every response to such a request, the handler's and the errors alike, is signed over the bytes
  // sent. Registered only when a response can be signed: otherwise the send path is Fastify's own.
  if (handler.signsResponses) {
    app.addHook('onSend', (request, reply, payload: unknown, done) => {
      const pending = state(request)[kResponseSignature];
      if (pending === undefined) return done(null, payload);
      state(request)[kResponseSignature] = undefined;
      signed(request, reply, payload, pending).then(
        (sent) => done(null, sent),
        (e: unknown) => done(e instanceof Error ? e : new Error(String(e))),
      );
    });
  }

  async function signed(request: FastifyRequest, reply: FastifyReply, payload: unknown, pending: PendingSignature): Promise<unknown> {
    try {
      const body = await payloadBytes(payload, reply, pending.signature);
      reply.headers(await pending.signature.sign({ status: reply.statusCode, headers: reply.getHeaders(), body }));
      return body ?? payload;
    } catch (e) {
      // A refusal (too large, credentials) as itself; a bug as the reported 500 internal_error.
      const r = handler.fail(e, pending.view).response;
      for (const name of Object.keys(reply.getHeaders())) reply.removeHeader(name);
      reply.code(r.status).headers(headersFor(r, request.raw.httpVersionMajor));
      return r.body;
    }
  }
};

// The bytes Fastify will send: strings and buffers as they are, streams read up to the limit.
async function payloadBytes(payload: unknown, reply: FastifyReply, signature: ResponseSignature): Promise<Buffer | undefined> {
  if (payload === undefined || payload === null) return undefined;
  if (typeof payload === 'string') return Buffer.from(payload);
  if (Buffer.isBuffer(payload)) return payload;
  let source: unknown = payload;
  if (payload instanceof Response) {
    // What Fastify would take from the Response after onSend, taken now so it is covered.
    reply.code(payload.status);
    payload.headers.forEach((value, name) => void reply.header(name, value));
    source = payload.body ?? [];
  }
  if (source === null || typeof source !== 'object' || !(Symbol.asyncIterator in source)) throw new TypeError('unsupported payload type');
  const bytes = await signature.read(source as AsyncIterable<Uint8Array | string>);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

// From rawHeaders, as Express: every occurrence of a field (a repeated Authorization stays apart),
// without an array per field as headersDistinct builds. `inject()` requests have rawHeaders too.
const headersOf = (request: FastifyRequest): RequestHeaders =>
  request.raw.rawHeaders === undefined ? request.headers : headersFromRaw(request.raw.rawHeaders);

function viewOf(request: FastifyRequest, headers: RequestHeaders, body: Uint8Array | undefined): WimseRequest {
  // The TCP peer, not request.ip: a forwarded client certificate is believed only from a configured proxy.
  const connection = connectionOf(request.raw.socket);
  // Named fields, not a spread: one object shape for every request.
  return {
    method: request.method,
    path: request.originalUrl,
    headers,
    body,
    peerCertificates: connection.peerCertificates,
    remoteAddress: connection.remoteAddress,
  };
}

function sendError(reply: FastifyReply, response: WimseErrorResponse) {
  return reply.code(response.status).headers(headersFor(response, reply.request.raw.httpVersionMajor)).send(response.body);
}

/**
 * Authenticates every route of the Fastify instance it is registered on and sets `request.wimse`.
 * Per route: `config: { wimse: { allow, public, optional, scope } }`.
 *
 * @example
 * await app.register(wimsePlugin, { trustDomains: { 'example.org': { keys: jwksUrl } }, audience: 'https://orders.example.org' })
 * app.get('/admin', { config: { wimse: { allow: 'spiffe://example.org/admin' } } }, (request) => request.wimse)
 */
export const wimsePlugin = fp(plugin, { name: '@wimse/fastify', fastify: '5.x' });
