/**
 * Express 4 and 5 glue: build the core's request view, call the shared handler, set `req.wimse`
 * or send the core's error response. No protocol rule lives here.
 */
import type { ServerResponse } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import {
  WimseError,
  createAuthorizer,
  createScopeCheck,
  type WimseAdapterOptions,
  type WimseErrorResponse,
  type RequestHeaders,
  type WimsePrincipal,
  type WimseRequest,
  type WimseRouteRules,
  type WorkloadPolicy,
} from '@wimse/core';
import {
  connectionOf,
  createWimseHandler,
  headersFromRaw,
  problemResponse,
  signNodeResponse,
  type WimseHandler,
  type WimseOutcome,
  type WimseRoute,
} from '@wimse/core/adapter';
import { rawBody } from './raw-body.js';

/** Options of {@link wimse}: the core verifier's plus `optional`, `allow`, `onError`, `onInternalError`, `maxBodyBytes` and response signing (`responseSigner`, `signResponses`). */
export type WimseExpressOptions = WimseAdapterOptions;

// What requireWorkload needs from the wimse() that ran before it on the same request.
const seen = new WeakMap<Request, { handler: WimseHandler; view: WimseRequest }>();

/**
 * The middleware {@link wimse} returns: mount it globally (`app.use(auth)`) and/or per route with
 * `auth.route(rules)`. Both share one verifier and replay store.
 */
export interface WimseMiddleware extends RequestHandler {
  /**
   * Per-route rules (`public`, `optional`, `allow`, `scope`), compiled now (unknown keys and bad
   * patterns throw). On a route without the global mount it authenticates with these rules; behind
   * the global mount it can only narrow (`allow`, `scope`, `optional: false`): a `public` or
   * `optional` route rule never lets through what the global mount refused.
   *
   * @example
   * const auth = wimse(options)
   * app.get('/health', handler) // not mounted: public
   * app.get('/feed', auth.route({ optional: true }), feed)
   * app.post('/trades', auth.route({ allow: 'spiffe://example.org/gateway', scope: 'trade.stocks' }), trade)
   */
  route(rules: WimseRouteRules): RequestHandler;
}

/**
 * Authenticates every request that reaches it and sets `req.wimse`; routes registered before it stay public.
 *
 * @example
 * app.use(wimse({ trustDomains: { 'example.org': { keys: jwksUrl } }, audience: 'https://orders.example.org' }))
 * app.get('/whoami', (req, res) => res.json({ workload: req.wimse?.workload }))
 */
export function wimse(options: WimseExpressOptions): WimseMiddleware {
  const handler = createWimseHandler(options);
  const proceed = (req: Request, res: Response, next: NextFunction, outcome: WimseOutcome): void => {
    // http-signature-07 §3.5: from here on, whatever this request gets is signed (or refused).
    if (outcome.responseSignature !== undefined) {
      const view = seen.get(req)?.view;
      signNodeResponse(res, outcome.responseSignature, (e) => handler.reject(e, view).response);
    }
    if (!outcome.ok) return send(res, outcome.response);
    req.wimse = outcome.principal;
    next();
  };
  // A bug (or a set-up mistake) on our side: a reported 500 internal_error, like every adapter.
  const failed = (req: Request, res: Response, e: unknown): void => send(res, handler.fail(e, seen.get(req)?.view).response);
  const run =
    (route: WimseRoute | undefined): RequestHandler =>
    (req, res, next) => {
      let outcome: WimseOutcome | Promise<WimseOutcome>;
      try {
        outcome = authenticate(handler, req, route);
      } catch (e) {
        return failed(req, res, e);
      }
      // Nothing had to wait (a cached WIT, no body): on to the route in the same tick, no closure made.
      if (outcome instanceof Promise)
        outcome.then(
          (o) => proceed(req, res, next, o),
          (e: unknown) => failed(req, res, e),
        );
      else proceed(req, res, next, outcome);
    };
  const middleware = run(undefined);
  return Object.assign(middleware, {
    route(rules: WimseRouteRules): RequestHandler {
      const route = handler.route(rules);
      const authenticateHere = route.public ? undefined : run(route);
      return (req, res, next) => {
        const state = seen.get(req);
        // Already authenticated by this wimse() (global mount): never again (the proof would be a replay); only narrow.
        if (state?.handler === handler) return settle(res, next, state.handler.narrow(req.wimse, route, state.view));
        if (authenticateHere === undefined) return next();
        authenticateHere(req, res, next);
      };
    },
  });
}

/**
 * Lets only the given workloads through (403 otherwise; 401 when no workload was authenticated).
 *
 * @example
 * app.get('/admin', requireWorkload('spiffe://example.org/admin'), handler)
 */
export function requireWorkload(policy: WorkloadPolicy): RequestHandler {
  return requirement('requireWorkload', createAuthorizer(policy));
}

/**
 * Lets through only requests whose verified Txn-Token grants every given scope (403
 * `insufficient_scope` otherwise; 401 when no workload was authenticated). Needs the
 * `transactionTokens` option on the {@link wimse} before it.
 *
 * @example
 * app.post('/trades', requireScope('trade.stocks'), handler)
 */
export function requireScope(...scopes: string[]): RequestHandler {
  return requirement('requireScope', createScopeCheck(scopes));
}

function requirement(name: string, check: (principal: WimsePrincipal) => void): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const state = seen.get(req);
    if (state === undefined) return send(res, problemResponse(new WimseError('credentials_missing', `${name}() must follow wimse()`)));
    settle(res, next, state.handler.authorize(req.wimse, check, state.view));
  };
}

function settle(res: ServerResponse, next: NextFunction, outcome: WimseOutcome): void {
  if (!outcome.ok) return send(res, outcome.response);
  next();
}

function authenticate(handler: WimseHandler, req: Request, route: WimseRoute | undefined): WimseOutcome | Promise<WimseOutcome> {
  // From rawHeaders: every occurrence of a field, as headersDistinct, with fewer allocations.
  const headers = headersFromRaw(req.rawHeaders);
  if (handler.needsBody(headers)) return withBody(handler, req, headers, route);
  return handle(handler, req, headers, undefined, route);
}

async function withBody(
  handler: WimseHandler,
  req: Request,
  headers: RequestHeaders,
  route: WimseRoute | undefined,
): Promise<WimseOutcome> {
  let body: Uint8Array | undefined;
  try {
    body = await rawBody(req, handler.maxBodyBytes);
  } catch (e) {
    return handler.fail(e);
  }
  // A set-up mistake, not bad input: say so loudly rather than fail every digest check.
  if (body === undefined)
    throw new Error('wimse(): a body parser consumed the body first; mount wimse() before it or keep the bytes in req.rawBody');
  return handle(handler, req, headers, body, route);
}

function handle(
  handler: WimseHandler,
  req: Request,
  headers: RequestHeaders,
  body: Uint8Array | undefined,
  route: WimseRoute | undefined,
): WimseOutcome | Promise<WimseOutcome> {
  const connection = connectionOf(req.socket);
  // Fields set one by one, not spread: one object, no copy (hot path).
  const view: WimseRequest = {
    method: req.method,
    path: req.originalUrl,
    headers,
    body,
    peerCertificates: connection.peerCertificates,
    remoteAddress: connection.remoteAddress,
  };
  seen.set(req, { handler, view });
  return handler.handle(view, route);
}

// Plain Node response calls, so Express 4 and 5 send byte-identical errors.
function send(res: ServerResponse, r: WimseErrorResponse): void {
  res.statusCode = r.status;
  for (const [name, value] of Object.entries(r.headers)) res.setHeader(name, value);
  res.end(r.body);
}
