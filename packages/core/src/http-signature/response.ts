/**
 * Signed responses (http-signature-07 §3.5): the server signs with its own WIT key and binds the
 * response to the request with `;req` components and `wimse-req-nonce`; the client verifies the
 * response against the request it sent.
 */
import { calculateJwkThumbprint, decodeJwt, type CryptoKey, type JWK, type JWTHeaderParameters, type KeyObject } from 'jose';
import { DEFAULT_ALGORITHMS, isSupportedAlgorithm, type WimseAlgorithm } from '../algorithms.js';
import { contentDigest, verifyContentDigest } from '../content-digest.js';
import { WimseError } from '../errors.js';
import type { IdentifierOptions, WorkloadIdentifier } from '../identifier.js';
import { fieldValues, headersOf, singleField, type RequestHeaders } from '../request.js';
import { createTrustAnchors, type TrustDomains } from '../trust.js';
import { createWitVerifier, type VerifiedWit, type WitClaims } from '../wit.js';
import { MemoryReplayStore } from '../memory-replay-store.js';
import { checkReplay, type ReplayStore } from '../replay.js';
import { compileWorkloadPatterns, type WorkloadMatcher } from '../workload-pattern.js';
import { signatureBase, type SignedMessage } from './signature-base.js';
import { signingKey, verifyBase } from '../jws-algorithm.js';
import {
  findWimseSignature,
  checkSignatureTimes,
  requestParams,
  requireComponents,
  responseParams,
  WIMSE_SIGNATURE_TAG,
  type CoveredComponent,
  type SignatureClock,
} from './signature-params.js';
import { lowerCased, signMessage, timing } from './sign.js';

/** A workload's own credentials: its WIT and the private key of the WIT's `cnf.jwk`. */
export interface ResponseSigningCredentials {
  wit: string;
  /** A private JWK, a Web Crypto key or a Node `KeyObject`. */
  key: CryptoKey | KeyObject | JWK;
  /** `cnf.jwk.alg` of the WIT; read from the WIT when omitted. */
  alg?: WimseAlgorithm;
}

/** Options for {@link signHttpResponse}. */
export interface SignHttpResponseOptions {
  /** The server's own WIT and key (a `WorkloadSigner` fits: it has `wit`, `key` and `alg`). */
  credentials: ResponseSigningCredentials | { wit: string; key: CryptoKey | KeyObject | Uint8Array; alg: WimseAlgorithm };
  /** The request answered, as the server received it: method and origin-form target (`/path?query`). */
  request: { method: string; path: string };
  /** The request signature's `nonce` (`principal.signature.nonce`), sent back as `wimse-req-nonce`. */
  requestNonce: string;
  status: number;
  /** Headers the response will carry (any case); `content-type` among them is covered. */
  headers?: Readonly<Record<string, string>>;
  /** Response content; adds a covered `Content-Digest` (sha-256). */
  body?: Uint8Array | string;
  /** Sign in the http-signature-06 form (`@request-target;req`), for a request that used it (`principal.signature.legacy`). */
  legacy?: boolean;
  /** Seconds until `expires`. Default 60. */
  lifetime?: number;
  /** Clock in ms, for tests. */
  now?: number;
  /** The `nonce`; leave unset (a fresh random value) except to reproduce a known signature. */
  nonce?: string;
}

/**
 * Server side: signs a response (http-signature-07 §3.5) and returns every header to add:
 * `workload-identity-token` (the server's WIT), `content-digest` when there is a body,
 * `signature-input` and `signature`. Call it when `principal.signature.signResponse` is true (the
 * client requires it) or whenever policy says so; if it cannot be done, answer 400 or 501, never an
 * unsigned success.
 *
 * @example
 * const p = await verifier.verify(view)
 * if (p.signature) Object.assign(outHeaders, await signHttpResponse({ credentials: serverSigner,
 *   request: view, requestNonce: p.signature.nonce, status: 200, headers: { 'content-type': 'application/json' }, body }))
 */
export async function signHttpResponse(o: SignHttpResponseOptions): Promise<Record<string, string>> {
  const { wit } = o.credentials;
  const alg = o.credentials.alg ?? cnfAlg(wit);
  const key = await signingKey(o.credentials.key, alg);
  const added: Record<string, string> = { 'workload-identity-token': wit };
  if (o.body !== undefined) added['content-digest'] = await contentDigest(o.body);
  const headers: Record<string, string> = { ...lowerCased(o.headers ?? {}), ...added };
  const target = o.legacy === true ? ['@request-target'] : ['@path', '@query'];
  const components: CoveredComponent[] = [
    { name: '@status', req: false },
    ...['workload-identity-token', 'content-type', 'content-digest']
      .filter((n) => headers[n] !== undefined)
      .map((name) => ({ name, req: false })),
    ...['@method', ...target].map((name) => ({ name, req: true })),
  ];
  const params = new Map([...timing(o.lifetime, o.now, o.nonce), ['tag', WIMSE_SIGNATURE_TAG], ['wimse-req-nonce', o.requestNonce]]);
  const request: SignedMessage = { method: o.request.method, path: o.request.path, headers: {} };
  return { ...added, ...(await signMessage(components, params, key, alg, { status: o.status, headers }, request)) };
}

function cnfAlg(wit: string): WimseAlgorithm {
  const alg = (decodeJwt(wit).cnf as { jwk?: { alg?: unknown } } | undefined)?.jwk?.alg;
  if (!isSupportedAlgorithm(alg)) throw new TypeError('WIT cnf.jwk.alg must name a supported asymmetric algorithm');
  return alg;
}

/** The request a client sent, with the headers it sent (including the signature fields). */
export interface SentRequest {
  method: string;
  /** The full URL the request went to. */
  url: string | URL;
  headers: Readonly<Record<string, string>> | Headers;
}

/** The response a client received. */
export interface ReceivedResponse {
  status: number;
  /** Lower-cased field names (or fetch `Headers`). */
  headers: RequestHeaders | Headers;
  /** The raw response content; required to check `Content-Digest`. */
  body?: Uint8Array;
}

/** A verified signed response: who answered. */
export interface VerifiedResponse {
  /** The answering workload's identifier, e.g. `spiffe://example.org/orders`. */
  readonly workload: string;
  readonly trustDomain: string;
  readonly id: WorkloadIdentifier;
  readonly wit: { readonly header: JWTHeaderParameters; readonly claims: WitClaims };
  /** The response signature's own `nonce`, `created` and `expires`. */
  readonly nonce: string;
  readonly created: number;
  readonly expires: number;
}

/** Options for {@link createResponseVerifier}: the trust configuration for servers' WITs. */
export interface ResponseVerifierOptions {
  /** Issuer keys per trust domain, as for `createVerifier`. */
  trustDomains: TrustDomains;
  /** Algorithms a server WIT's `cnf.jwk.alg` may name. Default: every supported asymmetric one. */
  proofAlgorithms?: readonly WimseAlgorithm[];
  /** Seconds of clock skew tolerated. Default 30. */
  clockTolerance?: number;
  /** Longest accepted `expires - created` of a response signature, in seconds. Default 600. */
  maxSignatureLifetime?: number;
  /** Longest accepted WIT remaining lifetime, in seconds. Default 86 400. */
  maxWitLifetime?: number;
  /** Longest accepted WIT, in characters. Default 8192. */
  maxTokenLength?: number;
  identifier?: IdentifierOptions;
  /**
   * Where response nonces are remembered, so a replayed signed response is refused
   * (http-signature-07 §3: SHOULD). Default: this verifier's own `MemoryReplayStore` of 100 000 entries.
   */
  replayStore?: ReplayStore;
  /** Older wire formats, off by default, exactly as for requests (`createVerifier`'s `compat`). */
  compat?: {
    /** Accept a response signed in the http-signature-06 form (`@request-target;req`) to a request sent in that form. */
    httpSignature06?: boolean;
  };
  /** Clock in ms, for tests. */
  now?: () => number;
}

/** Per-response expectations of {@link ResponseVerifier.verify}. */
export interface ResponseExpectations {
  /**
   * Who must have signed: workload patterns (`spiffe://example.org/orders`, `…/ns/prod/*`, or a
   * trust domain `spiffe://example.org`). A response signed by any other workload is refused
   * (`sig_response_workload`).
   */
  responder?: string | readonly string[];
}

/** Verifies signed responses against the requests that caused them. */
export interface ResponseVerifier {
  /**
   * Resolves to the answering workload, or `undefined` for an unsigned response to a request
   * that did not ask for one (§3.5: such a response must be accepted). Rejects with a
   * {@link WimseError} when the response is unsigned but `wimse-sign-response` was sent
   * (`sig_response`), answers another request (`sig_response` / `sig_invalid`), is signed with the
   * requester's own key (`sig_response`), is signed by another workload than `expect.responder`
   * (`sig_response_workload`), repeats a response nonce already seen (`sig_response_replay`), or
   * fails any other check.
   */
  verify(sent: SentRequest, response: ReceivedResponse, expect?: ResponseExpectations): Promise<VerifiedResponse | undefined>;
}

/**
 * Client side: creates a verifier for signed responses (http-signature-07 §3.5).
 *
 * @example
 * const responses = createResponseVerifier({ trustDomains: { 'example.org': { keys: jwks } } })
 * const headers = { ...(await signer.httpSigHeaders({ method: 'GET', url, signResponse: true })) }
 * const res = await fetch(url, { headers })
 * const server = await responses.verify({ method: 'GET', url, headers },
 *   { status: res.status, headers: res.headers, body: new Uint8Array(await res.arrayBuffer()) })
 */
export function createResponseVerifier(options: ResponseVerifierOptions): ResponseVerifier {
  if (options === null || typeof options !== 'object') throw new TypeError('createResponseVerifier: options object required');
  const now = options.now ?? Date.now;
  const clockTolerance = seconds('clockTolerance', options.clockTolerance, 30);
  const proofAlgorithms = options.proofAlgorithms ?? DEFAULT_ALGORITHMS;
  for (const a of proofAlgorithms)
    if (!isSupportedAlgorithm(a)) throw new TypeError(`proofAlgorithms: ${JSON.stringify(a)} is not an asymmetric JWS algorithm`);
  const verifyWit = createWitVerifier({
    anchorFor: createTrustAnchors(options.trustDomains, { now }),
    proofAlgorithms,
    clockTolerance,
    maxLifetime: seconds('maxWitLifetime', options.maxWitLifetime, 86_400),
    maxLength: seconds('maxTokenLength', options.maxTokenLength, 8192),
    identifier: options.identifier ?? {},
    cache: { maxEntries: 1000, ttlMs: 300_000 },
    now,
  });
  const clock: SignatureClock = { clockTolerance, maxLifetime: seconds('maxSignatureLifetime', options.maxSignatureLifetime, 600), now };
  // A client sees far fewer signed responses than a server sees proofs: 100 000 live nonces (~8 MB at most).
  const replayStore = options.replayStore ?? new MemoryReplayStore({ maxEntries: 100_000, now });
  if (typeof replayStore?.checkAndStore !== 'function') throw new TypeError('replayStore must have a checkAndStore method');
  const compat06 = options.compat?.httpSignature06 ?? false;
  if (typeof compat06 !== 'boolean') throw new TypeError('compat.httpSignature06 must be a boolean');
  return {
    async verify(sent, response, expect = {}) {
      // A bad pattern is the caller's mistake, not the server's: TypeError, before anything else.
      const responder =
        expect.responder === undefined
          ? undefined
          : compileWorkloadPatterns(typeof expect.responder === 'string' ? [expect.responder] : expect.responder);
      try {
        return await verifyResponseSignature(sent, response, verifyWit, clock, { replayStore, responder, compat06 });
      } catch (e) {
        if (e instanceof WimseError) throw e;
        throw new WimseError('sig_response', 'Response could not be verified', { cause: e });
      }
    },
  };
}

function seconds(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new TypeError(`${name} must be a non-negative number`);
  return value;
}

/**
 * http-signature-07 §3.5, client side, with an injected WIT verifier. Exposed for tests and for
 * callers that already hold a WIT verifier; most code uses {@link createResponseVerifier}.
 */
export async function verifyResponseSignature(
  sent: SentRequest,
  response: ReceivedResponse,
  verifyWit: (token: string) => VerifiedWit | Promise<VerifiedWit>,
  clock: SignatureClock,
  checks: { replayStore?: ReplayStore | undefined; responder?: WorkloadMatcher | undefined; compat06?: boolean } = {},
): Promise<VerifiedResponse | undefined> {
  const request = sentMessage(sent);
  const requestSignature = findWimseSignature(request.headers);
  if (requestSignature === undefined)
    throw new WimseError('sig_response', 'The sent request carries no WIMSE signature to bind a response to');
  const asked = requestParams(requestSignature.params);
  const headers = response.headers instanceof Headers ? headersOf(response.headers) : lowerCasedFields(response.headers);
  const presented = findWimseSignature(headers);
  if (presented === undefined) {
    if (asked.signResponse)
      throw new WimseError('sig_response', 'The request asked for a signed response (wimse-sign-response) but it is unsigned');
    return undefined;
  }
  // The server's WIT first (workload-creds §5.1.4), and it must not be the requester's key.
  const witToken = singleField(headers, 'workload-identity-token', 'wit_duplicate');
  if (witToken === undefined) throw new WimseError('wit_missing', 'A signed response must carry the server WIT');
  const wit = await verifyWit(witToken.trim());
  if (await sameKey(wit, request.headers)) throw new WimseError('sig_response', "The response is signed with the requester's own key");
  const params = responseParams(presented.params);
  if (params.reqNonce !== asked.nonce) throw new WimseError('sig_response', 'wimse-req-nonce is not the nonce of the request sent');
  // http-signature-06 (`@request-target`) only when opted in, as for requests.
  const legacy = requestSignature.components.some((c) => c.name === '@request-target' && !c.req);
  if (legacy && checks.compat06 !== true) {
    throw new WimseError(
      'sig_response',
      'The request was signed in the http-signature-06 form (@request-target); its response is accepted only with compat.httpSignature06',
    );
  }
  const target = legacy ? ['@request-target'] : ['@path', '@query'];
  const present = ['content-type', 'content-digest'].filter((n) => headers[n] !== undefined);
  requireComponents(presented.components, [
    { name: '@status', req: false },
    { name: 'workload-identity-token', req: false },
    ...present.map((name) => ({ name, req: false })),
    ...['@method', ...target].map((name) => ({ name, req: true })),
  ]);
  checkSignatureTimes(params, clock);
  const digest = fieldValues(headers, 'content-digest');
  if (response.body !== undefined && response.body.length > 0 && digest.length === 0) {
    throw new WimseError('digest_missing', 'A response with content must carry Content-Digest');
  }
  if (digest.length > 0) await verifyContentDigest(digest, response.body ?? new Uint8Array(0));
  const base = signatureBase(presented.components, presented.signatureParams, { status: response.status, headers }, request);
  if (!(await verifyBase(base, presented.signature, wit.proofKey, wit.proofKey.alg))) {
    throw new WimseError('sig_invalid', 'Response signature does not verify with the server WIT cnf key');
  }
  if (checks.responder !== undefined && !checks.responder.test(wit.id)) {
    throw new WimseError('sig_response_workload', `Response signed by ${wit.id.value}; expected ${checks.responder.pattern}`);
  }
  // §3 (SHOULD), last so that a refused response never burns a nonce.
  if (checks.replayStore !== undefined) {
    await checkReplay(
      checks.replayStore,
      { workload: wit.id.value, kind: 'response', id: params.nonce },
      (params.expires + clock.clockTolerance) * 1000,
      'sig_response_replay',
    );
  }
  return Object.freeze({
    workload: wit.id.value,
    trustDomain: wit.id.trustDomain,
    id: wit.id,
    wit: { header: wit.header, claims: wit.claims },
    nonce: params.nonce,
    created: params.created,
    expires: params.expires,
  });
}

function sentMessage(sent: SentRequest): SignedMessage & { headers: Record<string, string> } {
  const url = new URL(sent.url);
  const headers = sent.headers instanceof Headers ? headersOf(sent.headers) : lowerCased(sent.headers);
  return { method: sent.method.toUpperCase(), path: `${url.pathname}${url.search}`, headers };
}

function lowerCasedFields(headers: RequestHeaders): RequestHeaders {
  const out: Record<string, string | readonly string[] | undefined> = {};
  for (const [name, value] of Object.entries(headers)) out[name.toLowerCase()] = value;
  return out;
}

// A response "signed" by the requester (a reflection) proves nothing about the server.
async function sameKey(server: VerifiedWit, requestHeaders: RequestHeaders): Promise<boolean> {
  const own = singleField(requestHeaders, 'workload-identity-token', 'wit_duplicate')?.trim();
  if (own === undefined) return false;
  if (own === server.token) return true;
  const ownJwk = (decodeJwt(own).cnf as { jwk?: JWK } | undefined)?.jwk;
  if (ownJwk === undefined) return false;
  return (await calculateJwkThumbprint(ownJwk)) === (await calculateJwkThumbprint(server.proofKey.jwk as JWK));
}
