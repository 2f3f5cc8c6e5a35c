/**
 * Framework-neutral glue shared by every adapter (Express, Fastify, Hono, NestJS): adapter options,
 * optional mode, route policy and the error response. An adapter only builds a {@link WimseRequest},
 * calls {@link WimseHandler.handle} and sends what comes back, so all of them answer alike.
 */
import { createAuthorizer, type WorkloadPolicy } from './authorization.js';
import { boundedBody } from './body.js';
import { PROBLEM_CONTENT_TYPE, WimseError, type WimseErrorCode } from './errors.js';
import type { VerifierOptions } from './options.js';
import type { WimsePrincipal } from './principal.js';
import { fieldValues, type RequestHeaders, type WimseRequest } from './request.js';
import { createVerifier, type WimseVerifier } from './verifier.js';

/** An error response ready to send: status, headers (incl. `content-type`) and the serialized body. */
export interface WimseErrorResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Reshapes an error response. Return a replacement, or nothing to keep `response`.
 * `request` is the view the adapter built (absent when the error arose outside a request).
 */
export type WimseErrorHook = (
  error: WimseError,
  response: WimseErrorResponse,
  request: WimseRequest | undefined,
) => WimseErrorResponse | undefined | void;

/** Options of every adapter: the verifier's, plus what a web framework needs. */
export interface WimseAdapterOptions extends VerifierOptions {
  /** Let requests without any WIMSE credentials through with no principal. Invalid credentials are still rejected. */
  optional?: boolean;
  /** Workloads allowed on every protected route (403 otherwise). Routes may narrow this further. */
  allow?: WorkloadPolicy;
  /** Reshape error responses (status, headers, body). */
  onError?: WimseErrorHook;
  /**
   * Largest body verified against a Content-Digest, in bytes: a longer one is refused with 413
   * `body_too_large`, having read at most this many bytes of it. Default 1 MiB.
   */
  maxBodyBytes?: number;
}

/** Per-route rules, compiled with {@link WimseHandler.route}. */
export interface WimseRouteRules {
  /** Principal may be absent on this route (overrides the adapter's `optional`). */
  optional?: boolean;
  /** Workloads allowed on this route. Applies when a principal is present. */
  allow?: WorkloadPolicy;
}

/** Compiled {@link WimseRouteRules}. */
export interface WimseRoute {
  readonly optional: boolean | undefined;
  readonly authorize: ((principal: WimsePrincipal) => void) | undefined;
}

/** What an adapter does with a request: go on (with or without a principal) or send `response`. */
export type WimseOutcome =
  | { readonly ok: true; readonly principal: WimsePrincipal | undefined }
  | { readonly ok: false; readonly error: WimseError; readonly response: WimseErrorResponse };

/** The adapter-side entry point built by {@link createWimseHandler}. */
export interface WimseHandler {
  readonly verifier: WimseVerifier;
  readonly maxBodyBytes: number;
  /** True when this request's proof may cover its content, so the adapter must supply the raw body. */
  needsBody(headers: RequestHeaders): boolean;
  /** Compiles route rules once (bad patterns throw `TypeError` at start-up). */
  route(rules?: WimseRouteRules): WimseRoute;
  /** Authenticates `request`, then applies optional mode and the adapter's and the route's policy. */
  handle(request: WimseRequest, route?: WimseRoute): Promise<WimseOutcome>;
  /** A route policy on its own (e.g. Express `requireWorkload`): no principal is a 401, a disallowed one a 403. */
  authorize(principal: WimsePrincipal | undefined, check: (principal: WimsePrincipal) => void, request?: WimseRequest): WimseOutcome;
  /** The response for `error`, after the error hook. */
  reject(error: WimseError, request?: WimseRequest): Extract<WimseOutcome, { ok: false }>;
}

// The errors `verify` raises when a request carries no proof at all: optional mode lets these through.
const NO_CREDENTIALS: readonly WimseErrorCode[] = ['credentials_missing', 'sig_missing', 'mtls_missing'];

/**
 * Creates the handler an adapter calls; options are validated now, so bad configuration throws at start-up.
 *
 * @example
 * const handler = createWimseHandler({ trustDomains, audience: 'https://orders.example.org' })
 * const outcome = await handler.handle({ method, path, headers })
 * if (!outcome.ok) send(outcome.response.status, outcome.response.headers, outcome.response.body)
 */
export function createWimseHandler(options: WimseAdapterOptions): WimseHandler {
  const verifier = createVerifier(options);
  if (options.optional !== undefined && typeof options.optional !== 'boolean') throw new TypeError('optional must be a boolean');
  if (options.onError !== undefined && typeof options.onError !== 'function') throw new TypeError('onError must be a function');
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes < 0) throw new TypeError('maxBodyBytes must be a non-negative integer');
  const allowAll = options.allow === undefined ? undefined : createAuthorizer(options.allow);
  const onError = options.onError;

  function reject(error: WimseError, request?: WimseRequest): Extract<WimseOutcome, { ok: false }> {
    const response = problemResponse(error);
    return { ok: false, error, response: onError?.(error, response, request) ?? response };
  }

  function authorize(principal: WimsePrincipal | undefined, check: (p: WimsePrincipal) => void, request?: WimseRequest): WimseOutcome {
    if (principal === undefined) return reject(new WimseError('credentials_missing', 'This route requires an authenticated workload'), request);
    try {
      check(principal);
    } catch (e) {
      if (e instanceof WimseError) return reject(e, request);
      throw e;
    }
    return { ok: true, principal };
  }

  return {
    verifier,
    maxBodyBytes,
    needsBody(headers) {
      // http-signature-07 §3: only a signature can cover content; a WPT never does.
      if (!verifier.proofs.has('http-sig') || fieldValues(headers, 'signature-input').length === 0) return false;
      if (fieldValues(headers, 'transfer-encoding').length > 0) return true;
      const length = fieldValues(headers, 'content-length')[0];
      // Without a length, HTTP/1.1 has no body (RFC 9112 §6.3), but HTTP/2 may (RFC 9113 §8.1): a Content-Digest says there is one.
      return length === undefined ? fieldValues(headers, 'content-digest').length > 0 : length.trim() !== '0';
    },
    route(rules = {}) {
      if (rules.optional !== undefined && typeof rules.optional !== 'boolean') throw new TypeError('optional must be a boolean');
      return { optional: rules.optional, authorize: rules.allow === undefined ? undefined : createAuthorizer(rules.allow) };
    },
    async handle(request, route) {
      let principal: WimsePrincipal;
      try {
        // The limit holds for bytes a framework read too (e.g. Nest's rawBody), so every adapter answers alike.
        boundedBody(request.body, maxBodyBytes);
        principal = await verifier.verify(request);
      } catch (e) {
        const error = e instanceof WimseError ? e : new WimseError('request_invalid', 'Request could not be verified', { cause: e });
        if ((route?.optional ?? options.optional) === true && NO_CREDENTIALS.includes(error.code)) return { ok: true, principal: undefined };
        return reject(error, request);
      }
      for (const check of [allowAll, route?.authorize]) {
        if (check === undefined) continue;
        const outcome = authorize(principal, check, request);
        if (!outcome.ok) return outcome;
      }
      return { ok: true, principal };
    },
    authorize,
    reject,
  };
}

/**
 * The default response for an error: its status and headers (e.g. `www-authenticate`) and the
 * RFC 9457 problem as `application/problem+json`.
 *
 * @example
 * const { status, headers, body } = problemResponse(new WimseError('forbidden'))
 */
export function problemResponse(error: WimseError): WimseErrorResponse {
  return { status: error.status, headers: { ...error.headers, 'content-type': PROBLEM_CONTENT_TYPE }, body: JSON.stringify(error.problem) };
}

/**
 * The fields of `response` to send on a connection speaking HTTP/`httpVersionMajor`: HTTP/2 and later
 * forbid connection-specific fields such as `Connection` (RFC 9113 §8.2.2); a server ends the stream instead.
 *
 * @example
 * reply.headers(headersFor(outcome.response, request.raw.httpVersionMajor))
 */
export function headersFor(response: WimseErrorResponse, httpVersionMajor: number | undefined): Record<string, string> {
  if (httpVersionMajor === undefined || httpVersionMajor < 2 || response.headers.connection === undefined) return response.headers;
  const { connection: _, ...headers } = response.headers;
  return headers;
}

interface PeerCertificate {
  raw?: Uint8Array;
  issuerCertificate?: PeerCertificate;
}

interface NodeSocket {
  remoteAddress?: string;
  encrypted?: boolean;
  getPeerCertificate?: (detailed: boolean) => PeerCertificate | null;
}

/** What the connection tells about the caller, as {@link WimseRequest} fields. */
export interface ConnectionFacts {
  /** DER of the TLS client certificate chain, leaf first; absent on plain TCP or without a client certificate. */
  peerCertificates: Uint8Array[] | undefined;
  /** IP address of the TCP peer. */
  remoteAddress: string | undefined;
}

/**
 * Reads the TLS peer chain and the peer address from a Node socket (`net.Socket`/`tls.TLSSocket`)
 * without importing `node:tls`, so Web-standard bundles stay clean. Anything else yields nothing.
 *
 * @example
 * const view = { method, path, headers, ...connectionOf(req.socket) }
 */
export function connectionOf(socket: unknown): ConnectionFacts {
  const s = (typeof socket === 'object' ? socket : undefined) as NodeSocket | null | undefined;
  return { peerCertificates: peerCertificates(s), remoteAddress: typeof s?.remoteAddress === 'string' ? s.remoteAddress : undefined };
}

function peerCertificates(s: NodeSocket | null | undefined): Uint8Array[] | undefined {
  if (s?.encrypted !== true || typeof s.getPeerCertificate !== 'function') return undefined;
  const chain: Uint8Array[] = [];
  let cert: PeerCertificate | null | undefined = s.getPeerCertificate(true);
  // A self-signed root is its own issuer: stop at the first repeat.
  while (cert?.raw !== undefined && chain.length < 10 && !chain.includes(cert.raw)) {
    chain.push(cert.raw);
    cert = cert.issuerCertificate;
  }
  return chain.length === 0 ? undefined : chain;
}
