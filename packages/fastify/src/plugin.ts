/**
 * Fastify 5 glue: build the core's request view, call the shared handler, set `request.wimse` or
 * send the core's error response. Verification runs in `onRequest`, or in `preParsing` when a
 * signature may cover the body: the core reads it there (bounded by `maxBodyBytes`) and the app's
 * own content-type parsers then read the same bytes. No protocol rule lives here.
 */
import { Readable } from 'node:stream';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { RequestHeaders, WimseAdapterOptions, WimseErrorResponse, WimsePrincipal, WimseRequest, WimseRouteRules } from '@wimse/core';
import {
  connectionOf,
  createWimseHandler,
  headersFor,
  headersFromRaw,
  readBody,
  type ResponseSignature,
  type WimseHandler,
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
  // Requests whose body a signature may cover: verified in preParsing, once the body is read.
  const withBody = new WeakSet<FastifyRequest>();
  // Requests whose response must be signed (http-signature-07 §3.5), with the view to answer errors for.
  const signatures: Signatures = new WeakMap();

  app.decorateRequest('wimse', undefined);
  app.addHook('onRoute', (route) => void compile(route.config?.wimse));
  // A callback hook: when nothing had to wait (a cached WIT), the route runs in the same tick.
  app.addHook('onRequest', (request, reply, done) => {
    let outcome: WimseOutcome | Promise<WimseOutcome>;
    try {
      const route = compile(request.routeOptions.config.wimse);
      if (route?.public === true) return done();
      const headers = headersOf(request);
      if (handler.needsBody(headers)) {
        withBody.add(request);
        return done();
      }
      outcome = authenticate(handler, route, request, headers, undefined, signatures);
    } catch (e) {
      // A bug on our side: the reported 500 internal_error problem, not Fastify's error page.
      return void sendError(reply, handler.fail(e).response);
    }
    const go = (o: WimseOutcome): void => {
      // Answered (a refusal): the hook chain ends here, without done().
      if (settle(o, request, reply) === undefined) done();
    };
    if (outcome instanceof Promise) outcome.then(go, (e: unknown) => void sendError(reply, handler.fail(e).response));
    else go(outcome);
  });
  app.addHook('preParsing', async (request, reply, payload) => {
    if (!withBody.has(request)) return payload;
    try {
      // The core's bound, before Fastify's parser (and its own bodyLimit) sees anything.
      const body = await readBody(payload, handler.maxBodyBytes, request.headers['content-length']);
      settle(
        await authenticate(handler, compile(request.routeOptions.config.wimse), request, headersOf(request), body, signatures),
        request,
        reply,
      );
      if (reply.sent) return;
      // The app's content-type parser reads the same bytes; Fastify checks their count against Content-Length.
      const replay = Readable.from(body.byteLength === 0 ? [] : [Buffer.from(body.buffer, body.byteOffset, body.byteLength)], {
        objectMode: false,
      });
      Object.defineProperty(replay, 'receivedEncodedLength', { value: body.byteLength });
      return replay;
    } catch (e) {
      // Bad input (e.g. body_too_large) as itself, a bug as the reported 500 internal_error problem.
      return void sendError(reply, handler.fail(e).response);
    }
  });
  // Every response to such a request, the handler's and the errors alike, is signed over the bytes sent.
  app.addHook('onSend', async (request, reply, payload: unknown) => {
    const pending = signatures.get(request);
    if (pending === undefined) return payload;
    signatures.delete(request);
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
  });
};

type Signatures = WeakMap<FastifyRequest, { signature: ResponseSignature; view: WimseRequest }>;

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

function authenticate(
  handler: WimseHandler,
  route: WimseRoute | undefined,
  request: FastifyRequest,
  headers: RequestHeaders,
  body: Uint8Array | undefined,
  signatures: Signatures,
): WimseOutcome | Promise<WimseOutcome> {
  const view: WimseRequest = {
    method: request.method,
    path: request.originalUrl,
    headers,
    body,
    // The TCP peer, not request.ip: a forwarded client certificate is believed only from a configured proxy.
    ...connectionOf(request.raw.socket),
  };
  const outcome = handler.handle(view, route);
  const remember = (o: WimseOutcome): WimseOutcome => {
    if (o.responseSignature !== undefined) signatures.set(request, { signature: o.responseSignature, view });
    return o;
  };
  return outcome instanceof Promise ? outcome.then(remember) : remember(outcome);
}

// Sets `request.wimse`, or sends the refusal (returning the reply, so the caller knows it was answered).
function settle(outcome: WimseOutcome, request: FastifyRequest, reply: FastifyReply): FastifyReply | undefined {
  if (outcome.ok) {
    request.wimse = outcome.principal;
    return undefined;
  }
  return sendError(reply, outcome.response);
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
