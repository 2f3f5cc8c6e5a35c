/**
 * Framework-neutral glue shared by every adapter (Express, Fastify, Hono, NestJS): adapter options,
 * optional mode, route policy and the error response. An adapter only builds a {@link WimseRequest},
 * calls {@link WimseHandler.handle} and sends what comes back, so all of them answer alike.
 */
import { createAuthorizer, createScopeCheck, type WorkloadPolicy } from './authorization.js';
import { boundedBody } from './body.js';
import { PROBLEM_CONTENT_TYPE, WimseError, type WimseErrorCode } from './errors.js';
import { createOperatorLog } from './logger.js';
import { rejectUnknownKeys, type KnownKeys } from './option-keys.js';
import { VERIFIER_KEYS, type VerifierOptions } from './options.js';
import type { WimsePrincipal } from './principal.js';
import { fieldValues, type RequestHeaders, type WimseRequest } from './request.js';
import { createResponseSigning, type ResponseSignature, type ResponseSigningOptions } from './response-signing.js';
import { createVerifierCore, type WimseVerifier } from './verifier.js';
import type { MaybePromise } from './maybe-async.js';

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

/**
 * Hears about bugs: any exception on the request path that is not a {@link WimseError}. The
 * request is answered 500 `internal_error` (through the error hook); `error` is the exception.
 */
export type WimseInternalErrorHook = (error: unknown, request: WimseRequest | undefined) => void;

/** Options of every adapter: the verifier's and the response signer's, plus what a web framework needs. */
export interface WimseAdapterOptions extends VerifierOptions, ResponseSigningOptions {
  /** Let requests without any WIMSE credentials through with no principal. Invalid credentials are still rejected. */
  optional?: boolean;
  /** Workloads allowed on every protected route (403 otherwise). Routes may narrow this further. */
  allow?: WorkloadPolicy;
  /** Reshape error responses (status, headers, body). */
  onError?: WimseErrorHook;
  /**
   * Report bugs (exceptions that are not bad input; answered 500 `internal_error`). Default: `logger.error`
   * when a `logger` is set, else `console.error`; tokens redacted either way.
   */
  onInternalError?: WimseInternalErrorHook;
  /**
   * Largest body verified against a Content-Digest, in bytes: a longer one is refused with 413
   * `body_too_large`, having read at most this many bytes of it. Default 1 MiB.
   */
  maxBodyBytes?: number;
}

/**
 * Per-route rules, the same in every adapter (compiled with {@link WimseHandler.route}). Unknown
 * keys throw: a misspelt policy must not fail open.
 */
export interface WimseRouteRules {
  /** No authentication on this route. */
  public?: boolean;
  /** Principal may be absent on this route (overrides the adapter's `optional`). */
  optional?: boolean;
  /** Workloads allowed on this route. Applies when a principal is present. */
  allow?: WorkloadPolicy;
  /**
   * Scopes the request's verified Txn-Token must all grant (needs the `transactionTokens` option);
   * otherwise 403 `insufficient_scope`. A scope route always requires an authenticated workload.
   */
  scope?: string | readonly string[];
}

/** Compiled {@link WimseRouteRules}. */
export interface WimseRoute {
  readonly public: boolean;
  readonly optional: boolean | undefined;
  readonly authorize: ((principal: WimsePrincipal) => void) | undefined;
  /** The compiled `scope` requirement, if any (see {@link createScopeCheck}). */
  readonly scope?: ((principal: WimsePrincipal) => void) | undefined;
}

/**
 * What an adapter does with a request: go on (with or without a principal) or send `response`.
 * With `responseSignature`, whatever is then sent for this request (the handler's response or
 * `response`) must be signed with it first (http-signature-07 §3.5).
 */
export type WimseOutcome =
  | { readonly ok: true; readonly principal: WimsePrincipal | undefined; readonly responseSignature?: ResponseSignature | undefined }
  | {
      readonly ok: false;
      readonly error: WimseError;
      readonly response: WimseErrorResponse;
      readonly responseSignature?: ResponseSignature | undefined;
    };

/** The adapter-side entry point built by {@link createWimseHandler}. */
export interface WimseHandler {
  readonly verifier: WimseVerifier;
  readonly maxBodyBytes: number;
  /** True when this request's proof may cover its content, so the adapter must supply the raw body. */
  needsBody(headers: RequestHeaders): boolean;
  /** False when {@link needsBody} is always false (HTTP signatures not accepted): an adapter may leave out its body hook. */
  readonly readsBodies: boolean;
  /**
   * False when no outcome ever carries a `responseSignature` (no `responseSigner`, or `signResponses: 'never'`;
   * a request asking for one is then refused in {@link handle}): an adapter may leave out its response hook.
   */
  readonly signsResponses: boolean;
  /** Compiles route rules once (unknown keys and bad patterns throw `TypeError` at start-up). */
  route(rules?: WimseRouteRules): WimseRoute;
  /**
   * Authenticates `request`, then applies optional mode and the adapter's and the route's policy.
   * Answers in the same tick when nothing had to wait (a cached WIT, `node:crypto`, a synchronous
   * replay store, no response to sign), else with a promise; never throws, never rejects.
   */
  handle(request: WimseRequest, route?: WimseRoute): WimseOutcome | Promise<WimseOutcome>;
  /**
   * A route's rules for a request this handler already authenticated (an adapter mounted globally
   * and again on the route): they can only narrow what already ran — `allow`, `scope`, and
   * `optional: false` apply; `public` and `optional: true` cannot undo the authentication.
   */
  narrow(principal: WimsePrincipal | undefined, route: WimseRoute, request?: WimseRequest): WimseOutcome;
  /** A route policy on its own (e.g. Express `requireWorkload`): no principal is a 401, a disallowed one a 403. */
  authorize(principal: WimsePrincipal | undefined, check: (principal: WimsePrincipal) => void, request?: WimseRequest): WimseOutcome;
  /** The response for `error`, after the error hook. */
  reject(error: WimseError, request?: WimseRequest): Extract<WimseOutcome, { ok: false }>;
  /** The response for any exception: a {@link WimseError} as {@link reject}, anything else a reported 500 `internal_error`. */
  fail(error: unknown, request?: WimseRequest): Extract<WimseOutcome, { ok: false }>;
}

/** The adapter's own keys, beside {@link VerifierOptions}. */
const ADAPTER_KEYS: KnownKeys<Omit<WimseAdapterOptions, keyof VerifierOptions>> = {
  optional: true,
  allow: true,
  onError: true,
  onInternalError: true,
  maxBodyBytes: true,
  responseSigner: true,
  signResponses: true,
  maxResponseBodyBytes: true,
  responseSignatureLifetime: true,
};
const ROUTE_KEYS: KnownKeys<WimseRouteRules> = { public: true, optional: true, allow: true, scope: true };

// A request let through without a principal (public route, optional mode without credentials).
const PASS: WimseOutcome = Object.freeze({ ok: true, principal: undefined });

// Only a refusal to sign is an answer; anything else is a bug, reported as a 500 (handle()).
function unsignable(e: unknown): WimseError {
  if (!(e instanceof WimseError)) throw e;
  return e;
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
  rejectUnknownKeys('WIMSE options', options, { ...VERIFIER_KEYS, ...ADAPTER_KEYS });
  const {
    optional: _o,
    allow: _a,
    onError: _e,
    onInternalError: _i,
    maxBodyBytes: _m,
    responseSigner,
    signResponses,
    maxResponseBodyBytes,
    responseSignatureLifetime,
    ...verifierOptions
  } = options;
  const verifier = createVerifierCore(verifierOptions);
  if (options.optional !== undefined && typeof options.optional !== 'boolean') throw new TypeError('optional must be a boolean');
  if (options.onError !== undefined && typeof options.onError !== 'function') throw new TypeError('onError must be a function');
  if (options.onInternalError !== undefined && typeof options.onInternalError !== 'function')
    throw new TypeError('onInternalError must be a function');
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes < 0) throw new TypeError('maxBodyBytes must be a non-negative integer');
  const allowAll = options.allow === undefined ? undefined : createAuthorizer(options.allow);
  const signing = createResponseSigning({
    ...(responseSigner === undefined ? {} : { responseSigner }),
    ...(signResponses === undefined ? {} : { signResponses }),
    ...(maxResponseBodyBytes === undefined ? {} : { maxResponseBodyBytes }),
    ...(responseSignatureLifetime === undefined ? {} : { responseSignatureLifetime }),
  });
  const onError = options.onError;
  // Refusals that point at configuration (audience, issuer) reach the operator's log, rate-limited.
  const log = createOperatorLog(options.logger, options.now ?? Date.now);
  const report = options.onInternalError ?? (options.logger && log !== undefined ? log.internal : reportToConsole);

  function reject(error: WimseError, request?: WimseRequest): Extract<WimseOutcome, { ok: false }> {
    if (error.mismatch !== undefined) log?.mismatch(error);
    const response = problemResponse(error);
    let hooked: WimseErrorResponse | undefined | void;
    try {
      hooked = onError?.(error, response, request);
    } catch (e) {
      // A throwing error hook is a bug too: report it and send the plain 500, without the hook.
      safeReport(e, request);
      const internal = internalError(e);
      return { ok: false, error: internal, response: problemResponse(internal) };
    }
    return { ok: false, error, response: hooked ?? response };
  }

  // A bug must be heard about, but a reporter that throws must not take the answer down with it.
  function safeReport(e: unknown, request: WimseRequest | undefined): void {
    try {
      report(e, request);
    } catch {
      // Nothing left to tell.
    }
  }

  function fail(e: unknown, request?: WimseRequest): Extract<WimseOutcome, { ok: false }> {
    if (e instanceof WimseError) return reject(e, request);
    safeReport(e, request);
    return reject(internalError(e), request);
  }

  function authorize(principal: WimsePrincipal | undefined, check: (p: WimsePrincipal) => void, request?: WimseRequest): WimseOutcome {
    if (principal === undefined)
      return reject(new WimseError('credentials_missing', 'This route requires an authenticated workload'), request);
    try {
      check(principal);
    } catch (e) {
      return fail(e, request);
    }
    return { ok: true, principal };
  }

  function forbidden(
    principal: WimsePrincipal,
    check: ((p: WimsePrincipal) => void) | undefined,
    request: WimseRequest | undefined,
  ): Extract<WimseOutcome, { ok: false }> | undefined {
    if (check === undefined) return undefined;
    const outcome = authorize(principal, check, request);
    return outcome.ok ? undefined : outcome;
  }

  // Each step goes on in the same tick when the one before answered synchronously.
  function verifyAndAuthorize(request: WimseRequest, route: WimseRoute | undefined): MaybePromise<WimseOutcome> {
    if (route?.public === true) return PASS;
    let principal: MaybePromise<WimsePrincipal>;
    try {
      // The limit holds for bytes a framework read too (e.g. Nest's rawBody), so every adapter answers alike.
      boundedBody(request.body, maxBodyBytes);
      principal = verifier.authenticate(request);
    } catch (e) {
      return refused(e, request, route);
    }
    if (principal instanceof Promise)
      return principal.then(
        (p) => authorized(p, request, route),
        (e: unknown) => refused(e, request, route),
      );
    return authorized(principal, request, route);
  }

  // Bad input is a WimseError; anything else is a bug (fail() reports it as a 500).
  function refused(e: unknown, request: WimseRequest, route: WimseRoute | undefined): WimseOutcome {
    if (e instanceof WimseError && (route?.optional ?? options.optional) === true && NO_CREDENTIALS.includes(e.code)) return PASS;
    return fail(e, request);
  }

  function authorized(principal: WimsePrincipal, request: WimseRequest, route: WimseRoute | undefined): MaybePromise<WimseOutcome> {
    let prepared: Promise<ResponseSignature | undefined> | undefined;
    try {
      prepared = signing.prepare(request, principal);
    } catch (e) {
      return decided(principal, request, route, undefined, unsignable(e));
    }
    if (prepared === undefined) return decided(principal, request, route, undefined, undefined);
    return prepared.then(
      (responseSignature) => decided(principal, request, route, responseSignature, undefined),
      (e: unknown) => decided(principal, request, route, undefined, unsignable(e)),
    );
  }

  function decided(
    principal: WimsePrincipal,
    request: WimseRequest,
    route: WimseRoute | undefined,
    responseSignature: ResponseSignature | undefined,
    unsignable: WimseError | undefined,
  ): WimseOutcome {
    // A 403 says more than "cannot sign"; it is signed when it can be.
    // No array per request: each check in turn (hot path).
    const denied =
      forbidden(principal, allowAll, request) ??
      forbidden(principal, route?.authorize, request) ??
      forbidden(principal, route?.scope, request);
    if (denied !== undefined) return { ...denied, responseSignature };
    if (unsignable !== undefined) return reject(unsignable, request);
    return { ok: true, principal, responseSignature };
  }

  // http-signature-07 §3: only a signature can cover content; a WPT never does.
  const readsBodies = verifier.proofs.has('http-sig');

  return {
    verifier,
    maxBodyBytes,
    readsBodies,
    signsResponses: signing.enabled,
    needsBody(headers) {
      if (!readsBodies || fieldValues(headers, 'signature-input').length === 0) return false;
      if (fieldValues(headers, 'transfer-encoding').length > 0) return true;
      const length = fieldValues(headers, 'content-length')[0];
      // Without a length, HTTP/1.1 has no body (RFC 9112 §6.3), but HTTP/2 may (RFC 9113 §8.1): a Content-Digest says there is one.
      return length === undefined ? fieldValues(headers, 'content-digest').length > 0 : length.trim() !== '0';
    },
    route(rules = {}) {
      rejectUnknownKeys('route rules', rules, ROUTE_KEYS);
      if (rules.public !== undefined && typeof rules.public !== 'boolean') throw new TypeError('route rules: public must be a boolean');
      if (rules.optional !== undefined && typeof rules.optional !== 'boolean')
        throw new TypeError('route rules: optional must be a boolean');
      if (rules.public === true && (rules.optional !== undefined || rules.allow !== undefined || rules.scope !== undefined)) {
        throw new TypeError('route rules: a public route is not authenticated, so optional, allow and scope cannot apply');
      }
      if (rules.scope !== undefined && rules.optional === true)
        throw new TypeError('route rules: a scope route needs an authenticated workload, so it cannot be optional');
      if (rules.scope !== undefined && options.transactionTokens === undefined) {
        throw new TypeError('route rules: scope needs the transactionTokens option (Txn-Tokens are not verified without it)');
      }
      const scope = rules.scope === undefined ? undefined : createScopeCheck(rules.scope);
      return {
        public: rules.public === true,
        // A scope route is never optional, even under an optional adapter.
        optional: scope === undefined ? rules.optional : false,
        authorize: rules.allow === undefined ? undefined : createAuthorizer(rules.allow),
        scope,
      };
    },
    narrow(principal, route, request) {
      if (principal === undefined) {
        // As handle() would decide: the route's optional, else the adapter's.
        if (route.public || (route.optional ?? options.optional) === true) return { ok: true, principal };
        return reject(new WimseError('credentials_missing', 'This route requires an authenticated workload'), request);
      }
      return forbidden(principal, route.authorize, request) ?? forbidden(principal, route.scope, request) ?? { ok: true, principal };
    },
    handle(request, route) {
      try {
        const outcome = verifyAndAuthorize(request, route);
        return outcome instanceof Promise ? outcome.catch((e: unknown) => fail(e, request)) : outcome;
      } catch (e) {
        return fail(e, request);
      }
    },
    authorize,
    reject,
    fail,
  };
}

function internalError(cause: unknown): WimseError {
  // The detail stays generic: the exception's message may hold internals, or input.
  return new WimseError('internal_error', 'The request could not be processed; the error was reported', { cause });
}

// Compact-JWS-shaped runs (three base64url segments): an exception message may quote its input.
const TOKEN_RE = /[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]*/g;

/** The default `onInternalError`: one line and the stack on stderr, tokens redacted, the query left out. */
function reportToConsole(error: unknown, request: WimseRequest | undefined): void {
  const where = request === undefined ? '' : ` on ${request.method} ${request.path.split('?')[0]}`;
  const text = error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
  console.error(`@wimse: internal error${where}, answered 500 internal_error:\n${text.replace(TOKEN_RE, '[token]')}`);
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
