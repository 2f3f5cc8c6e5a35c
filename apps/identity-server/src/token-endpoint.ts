/**
 * Attested WIT issuance: `POST /token`, an RFC 8693 token exchange.
 *
 * - `grant_type` = `urn:ietf:params:oauth:grant-type:token-exchange`
 * - `subject_token` = a platform JWT (e.g. a Kubernetes projected service account token whose
 *   audience is this identity server), `subject_token_type` = `urn:ietf:params:oauth:token-type:jwt`
 * - `requested_token_type` = {@link WIT_TOKEN_TYPE} (optional: it is the only type issued here)
 * - `audience`, if sent, = this identity server's URL; `actor_token` is refused (no delegation here)
 * - header `DPoP` = a proof (RFC 9449) made with the workload key the WIT is to confirm
 *
 * The platform token says who the workload is (mapping rules turn its claims into a Workload
 * Identifier); the DPoP proof shows the caller holds the key. The answer (RFC 8693 §2.2.1) carries
 * the WIT as `access_token` with `token_type` `N_A` (a WIT is not an access token and never a
 * bearer credential). Refusals are RFC 6749 §5.2 bodies: `invalid_request` for an unacceptable
 * subject token (RFC 8693 §2.2.2), `invalid_dpop_proof` (RFC 9449 §5), 503
 * `temporarily_unavailable` with `Retry-After` when a platform's keys or the replay store are out of reach.
 */
import {
  SUPPORTED_ALGORITHMS,
  TOKEN_TYPES,
  TokenExchangeError,
  isWimseError,
  issueWit,
  parseTokenExchangeRequest,
  tokenExchangeResponse,
  type ReplayStore,
  type TokenEndpointResponse,
  type WimseAlgorithm,
} from '@wimse/core';
import { fieldValues, headersFromRaw } from '@wimse/core/adapter';
import { verifyDpopProof } from './dpop.js';
import type { KeyRing } from './keyring.js';
import { createPlatformTokenVerifier, type PlatformIssuer } from './platform-token.js';
import { compileMappingRules, type WorkloadMappingRule } from './workload-mapping.js';

/** The token type URI of a WIT at this endpoint (none is registered; see `TOKEN_TYPES.wit`). */
export const WIT_TOKEN_TYPE = TOKEN_TYPES.wit;

/** Which platforms attest workloads, and how their identities map to Workload Identifiers. */
export interface AttestationConfig {
  platformIssuers: readonly PlatformIssuer[];
  rules: readonly WorkloadMappingRule[];
  /** Algorithms accepted for the workload key (its DPoP proof). Default: all the core supports. */
  workloadAlgorithms?: readonly WimseAlgorithm[];
  /** Oldest accepted DPoP proof, seconds. Default 60. */
  proofMaxAge?: number;
  /** Allowed clock difference, seconds. Default 5 for proofs; platform tokens get 30. */
  clockTolerance?: number;
  /** Timeout of a platform JWKS or discovery fetch, ms. Default 5000. */
  fetchTimeout?: number;
}

export interface TokenEndpointOptions {
  attestation: AttestationConfig;
  trustDomain: string;
  /** This identity server's public URL: WIT `iss`, default platform-token audience, and base of the DPoP `htu`. */
  issuer: string;
  keys: KeyRing;
  witLifetime: number;
  replayStore: ReplayStore;
  log: (line: string) => void;
}

/** The raw request: method, header fields as received, and the (size-bounded) body. */
export interface RawTokenRequest {
  method: string;
  rawHeaders: readonly string[];
  body: Uint8Array;
}

export type TokenEndpoint = (request: RawTokenRequest) => Promise<TokenEndpointResponse>;

/** Builds the endpoint; checks the attestation configuration (throws `TypeError` at start-up). */
export function createTokenEndpoint(o: TokenEndpointOptions): TokenEndpoint {
  const a = o.attestation;
  const tokenUrl = `${o.issuer.replace(/\/+$/, '')}/token`;
  const platform = createPlatformTokenVerifier(a.platformIssuers, {
    audience: o.issuer,
    ...(a.fetchTimeout === undefined ? {} : { fetchTimeout: a.fetchTimeout }),
  });
  const mapWorkload = compileMappingRules(a.rules, o.trustDomain);
  for (const rule of a.rules)
    if (!a.platformIssuers.some((p) => p.issuer === rule.issuer))
      throw new TypeError(`Mapping rule for ${rule.issuer}: no such platform issuer`);
  const algorithms = a.workloadAlgorithms ?? SUPPORTED_ALGORITHMS;

  async function exchange(request: RawTokenRequest): Promise<TokenEndpointResponse> {
    const headers = headersFromRaw([...request.rawHeaders]);
    const parsed = parseTokenExchangeRequest({
      method: request.method,
      contentType: single(fieldValues(headers, 'content-type')),
      body: request.body,
    });
    if (parsed.subjectTokenType !== TOKEN_TYPES.jwt)
      throw new TokenExchangeError('invalid_request', `subject_token_type must be ${TOKEN_TYPES.jwt}`);
    if (parsed.requestedTokenType !== undefined && parsed.requestedTokenType !== WIT_TOKEN_TYPE)
      throw new TokenExchangeError('invalid_request', `requested_token_type must be ${WIT_TOKEN_TYPE}`);
    if (parsed.actorToken !== undefined)
      throw new TokenExchangeError(
        'invalid_request',
        'actor_token is not supported: a WIT names one workload (workload-creds-02 Section 4)',
      );
    if (parsed.audience.some((aud) => aud !== o.issuer) || parsed.resource.length > 0)
      throw new TokenExchangeError('invalid_target', `A WIT is issued for no audience other than ${o.issuer}`);
    if (parsed.scope !== undefined) throw new TokenExchangeError('invalid_scope', 'A WIT carries no scope');

    const now = Date.now();
    const proof = await verifyDpopProof(fieldValues(headers, 'dpop'), {
      htm: 'POST',
      htu: tokenUrl,
      algorithms,
      maxAge: a.proofMaxAge ?? 60,
      clockTolerance: a.clockTolerance ?? 5,
      now,
    });
    const { issuer, claims } = await platform.verify(parsed.subjectToken, now);
    const mapped = mapWorkload(issuer.issuer, claims);
    if (!mapped.ok) throw new TokenExchangeError('invalid_request', `subject_token: ${mapped.reason}`);

    // Only now, with everything else accepted, is the proof's jti recorded (RFC 9449 §11.1).
    await remember(o.replayStore, proof.jkt, proof.jti, proof.replayUntil);

    const { kid, privateKey, alg } = o.keys.current();
    // The WIT does not outlive the attestation it rests on.
    const lifetime = Math.max(1, Math.min(o.witLifetime, claims.exp - Math.floor(now / 1000)));
    const wit = await issueWit({ sub: mapped.workload, cnfJwk: proof.jwk, issuerKey: privateKey, alg, kid, iss: o.issuer, lifetime, now });
    o.log(
      `issued WIT for ${mapped.workload} by token exchange (platform ${issuer.issuer}, key ${proof.jkt}, issuer key ${kid}, ${lifetime}s)`,
    );
    return tokenExchangeResponse({ access_token: wit, issued_token_type: WIT_TOKEN_TYPE, token_type: 'N_A', expires_in: lifetime });
  }

  return async (request) => {
    try {
      return await exchange(request);
    } catch (e) {
      if (e instanceof TokenExchangeError) {
        if (e.status < 500) o.log(`token exchange refused: ${e.error}: ${e.message}`);
        return e.response();
      }
      throw e;
    }
  };
}

function single(values: readonly string[]): string | undefined {
  return values.length === 1 ? values[0] : undefined;
}

// The replay partition is the key's RFC 9278 thumbprint URI: it can never equal a workload
// identifier, so these entries never meet a WPT's in a shared store.
async function remember(store: ReplayStore, jkt: string, jti: string, until: number): Promise<void> {
  let fresh: boolean;
  try {
    fresh = await store.checkAndStore(
      { workload: `urn:ietf:params:oauth:jwk-thumbprint:sha-256:${jkt}`, kind: 'wpt', id: `dpop:${jti}` },
      until,
    );
  } catch (e) {
    // A store that refuses (full, over quota, down) must never let the proof through: 429 for a
    // key over its quota, 503 otherwise, with the store's Retry-After.
    const status = isWimseError(e, 'replay_quota_exceeded') ? 429 : 503;
    const retry = (isWimseError(e) ? e.headers['retry-after'] : undefined) ?? '1';
    throw new TokenExchangeError('temporarily_unavailable', 'The replay store cannot record the proof now', {
      status,
      headers: { 'retry-after': retry },
    });
  }
  if (!fresh) throw new TokenExchangeError('invalid_dpop_proof', 'DPoP proof was already used (jti replayed)');
}
