/**
 * Every failure the core can raise, with a stable `code`, the HTTP status the drafts ask for,
 * and an RFC 9457 problem body. Adapters render these; they never invent their own.
 *
 * Status rules (DESIGN "Errors on the wire"):
 * - WPT problems, or no credentials where a WPT is accepted: 401 + `WWW-Authenticate: WPT` (wpt-02 §2.1).
 * - WIT problems: 400 (workload-creds-02 §5.2 advises against 401).
 * - HTTP signature problems: 400 (http-signature-07 §3.6).
 * - Txn-Token problems: 400 (it is request context, not the caller's credential: txn-tokens-10 §13.12).
 * - Authenticated but not allowed: 403; a route's scope not granted by the Txn-Token: 403 `insufficient_scope` (RFC 6750 §3.1).
 */

type Family = 'wit' | 'wpt' | 'sig' | 'mtls' | 'txn' | 'request' | 'policy' | 'server';

interface CodeInfo {
  readonly status: number;
  readonly family: Family;
  readonly title: string;
}

const def = (status: number, family: Family, title: string): CodeInfo => ({ status, family, title });

/** Stable error codes. Keys are the wire value of `code`; never rename one. */
export const ERROR_CODES = {
  // No or conflicting credentials
  credentials_missing: def(401, 'wpt', 'No workload credentials'),
  credentials_ambiguous: def(400, 'request', 'More than one workload proof'),
  proof_not_accepted: def(400, 'request', 'Proof method not accepted'),
  // Workload Identity Token (workload-creds-02 §5.1, §5.1.4)
  wit_missing: def(400, 'wit', 'Workload-Identity-Token missing'),
  wit_duplicate: def(400, 'wit', 'More than one Workload-Identity-Token'),
  wit_too_large: def(400, 'wit', 'Workload-Identity-Token too large'),
  wit_malformed: def(400, 'wit', 'Malformed Workload-Identity-Token'),
  wit_typ: def(400, 'wit', 'Wrong WIT type'),
  wit_alg: def(400, 'wit', 'WIT algorithm not allowed'),
  wit_sub_invalid: def(400, 'wit', 'WIT subject is not a valid workload identifier'),
  wit_untrusted_domain: def(400, 'wit', 'WIT trust domain not trusted'),
  wit_key_unknown: def(400, 'wit', 'No trusted key for this WIT'),
  wit_signature: def(400, 'wit', 'WIT signature invalid'),
  wit_claims: def(400, 'wit', 'WIT claims invalid'),
  wit_expired: def(400, 'wit', 'WIT expired'),
  wit_not_yet_valid: def(400, 'wit', 'WIT not yet valid'),
  wit_lifetime: def(400, 'wit', 'WIT lifetime too long'),
  wit_cnf_invalid: def(400, 'wit', 'WIT confirmation key invalid'),
  wit_iss: def(400, 'wit', 'WIT issuer not allowed'),
  // Workload Proof Token (wpt-02 §2)
  wpt_missing: def(401, 'wpt', 'Workload Proof Token missing'),
  wpt_duplicate: def(401, 'wpt', 'More than one Authorization field'),
  wpt_too_large: def(401, 'wpt', 'Workload Proof Token too large'),
  wpt_malformed: def(401, 'wpt', 'Malformed Workload Proof Token'),
  wpt_alg_mismatch: def(401, 'wpt', 'WPT algorithm differs from cnf.jwk.alg'),
  wpt_signature: def(401, 'wpt', 'WPT signature invalid'),
  wpt_typ: def(401, 'wpt', 'Wrong WPT type'),
  wpt_aud: def(401, 'wpt', 'WPT audience does not match this service'),
  wpt_claims: def(401, 'wpt', 'WPT claims invalid'),
  wpt_expired: def(401, 'wpt', 'WPT expired'),
  wpt_not_yet_valid: def(401, 'wpt', 'WPT issued or valid only in the future'),
  wpt_exp_too_far: def(401, 'wpt', 'WPT expiry too far in the future'),
  wpt_wth: def(401, 'wpt', 'WPT not bound to this WIT'),
  wpt_tth: def(401, 'wpt', 'WPT not bound to this Txn-Token'),
  wpt_oth: def(401, 'wpt', 'WPT other-token binding invalid'),
  wpt_ath: def(401, 'wpt', 'WPT not bound to this access token'),
  wpt_replay: def(401, 'wpt', 'WPT replayed'),
  // HTTP Message Signatures (http-signature-07 §3)
  sig_missing: def(400, 'sig', 'WIMSE HTTP signature missing'),
  sig_malformed: def(400, 'sig', 'Malformed HTTP signature fields'),
  sig_duplicate: def(400, 'sig', 'More than one WIMSE HTTP signature'),
  sig_params: def(400, 'sig', 'HTTP signature parameters invalid'),
  sig_components: def(400, 'sig', 'HTTP signature does not cover the required components'),
  sig_aud: def(400, 'sig', 'HTTP signature audience does not match this service'),
  sig_expired: def(400, 'sig', 'HTTP signature expired'),
  sig_not_yet_valid: def(400, 'sig', 'HTTP signature not yet valid'),
  sig_too_old: def(400, 'sig', 'HTTP signature lifetime too long'),
  sig_invalid: def(400, 'sig', 'HTTP signature invalid'),
  sig_replay: def(400, 'sig', 'HTTP signature nonce replayed'),
  sig_response: def(400, 'sig', 'Signed response invalid'),
  digest_missing: def(400, 'sig', 'Content-Digest missing'),
  digest_malformed: def(400, 'sig', 'Malformed Content-Digest'),
  digest_mismatch: def(400, 'sig', 'Content-Digest does not match the body'),
  // Signed responses (http-signature-07 §3.5). Client side: what a response failed.
  sig_response_workload: def(400, 'sig', 'Response signed by a workload not expected here'),
  sig_response_replay: def(400, 'sig', 'Response signature nonce replayed'),
  // Server side: a response that must be signed and cannot be is never sent unsigned (400 or 501 per §3.5).
  response_signing_unsupported: def(501, 'server', 'This service does not sign responses'),
  response_too_large_to_sign: def(501, 'server', 'Response too large to sign'),
  response_signer_unavailable: def(503, 'server', 'Response signing credentials unavailable'),
  response_signing_failed: def(500, 'server', 'Response could not be signed'),
  // Mutual TLS (mutual-tls-02 §3.2)
  // 400, not 401: a 401 must carry a challenge and HTTP has no auth scheme for TLS client certificates.
  mtls_missing: def(400, 'mtls', 'No client certificate'),
  mtls_malformed: def(400, 'mtls', 'Client certificate malformed'),
  mtls_san: def(400, 'mtls', 'Client certificate must carry exactly one workload identifier URI SAN'),
  mtls_untrusted: def(400, 'mtls', 'Client certificate not issued by the trust domain'),
  mtls_expired: def(400, 'mtls', 'Client certificate expired'),
  mtls_not_yet_valid: def(400, 'mtls', 'Client certificate not yet valid'),
  mtls_usage: def(400, 'mtls', 'Client certificate not usable for client authentication'),
  mtls_key_invalid: def(400, 'mtls', 'Certificate public key not acceptable'),
  mtls_identifier: def(400, 'mtls', 'Client certificate workload identifier invalid'),
  mtls_untrusted_domain: def(400, 'mtls', 'Client certificate trust domain not trusted'),
  mtls_identity_mismatch: def(400, 'mtls', 'Application-layer workload differs from the client certificate'),
  mtls_proxy_header: def(400, 'mtls', 'Forwarded client certificate invalid'),
  mtls_proxy_untrusted: def(400, 'mtls', 'Client-Cert from a peer that is not a trusted proxy'),
  // Transaction Tokens (draft-ietf-oauth-transaction-tokens-10 §9, §12, §12.2)
  txn_token_duplicate: def(400, 'txn', 'More than one Txn-Token'),
  txn_token_too_large: def(400, 'txn', 'Txn-Token too large'),
  txn_token_malformed: def(400, 'txn', 'Malformed Txn-Token'),
  txn_token_typ: def(400, 'txn', 'Wrong Txn-Token type'),
  txn_token_alg: def(400, 'txn', 'Txn-Token algorithm not allowed'),
  txn_token_key_unknown: def(400, 'txn', 'No trusted key for this Txn-Token'),
  txn_token_signature: def(400, 'txn', 'Txn-Token signature invalid'),
  txn_token_claims: def(400, 'txn', 'Txn-Token claims invalid'),
  txn_token_audience: def(400, 'txn', 'Txn-Token audience is not this trust domain'),
  txn_token_expired: def(400, 'txn', 'Txn-Token expired'),
  txn_token_not_yet_valid: def(400, 'txn', 'Txn-Token issued in the future'),
  txn_token_lifetime: def(400, 'txn', 'Txn-Token lifetime too long'),
  txn_token_iss: def(400, 'txn', 'Txn-Token issuer not allowed'),
  insufficient_scope: def(403, 'policy', 'Transaction scope insufficient'),
  // Generic
  request_invalid: def(400, 'request', 'Request malformed'),
  body_too_large: def(413, 'request', 'Request body too large'),
  forbidden: def(403, 'policy', 'Workload not allowed'),
  trust_unavailable: def(503, 'server', 'Trust anchors unavailable'),
  replay_unavailable: def(503, 'server', 'Replay store unavailable'),
  replay_quota_exceeded: def(429, 'server', 'Too many live proofs from this workload'),
  // A bug, not bad input: reported through `onInternalError`, never disguised as a 4xx.
  internal_error: def(500, 'server', 'Internal error'),
} as const satisfies Record<string, CodeInfo>;

/** A stable error code, e.g. `wpt_expired`. */
export type WimseErrorCode = keyof typeof ERROR_CODES;

/** RFC 9457 problem details, plus our stable `code`. Never contains a token. */
export interface WimseProblem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: WimseErrorCode;
}

/** Base of every `type` URI in problem bodies: the code's entry in the errors reference (docs/errors.md). */
export const PROBLEM_TYPE_BASE = 'https://github.com/wimse-js/wimse-js/blob/main/docs/errors.md#';

/**
 * What a check expected and what arrived, for refusals where both help the caller (audiences,
 * WIT issuers). Plain configured or claimed values, never tokens.
 */
export interface WimseMismatch {
  readonly expected: readonly string[];
  readonly received: readonly string[];
}

/**
 * The one error class of the core.
 *
 * @example
 * try { await verifier.verify(view) } catch (e) {
 *   if (e instanceof WimseError) res.status(e.status).set(e.headers).json(e.problem)
 * }
 */
export class WimseError extends Error {
  override readonly name = 'WimseError';
  readonly code: WimseErrorCode;
  readonly status: number;
  /** Response headers to send with the error (e.g. `www-authenticate`). */
  readonly headers: Readonly<Record<string, string>>;
  /** Expected and received values (e.g. audiences), also in `detail`; for error hooks and logs. */
  readonly mismatch?: WimseMismatch;

  /**
   * @param options.retryAfter seconds after which a retry may succeed (503/429): sent as `Retry-After`.
   * @param options.closeConnection the request was not read to its end: sent as `Connection: close`.
   * @param options.mismatch what was expected and what arrived (never tokens).
   */
  constructor(
    code: WimseErrorCode,
    detail?: string,
    options?: { cause?: unknown; retryAfter?: number; closeConnection?: boolean; mismatch?: WimseMismatch },
  ) {
    const info: CodeInfo = ERROR_CODES[code];
    super(detail ?? info.title, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = info.status;
    const headers: Record<string, string> = {};
    // wpt-02 §2.1: a 401 carries at least one challenge naming the WPT scheme.
    if (info.status === 401) headers['www-authenticate'] = 'WPT';
    if (options?.retryAfter !== undefined) headers['retry-after'] = String(Math.max(0, Math.ceil(options.retryAfter)));
    // RFC 9112 §9.6: the rest of an unread body must not be taken for the next request on the connection.
    if (options?.closeConnection === true) headers.connection = 'close';
    this.headers = headers;
    if (options?.mismatch !== undefined)
      this.mismatch = Object.freeze({ expected: [...options.mismatch.expected], received: [...options.mismatch.received] });
  }

  /** The RFC 9457 body. */
  get problem(): WimseProblem {
    return {
      type: PROBLEM_TYPE_BASE + this.code,
      title: ERROR_CODES[this.code].title,
      status: this.status,
      detail: this.message,
      code: this.code,
    };
  }
}

/** The media type of {@link WimseError.problem} bodies. */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** True when `e` is a {@link WimseError}, optionally with one of `codes`. */
export function isWimseError(e: unknown, ...codes: WimseErrorCode[]): e is WimseError {
  return e instanceof WimseError && (codes.length === 0 || codes.includes(e.code));
}
