/**
 * The server's decision "sign this response?" and the signing itself (http-signature-07 §3.5), so
 * every adapter only intercepts its framework's send path and calls {@link ResponseSignature.sign}.
 *
 * When a response is signed:
 * - only for a request whose WIMSE signature verified (`principal.signature`): `wimse-req-nonce`
 *   must name that request's nonce, and a request whose signature failed tells nothing we may
 *   trust, not even `wimse-sign-response`. Its error answer is sent unsigned: an error is not the
 *   "unsigned success" §3.5 forbids, and signing it would make the service an oracle that binds its
 *   key to values an unauthenticated caller chose;
 * - required when the request asked (`wimse-sign-response`) or `signResponses` is `'always'`;
 * - then every response to that request is signed, handler responses and the adapter's own errors
 *   (403, 404, 413…) alike; if it cannot be done the request is refused (501/503, never an
 *   unsigned success), before the handler runs whenever that can be known early.
 */
import { readOutgoingBody } from './body.js';
import { WimseError } from './errors.js';
import type { HttpSignatureInfo } from './http-signature/request.js';
import type { WimsePrincipal } from './principal.js';
import type { WimseRequest } from './request.js';
import { signHttpResponse } from './http-signature/response.js';
import type { WorkloadSigner } from './signer.js';

/** When a service signs its responses. */
export type SignResponsesMode = 'always' | 'when-asked' | 'never';

/**
 * The service's own WIT and key: a signer, or a function returning the current one — e.g. the
 * outbound client's `wimseFetch.signer` (identity server, renewed before expiry, shared with the
 * client) or `fileWitSigner(files)` from `@wimse/core/node` (SPIFFE helper files).
 */
export type ResponseSignerSource = WorkloadSigner | (() => WorkloadSigner | Promise<WorkloadSigner>);

/** Response-signing options of every adapter. */
export interface ResponseSigningOptions {
  /** The service's own credentials, used to sign responses. Without them a request asking for a signed response is refused (501). */
  responseSigner?: ResponseSignerSource;
  /**
   * `'when-asked'` (default): sign when the request's signature carries `wimse-sign-response`;
   * `'always'`: sign every response to a request with a verified WIMSE signature (a WPT or mTLS
   * request carries no nonce to bind a response to, so it is never signed); `'never'`: do not sign,
   * and refuse (501) requests that ask.
   */
  signResponses?: SignResponsesMode;
  /** Largest response body buffered to sign, in bytes; a larger one is refused (501), never sent unsigned. Default 1 MiB. */
  maxResponseBodyBytes?: number;
  /** Seconds until a response signature `expires`. Default 60. */
  responseSignatureLifetime?: number;
}

/** A response about to be sent, as the adapter holds it. */
export interface OutgoingResponse {
  status: number;
  /** Its header fields (any case); `content-type` among them is covered. */
  headers: Readonly<Record<string, string | number | readonly string[] | undefined>>;
  /** The exact bytes that will be sent (empty or absent when there are none). */
  body?: Uint8Array | undefined;
}

/** The pending signature of one request's response. */
export interface ResponseSignature {
  /** The client required it (`wimse-sign-response`). */
  readonly asked: boolean;
  /** Largest body that can be signed, in bytes. */
  readonly maxBodyBytes: number;
  /**
   * The header fields to add: the service's `workload-identity-token`, `content-digest` when there
   * is content, `signature-input` and `signature`. Rejects with a `WimseError`
   * (`response_too_large_to_sign`, `response_signing_failed`); send that error instead, unsigned.
   */
  sign(response: OutgoingResponse): Promise<Record<string, string>>;
  /** The error for a body beyond {@link maxBodyBytes}. */
  tooLarge(): WimseError;
  /** Reads a streamed body about to be sent, up to {@link maxBodyBytes} (beyond: {@link tooLarge}, the stream ended). */
  read(source: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array | string>): Promise<Uint8Array<ArrayBuffer>>;
}

/** Compiled {@link ResponseSigningOptions}. */
export interface ResponseSigning {
  /** False when no response is ever signed (no `responseSigner`, or `'never'`): a request that asks is refused in {@link prepare}. */
  readonly enabled: boolean;
  /**
   * The signature the response to `request` needs, `undefined` when it is sent as it is (answered
   * synchronously: the common case costs no microtask). Rejects with a `WimseError` when it must be
   * signed and cannot be: `response_signing_unsupported` (501) or `response_signer_unavailable` (503).
   */
  prepare(request: WimseRequest, principal: WimsePrincipal | undefined): undefined | Promise<ResponseSignature | undefined>;
}

const DEFAULT_MAX_BODY = 1024 * 1024;
// RFC 9110 §6.4.1: no content in these, whatever the framework was handed.
const NO_CONTENT = new Set([204, 304]);

/**
 * Validates the options now (start-up) and returns the per-request decision.
 *
 * @example
 * const signing = createResponseSigning({ responseSigner: wimseFetch.signer })
 * const pending = await signing.prepare(view, principal)
 * if (pending) Object.assign(headers, await pending.sign({ status: 200, headers, body }))
 */
export function createResponseSigning(options: ResponseSigningOptions = {}): ResponseSigning {
  const mode = options.signResponses ?? 'when-asked';
  if (!['always', 'when-asked', 'never'].includes(mode)) throw new TypeError("signResponses must be 'always', 'when-asked' or 'never'");
  const source = options.responseSigner;
  if (source !== undefined && typeof source !== 'function' && (typeof source !== 'object' || typeof source.wit !== 'string')) {
    throw new TypeError('responseSigner must be a WorkloadSigner or a function returning one');
  }
  if (mode === 'always' && source === undefined) throw new TypeError("signResponses: 'always' needs a responseSigner");
  const maxBodyBytes = options.maxResponseBodyBytes ?? DEFAULT_MAX_BODY;
  if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes < 0) throw new TypeError('maxResponseBodyBytes must be a non-negative integer');
  const lifetime = options.responseSignatureLifetime;
  if (lifetime !== undefined && (!Number.isFinite(lifetime) || lifetime <= 0))
    throw new TypeError('responseSignatureLifetime must be a positive number of seconds');

  const current = async (): Promise<WorkloadSigner> => {
    try {
      const signer = typeof source === 'function' ? await source() : source!;
      if (typeof signer?.wit !== 'string') throw new TypeError('responseSigner returned no signer');
      return signer;
    } catch (cause) {
      throw new WimseError('response_signer_unavailable', 'This service cannot obtain its own credentials to sign the response', {
        cause,
        retryAfter: 5,
      });
    }
  };

  const enabled = mode !== 'never' && source !== undefined;

  return {
    enabled,
    prepare(request, principal) {
      const info = principal?.signature;
      if (info === undefined) return undefined;
      const asked = info.signResponse;
      if (!asked && mode !== 'always') return undefined;
      return pending(request, info, asked);
    },
  };

  async function pending(request: WimseRequest, info: HttpSignatureInfo, asked: boolean): Promise<ResponseSignature> {
    if (!enabled) {
      throw new WimseError(
        'response_signing_unsupported',
        'The request asked for a signed response (wimse-sign-response) and this service does not sign responses',
      );
    }
    // Fetched now so a missing credential refuses the request before the handler runs.
    const signer = await current();
    const tooLarge = () => new WimseError('response_too_large_to_sign', `Response body larger than ${maxBodyBytes} bytes cannot be signed`);
    return {
      asked,
      maxBodyBytes,
      tooLarge,
      read: (source) => readOutgoingBody(source, maxBodyBytes, tooLarge),
      async sign(response) {
        const body = response.body;
        if (body !== undefined && body.length > maxBodyBytes) throw tooLarge();
        const withContent = body !== undefined && body.length > 0 && !NO_CONTENT.has(response.status) && request.method !== 'HEAD';
        try {
          return await signHttpResponse({
            credentials: signer,
            request: { method: request.method, path: request.path },
            requestNonce: info.nonce,
            status: response.status,
            headers: plainHeaders(response.headers),
            ...(withContent ? { body } : {}),
            legacy: info.legacy,
            ...(lifetime === undefined ? {} : { lifetime }),
          });
        } catch (cause) {
          throw new WimseError('response_signing_failed', "The response could not be signed with this service's credentials", { cause });
        }
      },
    };
  }
}

// Only content-type is covered among the app's own fields; joined as RFC 9421 §2.1 does.
function plainHeaders(headers: OutgoingResponse['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name.toLowerCase()] = typeof value === 'string' ? value : typeof value === 'number' ? String(value) : value.join(', ');
  }
  return out;
}
