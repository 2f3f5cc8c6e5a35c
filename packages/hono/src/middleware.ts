/**
 * Hono glue: build the core's request view, call the shared handler, set `c.var.wimse` or answer
 * with the core's error response. Web-standard only (fetch `Request`/`Response`, no `node:`
 * imports), so it runs on Node, Workers, Deno and Bun. No protocol rule lives here.
 */
import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import {
  WimseError,
  createAuthorizer,
  connectionOf,
  createWimseHandler,
  headersOf,
  problemResponse,
  type RequestHeaders,
  type WimseAdapterOptions,
  type WimseErrorResponse,
  type WimseHandler,
  type WimsePrincipal,
  type WimseRequest,
  type WorkloadPolicy,
} from '@wimse/core';

/** Options of {@link wimse}: the core verifier's plus `optional`, `allow`, `onError` and `maxBodyBytes`. */
export type WimseHonoOptions = WimseAdapterOptions;

/** The context variables set by {@link wimse}: `c.get('wimse')`. */
export interface WimseEnv {
  Variables: {
    /** The authenticated workload; `undefined` in optional mode without credentials. */
    wimse: WimsePrincipal | undefined;
  };
}

// What requireWorkload needs from the wimse() that ran before it on the same request.
const seen = new WeakMap<Context, { handler: WimseHandler; view: WimseRequest }>();

/**
 * Authenticates requests and sets `c.get('wimse')`.
 *
 * @example
 * app.use('/api/*', wimse({ trustDomains: { 'example.org': { keys: jwksUrl } }, audience: 'https://orders.example.org' }))
 * app.get('/api/whoami', (c) => c.json({ workload: c.get('wimse')?.workload }))
 */
export function wimse(options: WimseHonoOptions) {
  const handler = createWimseHandler(options);
  return createMiddleware<WimseEnv>(async (c, next) => {
    const view = await viewOf(c, handler);
    if (view instanceof WimseError) return respond(handler.reject(view).response);
    seen.set(c, { handler, view });
    const outcome = await handler.handle(view);
    if (!outcome.ok) return respond(outcome.response);
    c.set('wimse', outcome.principal);
    await next();
  });
}

/**
 * Lets only the given workloads through (403 otherwise; 401 when no workload was authenticated).
 *
 * @example
 * app.get('/admin', requireWorkload('spiffe://example.org/admin'), (c) => c.text('hi'))
 */
export function requireWorkload(policy: WorkloadPolicy) {
  const check = createAuthorizer(policy);
  return createMiddleware<WimseEnv>(async (c, next) => {
    const state = seen.get(c);
    if (state === undefined) return respond(problemResponse(new WimseError('credentials_missing', 'requireWorkload() must follow wimse()')));
    const outcome = state.handler.authorize(c.get('wimse'), check, state.view);
    if (!outcome.ok) return respond(outcome.response);
    await next();
  });
}

// On @hono/node-server the Node request rides in c.env: its distinct header fields keep a repeated
// Authorization or WIT field apart (fetch Headers fold them into one), and its socket tells the TLS
// peer chain and address. Elsewhere only the fetch Request is used.
interface NodeBindings {
  incoming?: { headersDistinct?: RequestHeaders; socket?: unknown };
}

async function viewOf(c: Context, handler: WimseHandler): Promise<WimseRequest | WimseError> {
  const incoming = (c.env as NodeBindings | undefined)?.incoming;
  const headers = incoming?.headersDistinct ?? headersOf(c.req.raw.headers);
  const url = new URL(c.req.url);
  let body: Uint8Array | undefined;
  if (handler.needsBody(headers)) {
    if (Number(c.req.header('content-length') ?? 0) > handler.maxBodyBytes) return new WimseError('body_too_large', `Body larger than ${handler.maxBodyBytes} bytes`);
    // Hono caches the body, so the app's own c.req.json() still works afterwards.
    try {
      body = new Uint8Array(await c.req.arrayBuffer());
    } catch {
      return new WimseError('request_invalid', 'Request body could not be read');
    }
    if (body.length > handler.maxBodyBytes) return new WimseError('body_too_large', `Body larger than ${handler.maxBodyBytes} bytes`);
  }
  return { method: c.req.method, path: url.pathname + url.search, headers, body, ...connectionOf(incoming?.socket) };
}

function respond(r: WimseErrorResponse): Response {
  return new Response(r.body, { status: r.status, headers: r.headers });
}
