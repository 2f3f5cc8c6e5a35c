/**
 * OAuth 2.0 Token Exchange (RFC 8693), framework-neutral: the request parser, the error type with
 * its RFC 6749 §5.2 body, and the success response (RFC 8693 §2.2.1). Shared by every token
 * endpoint of the project (the Txn-Token Service, the identity server's attested WIT exchange) and
 * by their clients. What a profile adds (which token types, which audience) is the caller's rule.
 */
import type { WimseError } from './errors.js';

/** RFC 8693 §2.1 `grant_type`. */
export const TOKEN_EXCHANGE_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:token-exchange';

/** Token type identifiers: RFC 8693 §3, and txn-tokens-10 §11.2 (`txn_token`, `self_signed`, `unsigned_json`). */
export const TOKEN_TYPES = {
  access_token: 'urn:ietf:params:oauth:token-type:access_token',
  refresh_token: 'urn:ietf:params:oauth:token-type:refresh_token',
  id_token: 'urn:ietf:params:oauth:token-type:id_token',
  saml1: 'urn:ietf:params:oauth:token-type:saml1',
  saml2: 'urn:ietf:params:oauth:token-type:saml2',
  jwt: 'urn:ietf:params:oauth:token-type:jwt',
  txn_token: 'urn:ietf:params:oauth:token-type:txn_token',
  self_signed: 'urn:ietf:params:oauth:token-type:self_signed',
  unsigned_json: 'urn:ietf:params:oauth:token-type:unsigned_json',
  /**
   * A WIT (workload-creds-02 §5.1). No token type URI is registered for it (RFC 8693 §3 asks for a
   * URI; `urn:ietf:params:oauth:*` values need IANA registration), so this project names it under
   * its own URI until one is.
   */
  wit: 'https://wimse-js.dev/token-type/wit',
} as const;

/** RFC 8693 §2.1 media type of the request body (RFC 6749 Appendix B). */
export const FORM_CONTENT_TYPE = 'application/x-www-form-urlencoded';

/**
 * The `error` values of RFC 6749 §5.2 (and RFC 8707 §2 `invalid_target`, RFC 9449 §5
 * `invalid_dpop_proof`, and `temporarily_unavailable` with 503) a token exchange answers with.
 */
export type TokenExchangeErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'invalid_target'
  | 'invalid_dpop_proof'
  | 'temporarily_unavailable';

/** RFC 6749 §5.2 error body; `code` is the WIMSE code when client authentication failed on a WIMSE proof. */
export interface TokenExchangeErrorBody {
  error: TokenExchangeErrorCode;
  error_description?: string;
  code?: string;
}

/** A response ready to send: status, headers (lower-case names, incl. `content-type`) and the serialized body. */
export interface TokenEndpointResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

// RFC 6749 §5.2: 400 unless stated; invalid_client may be 401 (MUST be when the client used Authorization).
const STATUS: Record<TokenExchangeErrorCode, number> = {
  invalid_request: 400,
  invalid_client: 401,
  invalid_grant: 400,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  invalid_scope: 400,
  invalid_target: 400,
  // RFC 9449 §5: a token request with a missing or bad DPoP proof.
  invalid_dpop_proof: 400,
  // A dependency of the token endpoint (a platform issuer's JWKS, the replay store) is down: not the
  // client's fault, so not a 400. RFC 6749 registers this code for the authorization endpoint only
  // (§4.1.2.1); 503 with Retry-After says "try again later" at the token endpoint too.
  temporarily_unavailable: 503,
};

// RFC 6749 §5.2: error_description is %x20-21 / %x23-5B / %x5D-7E (no `"` or `\`), and never a token.
const DESCRIPTION_UNSAFE = /[^\x20-\x21\x23-\x5b\x5d-\x7e]/g;

/**
 * A refused token request, answered with an RFC 6749 §5.2 body. Thrown by the parser and by the
 * token endpoint's own checks; {@link TokenExchangeError.response} is what to send. Clients get
 * it back from {@link readTokenExchangeResponse}.
 *
 * @example
 * try { parseTokenExchangeRequest(http) } catch (e) {
 *   if (e instanceof TokenExchangeError) return send(e.response())
 * }
 */
export class TokenExchangeError extends Error {
  override readonly name = 'TokenExchangeError';
  /** The RFC 6749 `error` code. */
  readonly error: TokenExchangeErrorCode;
  /** HTTP status: 400, 401 for `invalid_client`, 413/405 for an oversized or non-POST request. */
  readonly status: number;
  /** Extra response headers, e.g. `www-authenticate` with `invalid_client`. */
  readonly headers: Readonly<Record<string, string>>;
  /** The WIMSE error code when the client's WIMSE authentication failed. */
  readonly code: string | undefined;

  constructor(
    error: TokenExchangeErrorCode,
    description?: string,
    options?: { status?: number; headers?: Record<string, string>; code?: string; cause?: unknown },
  ) {
    super(
      description === undefined ? error : description.replace(DESCRIPTION_UNSAFE, '?'),
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.error = error;
    this.status = options?.status ?? STATUS[error];
    this.headers = { ...options?.headers };
    this.code = options?.code;
  }

  /** The RFC 6749 §5.2 body. */
  get body(): TokenExchangeErrorBody {
    const body: TokenExchangeErrorBody = { error: this.error };
    if (this.message !== this.error) body.error_description = this.message;
    if (this.code !== undefined) body.code = this.code;
    return body;
  }

  /** The response to send: JSON body, `Cache-Control: no-store` (RFC 6749 §5.1, §5.2). */
  response(): TokenEndpointResponse {
    return { status: this.status, headers: { ...NO_STORE, ...this.headers }, body: JSON.stringify(this.body) };
  }
}

const NO_STORE = { 'content-type': 'application/json', 'cache-control': 'no-store', pragma: 'no-cache' } as const;

/**
 * A WIMSE authentication failure at a token endpoint as RFC 6749 §5.2 `invalid_client`, keeping
 * the WIMSE `code`: 401 with the WIMSE challenge when the proof came in `Authorization` (a WPT;
 * §5.2 makes 401 a MUST then) or the WIMSE answer already was 401, otherwise the WIMSE status (400:
 * a WIT or HTTP signature problem). A 403 (authenticated, not allowed) is `unauthorized_client`.
 * Server-side failures (5xx, 429) are not the client's fault: `undefined`, send the WIMSE problem as it is.
 */
export function tokenErrorFromWimse(e: WimseError, usedAuthorization: boolean): TokenExchangeError | undefined {
  if (e.status >= 500 || e.status === 429) return undefined;
  const status = usedAuthorization || e.status === 401 ? 401 : e.status;
  const headers: Record<string, string> = status === 401 ? { 'www-authenticate': e.headers['www-authenticate'] ?? 'WPT' } : {};
  return new TokenExchangeError(e.status === 403 ? 'unauthorized_client' : 'invalid_client', e.message, {
    status: e.status === 403 ? 400 : status,
    headers,
    code: e.code,
  });
}

/** Size bounds of {@link parseTokenExchangeRequest}. */
export interface TokenExchangeLimits {
  /** Largest body in bytes (413 beyond). Default 32 KiB. */
  maxBodyBytes?: number;
  /** Longest `subject_token`/`actor_token` in characters. Default 16 KiB. */
  maxTokenLength?: number;
  /** Longest other parameter value in characters. Default 4 KiB. */
  maxValueLength?: number;
  /** Most parameters in one request (repeated ones counted each time). Default 32. */
  maxParameters?: number;
}

/** The HTTP request as received, before any framework parsed its body. */
export interface TokenEndpointRequest {
  readonly method: string;
  /** The `Content-Type` field value, if any. */
  readonly contentType: string | null | undefined;
  /** The raw body bytes. */
  readonly body: Uint8Array;
}

/** A syntactically valid RFC 8693 §2.1 request. Empty values count as absent (RFC 6749 §3.1). */
export interface TokenExchangeRequest {
  readonly grantType: typeof TOKEN_EXCHANGE_GRANT_TYPE;
  readonly subjectToken: string;
  readonly subjectTokenType: string;
  readonly actorToken: string | undefined;
  readonly actorTokenType: string | undefined;
  readonly requestedTokenType: string | undefined;
  /** Every `audience` value, in order (RFC 8693 §2.1 allows several). */
  readonly audience: readonly string[];
  /** Every `resource` value: absolute URIs without fragment. */
  readonly resource: readonly string[];
  /** `scope` split into its scope tokens (RFC 6749 §3.3), duplicates removed; `undefined` when absent. */
  readonly scope: readonly string[] | undefined;
  /** Parameters this module does not define (profile extensions such as `request_context`), each sent once. */
  readonly extensions: Readonly<Record<string, string>>;
}

const MULTI = new Set(['audience', 'resource']);
const KNOWN = new Set([
  'grant_type',
  'subject_token',
  'subject_token_type',
  'actor_token',
  'actor_token_type',
  'requested_token_type',
  'audience',
  'resource',
  'scope',
]);
const TOKENS = new Set(['subject_token', 'actor_token']);
// RFC 6749 §3.3 scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;
// RFC 8693 §3: a token type identifier is a URI; a printable ASCII string with a scheme is the check.
const URI = /^[A-Za-z][A-Za-z0-9+.-]*:[\x21-\x7e]+$/;

/**
 * Parses and validates an RFC 8693 §2.1 token exchange request from its raw HTTP parts: `POST`,
 * `application/x-www-form-urlencoded` in UTF-8 (RFC 6749 Appendix B), no parameter twice except
 * `audience`/`resource` (RFC 6749 §3.2), the required parameters present, `actor_token_type`
 * exactly when `actor_token` is there, scope tokens well-formed (RFC 6749 §3.3), every value length-bounded.
 * Unknown parameters are kept in `extensions` (RFC 6749 §3.1: ignored unless a profile reads them).
 *
 * @throws TokenExchangeError `invalid_request` (405, 413 or 400), `unsupported_grant_type`, `invalid_scope`, `invalid_target`.
 * @example
 * const request = parseTokenExchangeRequest({ method: 'POST', contentType: req.headers['content-type'], body })
 */
export function parseTokenExchangeRequest(http: TokenEndpointRequest, limits: TokenExchangeLimits = {}): TokenExchangeRequest {
  const maxBody = limits.maxBodyBytes ?? 32 * 1024;
  const maxToken = limits.maxTokenLength ?? 16 * 1024;
  const maxValue = limits.maxValueLength ?? 4 * 1024;
  const maxParams = limits.maxParameters ?? 32;
  // RFC 6749 §3.2: "The client MUST use the HTTP "POST" method when making access token requests."
  if (http.method.toUpperCase() !== 'POST')
    throw new TokenExchangeError('invalid_request', 'Use POST', { status: 405, headers: { allow: 'POST' } });
  if (!isForm(http.contentType)) throw new TokenExchangeError('invalid_request', `Content-Type must be ${FORM_CONTENT_TYPE}`);
  if (http.body.byteLength > maxBody) throw new TokenExchangeError('invalid_request', `Body larger than ${maxBody} bytes`, { status: 413 });
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(http.body);
  } catch {
    throw new TokenExchangeError('invalid_request', 'Body is not UTF-8');
  }
  const params = new URLSearchParams(text);
  const single = new Map<string, string>();
  const multi = new Map<string, string[]>();
  let count = 0;
  for (const [name, value] of params) {
    if (++count > maxParams) throw new TokenExchangeError('invalid_request', `More than ${maxParams} parameters`);
    if (name.length > 64) throw new TokenExchangeError('invalid_request', 'Parameter name too long');
    const limit = TOKENS.has(name) ? maxToken : maxValue;
    if (value.length > limit) throw new TokenExchangeError('invalid_request', `${printable(name)} longer than ${limit} characters`);
    // RFC 6749 §3.1: "Parameters sent without a value MUST be treated as if they were omitted from the request."
    if (value === '') continue;
    if (MULTI.has(name)) {
      const values = multi.get(name) ?? [];
      values.push(value);
      multi.set(name, values);
    } else if (single.has(name)) {
      // RFC 6749 §3.2: "Request and response parameters MUST NOT be included more than once."
      throw new TokenExchangeError('invalid_request', `${printable(name)} sent more than once`);
    } else single.set(name, value);
  }

  const grantType = single.get('grant_type');
  if (grantType === undefined) throw new TokenExchangeError('invalid_request', 'grant_type is required');
  if (grantType !== TOKEN_EXCHANGE_GRANT_TYPE)
    throw new TokenExchangeError('unsupported_grant_type', `grant_type must be ${TOKEN_EXCHANGE_GRANT_TYPE}`);
  const subjectToken = single.get('subject_token');
  if (subjectToken === undefined) throw new TokenExchangeError('invalid_request', 'subject_token is required');
  const subjectTokenType = tokenType(single, 'subject_token_type');
  if (subjectTokenType === undefined) throw new TokenExchangeError('invalid_request', 'subject_token_type is required');
  const actorToken = single.get('actor_token');
  const actorTokenType = tokenType(single, 'actor_token_type');
  // RFC 8693 §2.1: actor_token_type is "REQUIRED when the actor_token parameter is present ... but MUST NOT be included otherwise".
  if ((actorToken === undefined) !== (actorTokenType === undefined)) {
    throw new TokenExchangeError(
      'invalid_request',
      actorToken === undefined ? 'actor_token_type without actor_token' : 'actor_token_type is required with actor_token',
    );
  }
  const resource = multi.get('resource') ?? [];
  for (const r of resource)
    if (!isAbsoluteUriWithoutFragment(r))
      throw new TokenExchangeError('invalid_target', 'resource must be an absolute URI without a fragment');

  const extensions = Object.create(null) as Record<string, string>;
  for (const [name, value] of single) if (!KNOWN.has(name)) extensions[name] = value;
  return Object.freeze({
    grantType: TOKEN_EXCHANGE_GRANT_TYPE,
    subjectToken,
    subjectTokenType,
    actorToken,
    actorTokenType,
    requestedTokenType: tokenType(single, 'requested_token_type'),
    audience: Object.freeze(multi.get('audience') ?? []),
    resource: Object.freeze(resource),
    scope: parseScope(single.get('scope')),
    extensions: Object.freeze(extensions),
  });
}

/**
 * The scope tokens of an RFC 6749 §3.3 `scope` value (space-delimited, case-sensitive), duplicates
 * removed. `undefined` for an absent or blank value.
 *
 * @throws TokenExchangeError `invalid_scope` for a malformed value.
 */
export function parseScope(value: string | undefined): readonly string[] | undefined {
  if (value === undefined) return undefined;
  const tokens = value.split(' ').filter((t) => t !== '');
  if (tokens.length === 0) return undefined;
  for (const t of tokens)
    if (!SCOPE_TOKEN.test(t)) throw new TokenExchangeError('invalid_scope', 'scope is not a space-separated list of scope tokens');
  return Object.freeze([...new Set(tokens)]);
}

/** RFC 8693 §2.2.1 success response fields. */
export interface TokenExchangeSuccess {
  /** The issued token (whatever its type: RFC 8693 keeps the OAuth field name). */
  access_token: string;
  /** Its type identifier, e.g. `urn:ietf:params:oauth:token-type:txn_token`. */
  issued_token_type: string;
  /** How to use it: `Bearer`, or `N_A` when it is not an access token (RFC 8693 §2.2.1). */
  token_type: string;
  /** Lifetime in seconds (RECOMMENDED). */
  expires_in?: number;
  /** REQUIRED when it differs from the requested scope. */
  scope?: string;
}

/**
 * The 200 response of RFC 8693 §2.2.1, with `Cache-Control: no-store` and `Pragma: no-cache`
 * (RFC 6749 §5.1: the body carries a credential). No `refresh_token`: none of our profiles issues one.
 */
export function tokenExchangeResponse(success: TokenExchangeSuccess): TokenEndpointResponse {
  const body: TokenExchangeSuccess = {
    access_token: success.access_token,
    issued_token_type: success.issued_token_type,
    token_type: success.token_type,
  };
  if (success.expires_in !== undefined) body.expires_in = success.expires_in;
  if (success.scope !== undefined) body.scope = success.scope;
  return { status: 200, headers: { ...NO_STORE }, body: JSON.stringify(body) };
}

const ERROR_CODES = new Set<string>(Object.keys(STATUS));

/**
 * Client side: the success fields of a token endpoint's response, or the typed refusal.
 *
 * @throws TokenExchangeError with the server's `error` (and WIMSE `code`) for an RFC 6749 §5.2 answer.
 * @throws Error for anything else (not JSON, a 5xx problem, a malformed success), naming the status.
 * @example
 * const { access_token } = await readTokenExchangeResponse(await fetch(url, { method: 'POST', body }))
 */
export async function readTokenExchangeResponse(response: Response, expectedType?: string): Promise<TokenExchangeSuccess> {
  let body: unknown;
  try {
    body = JSON.parse(await response.text());
  } catch {
    throw new Error(`Token endpoint answered ${response.status} without a JSON body`);
  }
  const fields = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  if (!response.ok) {
    if (typeof fields.error === 'string' && ERROR_CODES.has(fields.error)) {
      const description = typeof fields.error_description === 'string' ? fields.error_description.slice(0, 512) : undefined;
      const code = typeof fields.code === 'string' ? fields.code.slice(0, 64) : undefined;
      throw new TokenExchangeError(fields.error as TokenExchangeErrorCode, description, {
        status: response.status,
        ...(code === undefined ? {} : { code }),
      });
    }
    const code = typeof fields.code === 'string' ? ` (${fields.code.slice(0, 64)})` : '';
    throw new Error(`Token endpoint answered ${response.status}${code}`);
  }
  const { access_token, issued_token_type, token_type, expires_in, scope } = fields;
  if (typeof access_token !== 'string' || access_token === '' || typeof issued_token_type !== 'string' || typeof token_type !== 'string') {
    throw new Error('Token endpoint response lacks access_token, issued_token_type or token_type (RFC 8693 §2.2.1)');
  }
  if (expectedType !== undefined && issued_token_type !== expectedType)
    throw new Error(`Token endpoint issued ${issued_token_type.slice(0, 100)}, not ${expectedType}`);
  const success: TokenExchangeSuccess = { access_token, issued_token_type, token_type };
  if (typeof expires_in === 'number') success.expires_in = expires_in;
  if (typeof scope === 'string') success.scope = scope;
  return success;
}

// RFC 6749 Appendix B; a charset other than UTF-8 is refused rather than misread.
function isForm(contentType: string | null | undefined): boolean {
  if (contentType == null) return false;
  const [type, ...parameters] = contentType.split(';');
  if (type!.trim().toLowerCase() !== FORM_CONTENT_TYPE) return false;
  for (const p of parameters) {
    const [name, value = ''] = p.split('=');
    if (name!.trim().toLowerCase() === 'charset' && !/^"?utf-8"?$/i.test(value.trim())) return false;
  }
  return true;
}

function tokenType(single: ReadonlyMap<string, string>, name: string): string | undefined {
  const value = single.get(name);
  if (value !== undefined && !URI.test(value)) throw new TokenExchangeError('invalid_request', `${name} must be a URI`);
  return value;
}

// RFC 8693 §2.1: resource "MUST be an absolute URI ... MUST NOT include a fragment component".
function isAbsoluteUriWithoutFragment(value: string): boolean {
  if (!URI.test(value) || value.includes('#')) return false;
  return URL.canParse(value);
}

// Parameter names are caller text: quote only a safe form of them in messages.
function printable(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]/g, '?').slice(0, 64);
}
