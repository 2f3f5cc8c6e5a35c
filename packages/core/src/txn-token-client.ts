/**
 * A workload asking its trust domain's Txn-Token Service for a Txn-Token (draft-ietf-oauth-
 * transaction-tokens-10 §11: an RFC 8693 exchange) or for a replacement (§13.15), authenticated by
 * the workload's own WIT and proof through {@link createWimseFetch} (§11.5: "A TTS and requesting
 * workload MUST authenticate each other").
 */
import { decodeJwt } from 'jose';
import type { OutboundProof, WimseFetch } from './client.js';
import { FORM_CONTENT_TYPE, TOKEN_EXCHANGE_GRANT_TYPE, TOKEN_TYPES, readTokenExchangeResponse } from './token-exchange.js';

/** Options of {@link createTxnTokenClient}. */
export interface TxnTokenClientOptions {
  /** The workload's fetch from {@link createWimseFetch}: every request carries its WIT and a proof. */
  fetch: WimseFetch;
  /** The TTS token endpoint, from trusted configuration (§11.5), e.g. `https://tts.example.org/token`. */
  tts: string | URL;
  /** The trust domain, sent as `audience` (§11.1). */
  trustDomain: string;
  /** Proof for the TTS calls; default: the fetch's own. */
  proof?: OutboundProof;
}

/** A request for a new Txn-Token. */
export interface FetchTxnTokenOptions {
  /** Scope tokens, or one space-separated string: the purpose of the transaction (§11.1). */
  scope: string | readonly string[];
  /** The inbound token (e.g. the external access token), a self-signed JWT or unsigned JSON (§11.2). */
  subjectToken: string;
  /** Its type URI, e.g. `urn:ietf:params:oauth:token-type:access_token`. */
  subjectTokenType: string;
  /** Environmental context, the basis for `rctx` (e.g. `{ req_ip }`). */
  requestContext?: Record<string, unknown>;
  /** Authorization details, the basis for `tctx` (e.g. `{ action: 'BUY' }`). */
  requestDetails?: Record<string, unknown>;
}

/** A request for a replacement Txn-Token (§13.15). */
export interface ReplaceTxnTokenOptions {
  /** The (equal or narrower) scope; default: the token's own. */
  scope?: string | readonly string[];
  /** Repeats of `tctx` values; the service refuses any change. */
  requestDetails?: Record<string, unknown>;
}

/** A Txn-Token the service issued. */
export interface IssuedTxnToken {
  /** The Txn-Token, to send in the `Txn-Token` field (§12). */
  readonly txnToken: string;
  /** Its lifetime in seconds, when the service said. */
  readonly expiresIn: number | undefined;
}

/** Fetches and replaces Txn-Tokens. Refusals reject with a `TokenExchangeError` carrying the RFC 6749 `error`. */
export interface TxnTokenClient {
  fetchTxnToken(options: FetchTxnTokenOptions): Promise<IssuedTxnToken>;
  replaceTxnToken(txnToken: string, options?: ReplaceTxnTokenOptions): Promise<IssuedTxnToken>;
}

/**
 * Creates a Txn-Token client for one workload and one TTS.
 *
 * @example
 * const tts = createTxnTokenClient({ fetch: wimseFetch, tts: 'https://tts.example.org/token', trustDomain: 'example.org' })
 * const { txnToken } = await tts.fetchTxnToken({ scope: 'orders.read', subjectToken, subjectTokenType: TOKEN_TYPES.access_token })
 * await wimseFetch('https://orders.example.org/o/7', { wimse: { txnToken } })
 */
export function createTxnTokenClient(options: TxnTokenClientOptions): TxnTokenClient {
  if (typeof options?.fetch !== 'function') throw new TypeError('createTxnTokenClient: fetch must be a WIMSE fetch (createWimseFetch)');
  if (typeof options.trustDomain !== 'string' || options.trustDomain === '')
    throw new TypeError('createTxnTokenClient: trustDomain is required');
  const endpoint = new URL(String(options.tts));

  async function exchange(params: Record<string, string>): Promise<IssuedTxnToken> {
    const body = new URLSearchParams({
      grant_type: TOKEN_EXCHANGE_GRANT_TYPE,
      requested_token_type: TOKEN_TYPES.txn_token,
      audience: options.trustDomain,
      ...params,
    });
    const response = await options.fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': FORM_CONTENT_TYPE, accept: 'application/json' },
      body: body.toString(),
      ...(options.proof === undefined ? {} : { wimse: { proof: options.proof } }),
    });
    const success = await readTokenExchangeResponse(response, TOKEN_TYPES.txn_token);
    return { txnToken: success.access_token, expiresIn: success.expires_in };
  }

  return {
    fetchTxnToken(o) {
      return exchange({
        scope: scopeString(o.scope),
        subject_token: o.subjectToken,
        subject_token_type: o.subjectTokenType,
        ...json('request_context', o.requestContext),
        ...json('request_details', o.requestDetails),
      });
    },
    replaceTxnToken(txnToken, o = {}) {
      return exchange({
        scope: o.scope === undefined ? ownScope(txnToken) : scopeString(o.scope),
        subject_token: txnToken,
        subject_token_type: TOKEN_TYPES.txn_token,
        ...json('request_details', o.requestDetails),
      });
    },
  };
}

function scopeString(scope: string | readonly string[]): string {
  return typeof scope === 'string' ? scope : scope.join(' ');
}

// §11.1: plain JSON, form-encoded.
function json(name: string, value: Record<string, unknown> | undefined): Record<string, string> {
  return value === undefined ? {} : { [name]: JSON.stringify(value) };
}

// The token's own scope, read without verification: the service verifies it and refuses a wider one.
function ownScope(txnToken: string): string {
  const { scope } = decodeJwt(txnToken);
  if (typeof scope !== 'string') throw new TypeError('replaceTxnToken: the Txn-Token has no scope; pass options.scope');
  return scope;
}
