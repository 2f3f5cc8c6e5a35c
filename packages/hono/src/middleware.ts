/**
 * Hono glue: build the core's request view, call the shared handler, set `c.var.wimse` or answer
 * with the core's error response. Web-standard only (fetch `Request`/`Response`, no `node:`
 * imports), so it runs on Node, Workers, Deno and Bun. No protocol rule lives here.
 */
import type { Context, MiddlewareHandler, Next } from 'hono';
import { createMiddleware } from 'hono/factory';
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
  type ConnectionFacts,
  headersFor,
  headersFromRaw,
  headersOf,
  problemResponse,
  readAndRestoreBody,
  readBody,
  type NodeBodyStream,
  type ResponseSignature,
  type WimseHandler,
  type WimseOutcome,
  type WimseRoute,
} from '@wimse/core/adapter';
import { originForm } from './request-target.js';

/** Options of {@link wimse}: the core verifier's plus `optional`, `allow`, `onError`, `onInternalError`, `maxBodyBytes` and response signing (`responseSigner`, `signResponses`). */
export type WimseHonoOptions = WimseAdapterOptions;

/** The context variables set by {@link wimse}: `c.get('wimse')`. */
export interface WimseEnv {
  Variables: {
    /** The authenticated workload; `undefined` in optional mode without credentials. */
    wimse: WimsePrincipal | undefined;
  };
}

// What requireWorkload and auth.route() need from the wimse() that ran before it on the same
// request, kept on the context under a private key: a property, where a WeakMap entry per request
// costs more (hash, table growth, ephemeron work in every GC).
const STATE = Symbol('wimse');
interface WimseState {
  readonly handler: WimseHandler;
  readonly view: WimseRequest;
}
type Stateful = Context & { [STATE]?: WimseState };
const stateOf = (c: Context): WimseState | undefined => (c as Stateful)[STATE];

/**
 * The middleware {@link wimse} returns: mount it globally (`app.use('/api/*', auth)`) and/or per
 * route with `auth.route(rules)`. Both share one verifier and replay store.
 */
export interface WimseMiddleware extends MiddlewareHandler<WimseEnv> {
  /**
   * Per-route rules (`public`, `optional`, `allow`, `scope`), compiled now (unknown keys and bad
   * patterns throw). On a route without the global mount it authenticates with these rules; behind
   * the global mount it can only narrow (`allow`, `scope`, `optional: false`): a `public` or
   * `optional` route rule never lets through what the global mount refused.
   *
   * @example
   * const auth = wimse(options)
   * app.get('/feed', auth.route({ optional: true }), feed)
   * app.post('/trades', auth.route({ allow: 'spiffe://example.org/gateway', scope: 'trade.stocks' }), trade)
   */
  route(rules: WimseRouteRules): MiddlewareHandler<WimseEnv>;
}

/**
 * Authenticates requests and sets `c.get('wimse')`.
 *
 * @example
 * app.use('/api/*', wimse({ trustDomains: { 'example.org': { keys: jwksUrl } }, audience: 'https://orders.example.org' }))
 * app.get('/api/whoami', (c) => c.json({ workload: c.get('wimse')?.workload }))
 */
export function wimse(options: WimseHonoOptions): WimseMiddleware {
  const handler = createWimseHandler(options);
  const run = (route: WimseRoute | undefined) =>
    createMiddleware<WimseEnv>((c, next) => {
      let outcome: WimseOutcome | Promise<WimseOutcome>;
      let built: WimseRequest | Promise<WimseRequest | WimseError>;
      try {
        built = viewOf(c, handler);
        // A body to read first: the slow path, all of it awaited.
        if (built instanceof Promise) return viaBody(built, handler, c, next, route);
        outcome = handled(built, handler, c, route);
      } catch (e) {
        // A bug on our side: the reported 500 internal_error problem, as in every adapter.
        return Promise.resolve(respond(handler.fail(e, stateOf(c)?.view).response, c));
      }
      // Nothing had to wait (a cached WIT): straight on to next(), no extra microtask.
      if (outcome instanceof Promise) return outcome.then((o) => proceed(o, built, handler, c, next));
      return proceed(outcome, built, handler, c, next);
    });
  return Object.assign(run(undefined), {
    route(rules: WimseRouteRules): MiddlewareHandler<WimseEnv> {
      const route = handler.route(rules);
      const authenticateHere = route.public ? undefined : run(route);
      return createMiddleware<WimseEnv>((c, next) => {
        const state = stateOf(c);
        // Already authenticated by this wimse() (global mount): never again (the proof would be a replay); only narrow.
        if (state?.handler === handler) {
          const outcome = state.handler.narrow(c.get('wimse'), route, state.view);
          if (!outcome.ok) return Promise.resolve(respond(outcome.response, c));
          return next();
        }
        if (authenticateHere === undefined) return next();
        return authenticateHere(c, next);
      });
    },
  });
}

async function viaBody(
  built: Promise<WimseRequest | WimseError>,
  handler: WimseHandler,
  c: Context<WimseEnv>,
  next: Next,
  route: WimseRoute | undefined,
): Promise<Response | void> {
  let outcome: WimseOutcome;
  let view: WimseRequest;
  try {
    const ready = await built;
    if (ready instanceof WimseError) return respond(handler.reject(ready).response, c);
    view = ready;
    outcome = await handled(view, handler, c, route);
  } catch (e) {
    return respond(handler.fail(e, stateOf(c)?.view).response, c);
  }
  return proceed(outcome, view, handler, c, next);
}

function handled(
  view: WimseRequest,
  handler: WimseHandler,
  c: Context<WimseEnv>,
  route: WimseRoute | undefined,
): WimseOutcome | Promise<WimseOutcome> {
  (c as Stateful)[STATE] = { handler, view };
  return handler.handle(view, route);
}

// Sets the principal and runs the app, or answers the refusal.
function proceed(
  outcome: WimseOutcome,
  view: WimseRequest,
  handler: WimseHandler,
  c: Context<WimseEnv>,
  next: Next,
): Promise<Response | void> {
  const signature = outcome.responseSignature;
  if (!outcome.ok)
    return signature === undefined
      ? Promise.resolve(respond(outcome.response, c))
      : signed(respond(outcome.response, c), signature, handler, view, c);
  c.set('wimse', outcome.principal);
  if (signature === undefined) return next();
  return next().then(async () => {
    // http-signature-07 §3.5: whatever the app answered (handlers, notFound, onError) is signed.
    const response = await signed(c.res, signature, handler, view, c);
    c.res = undefined; // a replacement, not a merge with the unsigned one's fields
    c.res = response;
  });
}

/**
 * Lets only the given workloads through (403 otherwise; 401 when no workload was authenticated).
 *
 * @example
 * app.get('/admin', requireWorkload('spiffe://example.org/admin'), (c) => c.text('hi'))
 */
export function requireWorkload(policy: WorkloadPolicy) {
  return requirement('requireWorkload', createAuthorizer(policy));
}

/**
 * Lets through only requests whose verified Txn-Token grants every given scope (403
 * `insufficient_scope` otherwise; 401 when no workload was authenticated). Needs the
 * `transactionTokens` option on the {@link wimse} before it.
 *
 * @example
 * app.post('/trades', requireScope('trade.stocks'), (c) => c.text('ok'))
 */
export function requireScope(...scopes: string[]) {
  return requirement('requireScope', createScopeCheck(scopes));
}

function requirement(name: string, check: (principal: WimsePrincipal) => void) {
  // No async function: on to next() in the same tick, as wimse() itself.
  return createMiddleware<WimseEnv>((c, next) => {
    const state = stateOf(c);
    if (state === undefined)
      return Promise.resolve(respond(problemResponse(new WimseError('credentials_missing', `${name}() must follow wimse()`))));
    const outcome = state.handler.authorize(c.get('wimse'), check, state.view);
    if (!outcome.ok) return Promise.resolve(respond(outcome.response, c));
    return next();
  });
}

// On @hono/node-server the Node request rides in c.env: its raw header lines keep a repeated
// Authorization or WIT field apart (fetch Headers fold them into one), and its socket tells the TLS
// peer chain and address. Elsewhere only the fetch Request is used.
interface NodeBindings {
  incoming?: NodeIncoming;
}
interface NodeIncoming {
  rawHeaders?: readonly string[];
  socket?: unknown;
  httpVersionMajor?: number;
  // The stream side, for reading the body without a fetch Request (bodyOf).
  read?: unknown;
  readableFlowing?: boolean | null;
  readableDidRead?: boolean;
  rawBody?: unknown;
}

// The request view now, or (when a signature may cover a body) once the body is read.
function viewOf(c: Context, handler: WimseHandler): WimseRequest | Promise<WimseRequest | WimseError> {
  const incoming = (c.env as NodeBindings | undefined)?.incoming;
  const headers = incoming?.rawHeaders === undefined ? headersOf(c.req.raw.headers) : headersFromRaw(incoming.rawHeaders);
  const connection = connectionOf(incoming?.socket);
  if (!handler.needsBody(headers)) return requestView(c, headers, undefined, connection);
  return bodyOf(c, handler.maxBodyBytes).then(
    (body) => requestView(c, headers, body, connection),
    (e: unknown) => {
      if (e instanceof WimseError) return e;
      throw e;
    },
  );
}

// One object literal, always the same fields in the same order (no spread): the core reads this
// view many times per request, through one hidden class.
function requestView(c: Context, headers: RequestHeaders, body: Uint8Array | undefined, connection: ConnectionFacts): WimseRequest {
  return {
    method: c.req.method,
    path: originForm(c.req.url),
    headers,
    body,
    peerCertificates: connection.peerCertificates,
    remoteAddress: connection.remoteAddress,
  };
}

// The core reads the fetch body (bounded); the request then gets a fresh body of the same bytes,
// so the app's c.req.json()/text() and later middleware (bodyLimit) read them as usual.
async function bodyOf(c: Context, limit: number): Promise<Uint8Array> {
  const raw = c.req.raw;
  // A set-up mistake, not bad input: say so loudly rather than fail every digest check.
  if (raw.bodyUsed) throw new Error('wimse(): the body was read before wimse(); mount wimse() before middleware that reads it');
  const incoming = (c.env as NodeBindings | undefined)?.incoming;
  if (incoming !== undefined && unread(incoming, c.req.method) && pristine(raw)) return nodeBodyOf(incoming, limit);
  if (raw.body === null) return new Uint8Array(0);
  const body = await readBody(raw.body, limit, raw.headers.get('content-length'));
  c.req.raw = new Request(raw, { body });
  return body;
}

// On @hono/node-server, the Node request's body is read directly (bounded, as Express reads it):
// touching c.req.raw.body would first turn its light request into a full fetch Request over a
// Web stream, and the body would then need a second Request. The bytes are left as the request's
// `rawBody`, which @hono/node-server serves c.req.json()/text()/arrayBuffer() and c.req.raw.body
// from (as for Cloud Functions, where the platform read the body). Only where it would have a
// body at all (not GET, HEAD, TRACE), and only a stream nobody has started reading.
function unread(incoming: NodeIncoming, method: string): boolean {
  return (
    method !== 'GET' &&
    method !== 'HEAD' &&
    method !== 'TRACE' &&
    typeof incoming.read === 'function' &&
    incoming.readableFlowing == null &&
    incoming.readableDidRead === false &&
    !('rawBody' in incoming)
  );
}

// @hono/node-server's light request that nothing has yet turned into a fetch Request: that one's
// body stream would read the Node request too (its first pull may already be scheduled). Known
// by its own keys; a request not recognised (another server, another version) takes the fetch path.
function pristine(raw: Request): boolean {
  let light = false;
  for (const key of Object.getOwnPropertySymbols(raw)) {
    if (key.description === 'requestCache') return false;
    if (key.description === 'incomingKey') light = true;
  }
  return light;
}

async function nodeBodyOf(incoming: NodeIncoming, limit: number): Promise<Uint8Array> {
  const body = await readAndRestoreBody(incoming as unknown as NodeBodyStream, limit);
  // Not read by anyone, yet no longer readable: destroyed, the client gone (as readBody says of a failing stream).
  if (body === undefined) throw new WimseError('request_invalid', 'Request body could not be read');
  incoming.rawBody = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  return body;
}

// The response rebuilt from its bytes (read up to the limit) with the signature fields added;
// when it cannot be signed, the refusal instead, unsigned.
async function signed(
  response: Response,
  signature: ResponseSignature,
  handler: WimseHandler,
  view: WimseRequest,
  c: Context,
): Promise<Response> {
  try {
    const body = await bytesOf(response, signature);
    const headers = new Headers(response.headers);
    const fields: Record<string, string> = {};
    headers.forEach((value, name) => void (fields[name] = value));
    for (const [name, value] of Object.entries(await signature.sign({ status: response.status, headers: fields, body })))
      headers.set(name, value);
    return new Response(body === undefined || NULL_BODY.has(response.status) ? null : body, {
      status: response.status,
      statusText: response.statusText,
      headers,
    });
  } catch (e) {
    // A refusal (too large, credentials) as itself; a bug as the reported 500 internal_error.
    return respond(handler.fail(e, view).response, c);
  }
}

const NULL_BODY = new Set([101, 204, 205, 304]);

async function bytesOf(response: Response, signature: ResponseSignature): Promise<Uint8Array<ArrayBuffer> | undefined> {
  return response.body === null ? undefined : signature.read(response.body);
}

function respond(r: WimseErrorResponse, c?: Context): Response {
  const incoming = (c?.env as NodeBindings | undefined)?.incoming;
  return new Response(r.body, { status: r.status, headers: headersFor(r, incoming?.httpVersionMajor) });
}
