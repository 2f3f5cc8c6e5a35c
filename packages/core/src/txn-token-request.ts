/**
 * The Txn-Token Service's side of the Txn-Token Request (draft-ietf-oauth-transaction-tokens-10
 * §11): the profile of an RFC 8693 request (§11.1, §11.2), the scope bound (§13.6, §13.14) and the
 * rules for a replacement Txn-Token (§13.15). Pure rules, no I/O: the service verifies tokens and
 * signs; these functions say what may be issued. Refusals are {@link TokenExchangeError}s.
 */
import { TOKEN_TYPES, TokenExchangeError, type TokenExchangeRequest } from './token-exchange.js';

/** A Txn-Token Request that passed the §11.1 profile rules. */
export interface TxnTokenRequest {
  readonly subjectToken: string;
  readonly subjectTokenType: string;
  /** The trust domain named by `audience` (§11.1: "MUST be set to the Trust Domain name"). */
  readonly audience: string;
  /** Requested scope tokens (REQUIRED). */
  readonly scope: readonly string[];
  /** `request_context` (RECOMMENDED), the basis for `rctx`. */
  readonly requestContext: Readonly<Record<string, unknown>> | undefined;
  /** `request_details` (RECOMMENDED), the basis for `tctx`. */
  readonly requestDetails: Readonly<Record<string, unknown>> | undefined;
}

/** Options of {@link parseTxnTokenRequest}. */
export interface TxnTokenRequestOptions {
  /** The trust domain this service issues for. */
  trustDomain: string;
  /** Deepest nesting accepted in `request_context`/`request_details`. Default 8. */
  maxJsonDepth?: number;
}

/**
 * Applies the §11.1 profile to a parsed RFC 8693 request: `requested_token_type` is the Txn-Token
 * type, `audience` is exactly this trust domain, `scope` is present, a refresh token is never a
 * subject (§13.3), `request_context`/`request_details` are JSON objects. `actor_token` and `resource`
 * are not part of the profile and are refused rather than silently ignored.
 *
 * @throws TokenExchangeError `invalid_request`, `invalid_target`.
 * @example
 * const txnRequest = parseTxnTokenRequest(parseTokenExchangeRequest(http), { trustDomain: 'example.org' })
 */
export function parseTxnTokenRequest(request: TokenExchangeRequest, options: TxnTokenRequestOptions): TxnTokenRequest {
  const depth = options.maxJsonDepth ?? 8;
  // §11.1: requested_token_type REQUIRED, the Txn-Token type.
  if (request.requestedTokenType !== TOKEN_TYPES.txn_token) {
    throw new TokenExchangeError('invalid_request', `requested_token_type must be ${TOKEN_TYPES.txn_token}`);
  }
  // §11.1: audience REQUIRED, "MUST be set to the Trust Domain name"; RFC 8693 §2.2.2: invalid_target.
  if (request.audience.length === 0) throw new TokenExchangeError('invalid_request', 'audience (the trust domain) is required');
  if (request.audience.length !== 1 || request.audience[0] !== options.trustDomain) {
    throw new TokenExchangeError('invalid_target', `audience must be the trust domain ${options.trustDomain}`);
  }
  if (request.resource.length > 0)
    throw new TokenExchangeError('invalid_target', 'resource is not used by Txn-Token requests; name the trust domain in audience');
  if (request.actorToken !== undefined) throw new TokenExchangeError('invalid_request', 'actor_token is not used by Txn-Token requests');
  // §11.1: scope REQUIRED.
  if (request.scope === undefined) throw new TokenExchangeError('invalid_request', 'scope is required');
  // §13.3 / §11.2: every RFC 8693 type but a refresh token.
  if (request.subjectTokenType === TOKEN_TYPES.refresh_token)
    throw new TokenExchangeError('invalid_request', 'A refresh token cannot be a subject token (txn-tokens §13.3)');
  return Object.freeze({
    subjectToken: request.subjectToken,
    subjectTokenType: request.subjectTokenType,
    audience: options.trustDomain,
    scope: request.scope,
    requestContext: jsonObject(request.extensions.request_context, 'request_context', depth),
    requestDetails: jsonObject(request.extensions.request_details, 'request_details', depth),
  });
}

/**
 * §13.6: "the requested `scope` of the Txn-Token is equal or less than the scope(s) associated
 * with the original `subject_token`"; §13.14: an unknown (`undefined`) subject scope "MUST NOT" be
 * treated as unconstrained.
 *
 * @throws TokenExchangeError `invalid_scope` naming the first scope token outside `bound`.
 */
export function checkScopeWithin(requested: readonly string[], bound: readonly string[] | undefined, boundName: string): void {
  if (bound === undefined)
    throw new TokenExchangeError('invalid_scope', `The scope of the ${boundName} is unknown, so no scope can be granted`);
  const allowed = new Set(bound);
  const outside = requested.find((s) => !allowed.has(s));
  if (outside !== undefined) throw new TokenExchangeError('invalid_scope', `Scope ${outside} exceeds the ${boundName}`);
}

/** What a replacement keeps of the Txn-Token it replaces (the verified claims). */
export interface ReplacedTxnToken {
  readonly txn: string;
  readonly sub: string;
  readonly scope: readonly string[];
  readonly reqWl: string;
  readonly exp: number;
  readonly tctx?: Readonly<Record<string, unknown>>;
  readonly rctx?: Readonly<Record<string, unknown>>;
}

/** The claims of a replacement Txn-Token, before `req_wl`, `aud`, `iat` are set by the service. */
export interface ReplacementClaims {
  txn: string;
  sub: string;
  scope: readonly string[];
  exp: number;
  tctx?: Record<string, unknown>;
  rctx: Record<string, unknown>;
}

/**
 * §13.15 replacement: the previous token must not have expired; `txn`, `sub` (and `aud`, the trust
 * domain) are kept; the scope may only narrow; `tctx` values are immutable (§9.2.3), so
 * `request_details` may only repeat them, never change or add; the expiry is kept (no extension,
 * so no count of replacements is needed). The call chain of requesters is kept in
 * `rctx.req_wl_chain` (§13.15 "MUST maintain the Call Chain"; the mechanism is ours: `req_wl`
 * stays a string, the new requester).
 *
 * @throws TokenExchangeError `invalid_request` (expired, tctx change), `invalid_scope` (wider scope).
 */
export function replacementClaims(previous: ReplacedTxnToken, request: TxnTokenRequest, nowSeconds: number): ReplacementClaims {
  if (previous.exp <= nowSeconds)
    throw new TokenExchangeError('invalid_request', 'The Txn-Token to replace has expired (txn-tokens §13.15)');
  checkScopeWithin(request.scope, previous.scope, 'Txn-Token being replaced');
  for (const [name, value] of Object.entries(request.requestDetails ?? {})) {
    if (previous.tctx === undefined || !Object.hasOwn(previous.tctx, name) || !sameJson(previous.tctx[name], value)) {
      throw new TokenExchangeError(
        'invalid_request',
        `tctx is immutable on replacement: request_details.${safeName(name)} differs from the Txn-Token`,
      );
    }
  }
  const chain = Array.isArray(previous.rctx?.req_wl_chain)
    ? (previous.rctx.req_wl_chain as unknown[]).filter((w): w is string => typeof w === 'string')
    : [];
  return {
    txn: previous.txn,
    sub: previous.sub,
    scope: request.scope,
    exp: previous.exp,
    ...(previous.tctx === undefined ? {} : { tctx: structuredClone(previous.tctx) as Record<string, unknown> }),
    rctx: { ...structuredClone(previous.rctx ?? {}), req_wl_chain: [...chain, previous.reqWl] },
  };
}

function jsonObject(text: string | undefined, name: string, maxDepth: number): Readonly<Record<string, unknown>> | undefined {
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new TokenExchangeError('invalid_request', `${name} is not JSON`);
  }
  // §11.1: "a JSON object".
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new TokenExchangeError('invalid_request', `${name} must be a JSON object`);
  if (depthOf(value, maxDepth) > maxDepth)
    throw new TokenExchangeError('invalid_request', `${name} is nested deeper than ${maxDepth} levels`);
  return value as Record<string, unknown>;
}

// Stops counting past `limit`, so a deep value costs no more than the limit.
function depthOf(value: unknown, limit: number, depth = 0): number {
  if (depth > limit || typeof value !== 'object' || value === null) return depth;
  let deepest = depth + 1;
  for (const v of Object.values(value)) {
    deepest = Math.max(deepest, depthOf(v, limit, depth + 1));
    if (deepest > limit) break;
  }
  return deepest;
}

// Equality of JSON values (objects by members, arrays by order).
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return (
    ka.length === kb.length &&
    ka.every((k) => Object.hasOwn(b, k) && sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
  );
}

function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]/g, '?').slice(0, 64);
}
