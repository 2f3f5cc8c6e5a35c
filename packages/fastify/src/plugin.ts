/**
 * Fastify 5 glue: build the core's request view, call the shared handler, set `request.wimse` or
 * send the core's error response. Verification runs in `onRequest`, or in `preHandler` when a
 * signature may cover the body (its raw bytes are copied in `preParsing`, while the app's own
 * content-type parsers read them as usual). No protocol rule lives here.
 */
import { Transform, pipeline, type Readable } from 'node:stream';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import {
  connectionOf,
  createWimseHandler,
  type WimseAdapterOptions,
  type WimseHandler,
  type WimsePrincipal,
  type WimseRoute,
  type WorkloadPolicy,
} from '@wimse/core';

/** Options of {@link wimsePlugin}: the core verifier's plus `optional`, `allow` and `onError`. */
export type WimseFastifyOptions = WimseAdapterOptions;

/** Per-route rules, under `config: { wimse: { … } }`. */
export interface WimseRouteConfig {
  /** Workloads allowed on this route (403 otherwise). */
  allow?: WorkloadPolicy;
  /** No authentication on this route. */
  public?: boolean;
  /** Principal may be absent on this route. */
  optional?: boolean;
}

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
  // Requests whose body a signature may cover, and the bytes copied from their payload stream.
  const bodies = new WeakMap<FastifyRequest, Buffer[]>();

  app.decorateRequest('wimse', undefined);
  app.addHook('onRoute', (route) => void compile(route.config?.wimse));
  app.addHook('onRequest', async (request, reply) => {
    if (request.routeOptions.config.wimse?.public === true) return;
    if (handler.needsBody(headersOf(request))) return void bodies.set(request, []);
    return authenticate(handler, compile(request.routeOptions.config.wimse), request, reply, undefined);
  });
  app.addHook('preParsing', async (request, _reply, payload) => {
    const chunks = bodies.get(request);
    if (chunks === undefined) return payload;
    const copy = new Transform({
      transform(chunk: Buffer, _encoding, next) {
        chunks.push(chunk);
        next(null, chunk);
      },
    });
    // Fastify checks the received length against Content-Length with this property.
    Object.defineProperty(copy, 'receivedEncodedLength', { get: () => (payload as Readable & { receivedEncodedLength?: number }).receivedEncodedLength });
    return pipeline(payload, copy, () => {});
  });
  app.addHook('preHandler', async (request, reply) => {
    const chunks = bodies.get(request);
    if (chunks === undefined) return;
    return authenticate(handler, compile(request.routeOptions.config.wimse), request, reply, Buffer.concat(chunks));
  });
};

// Distinct fields keep a repeated Authorization apart; `inject()` requests only have the folded ones.
const headersOf = (request: FastifyRequest) => request.raw.headersDistinct ?? request.headers;

async function authenticate(handler: WimseHandler, route: WimseRoute | undefined, request: FastifyRequest, reply: FastifyReply, body: Uint8Array | undefined) {
  const view = {
    method: request.method,
    path: request.originalUrl,
    headers: headersOf(request),
    body,
    // The TCP peer, not request.ip: a forwarded client certificate is believed only from a configured proxy.
    ...connectionOf(request.raw.socket),
  };
  const outcome = await handler.handle(view, route);
  if (outcome.ok) {
    request.wimse = outcome.principal;
    return;
  }
  const { status, headers, body: problem } = outcome.response;
  return reply.code(status).headers(headers).send(problem);
}

/**
 * Authenticates every route of the Fastify instance it is registered on and sets `request.wimse`.
 * Per route: `config: { wimse: { allow, public, optional } }`.
 *
 * @example
 * await app.register(wimsePlugin, { trustDomains: { 'example.org': { keys: jwksUrl } }, audience: 'https://orders.example.org' })
 * app.get('/admin', { config: { wimse: { allow: 'spiffe://example.org/admin' } } }, (request) => request.wimse)
 */
export const wimsePlugin = fp(plugin, { name: '@wimse/fastify', fastify: '5.x' });
