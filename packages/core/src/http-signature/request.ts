/**
 * Verifying a signed request (http-signature-07 §3, receiver steps 3-9), after the WIT has been
 * validated (step 2). The key and algorithm are the WIT's `cnf.jwk` and `cnf.jwk.alg` (§3.1).
 */
import { verifyContentDigest } from '../content-digest.js';
import { WimseError } from '../errors.js';
import type { OperatorLog } from '../logger.js';
import { checkReplay, type ReplayStore } from '../replay.js';
import { fieldValues, singleField, type WimseRequest } from '../request.js';
import type { VerifiedWit } from '../wit.js';
import { checkAudience, type Audience } from '../audience.js';
import type { ContextTokens } from '../wpt.js';
import { signatureBase } from './signature-base.js';
import { verifyBase } from '../jws-algorithm.js';
import {
  checkSignatureTimes,
  requestParams,
  requireComponents,
  type CoveredComponent,
  type PresentedSignature,
} from './signature-params.js';

/** What a verified request signature tells the server, e.g. to sign its response. */
export interface HttpSignatureInfo {
  /** The request's `nonce`: a signed response carries it as `wimse-req-nonce`. */
  readonly nonce: string;
  /** `wimse-sign-response`: the client requires a signed response (§3.5). */
  readonly signResponse: boolean;
  /** `created` and `expires`, in seconds since the epoch. */
  readonly created: number;
  readonly expires: number;
  /** The label the client used in `Signature-Input`. */
  readonly label: string;
  /** The request was signed in the http-signature-06 form (`@request-target`). */
  readonly legacy: boolean;
}

/** Verifier settings for request signatures. */
export interface HttpSignaturePolicy {
  /** This service's configured audiences. */
  readonly audience: Audience;
  readonly clockTolerance: number;
  /** Longest accepted `expires - created`, in seconds. */
  readonly maxLifetime: number;
  /** Lower-case names of configured token-carrying fields; covered when present. */
  readonly contextTokenHeaders: readonly string[];
  /** Lower-case header fields this service requires covered, present or not (`requiredSignatureComponents`). */
  readonly requiredComponents?: readonly string[];
  readonly replayStore: ReplayStore;
  /** Where replay store failures are logged. */
  readonly log?: OperatorLog | undefined;
  /** Accept the http-signature-06 form (`@request-target` instead of `@path` + `@query`). */
  readonly compat06: boolean;
  readonly now: () => number;
}

const component = (name: string, req = false): CoveredComponent => ({ name, req });
// §3: covered whenever the request carries them.
const COVERED_WHEN_PRESENT = ['content-type', 'content-digest', 'authorization', 'txn-token'] as const;
const EMPTY = new Uint8Array(0);

/**
 * http-signature-07 §3 steps 3-9 for the WIMSE signature of `request`, signed by the holder of
 * the already verified `wit`. Resolves to the signature's facts and the context tokens it covered.
 */
export async function verifyRequestSignature(
  request: WimseRequest,
  presented: PresentedSignature,
  wit: VerifiedWit,
  p: HttpSignaturePolicy,
): Promise<{ signature: HttpSignatureInfo; context: ContextTokens }> {
  // Step 3: parameters and covered components.
  const params = requestParams(presented.params);
  const legacy = p.compat06 && presented.components.some((c) => c.name === '@request-target' && !c.req);
  const target = legacy ? [component('@request-target')] : [component('@path'), component('@query')];
  const present = [...COVERED_WHEN_PRESENT, ...p.contextTokenHeaders].filter((name) => request.headers[name] !== undefined);
  requireComponents(presented.components, [component('@method'), ...target, component('workload-identity-token'), ...present.map((n) => component(n))]);
  // A deployment may require more (e.g. content-type always, a tenant header): covered, so present.
  for (const name of p.requiredComponents ?? []) {
    if (!presented.components.some((c) => c.name === name && !c.req)) {
      throw new WimseError('sig_components', `This service requires the signature to cover ${name}${request.headers[name] === undefined ? ', which the request does not carry' : ''}`);
    }
  }
  const context = coveredContext(request, p.contextTokenHeaders);
  // Step 4: created / expires with tolerance and a maximum lifetime.
  checkSignatureTimes(params, p);
  // Step 5: wimse-aud names this service per configuration (or a recognised value), never per Host.
  checkAudience(p.audience, request.path, params.wimseAud, 'sig_aud');
  // Step 6: content must carry a covered Content-Digest that matches the raw bytes.
  const digest = fieldValues(request.headers, 'content-digest');
  if (request.body !== undefined && request.body.length > 0 && digest.length === 0) {
    throw new WimseError('digest_missing', 'A request with content must carry Content-Digest');
  }
  if (digest.length > 0) await verifyContentDigest(digest, request.body ?? EMPTY);
  // Step 7: the signature base, verified with cnf.jwk under cnf.jwk.alg.
  const base = signatureBase(presented.components, presented.signatureParams, request);
  if (!(await verifyBase(base, presented.signature, wit.proofKey, wit.proofKey.alg))) {
    throw new WimseError('sig_invalid', 'HTTP signature does not verify with the WIT cnf key');
  }
  // Step 8, last so a rejected request never burns a nonce.
  await checkReplay(p.replayStore, { workload: wit.id.value, kind: 'sig', id: params.nonce }, (params.expires + p.clockTolerance) * 1000, 'sig_replay', p.log);
  // Step 9: what the response needs.
  const signature: HttpSignatureInfo = {
    nonce: params.nonce,
    signResponse: params.signResponse,
    created: params.created,
    expires: params.expires,
    label: presented.label,
    legacy,
  };
  return { signature: Object.freeze(signature), context };
}

// Only covered context tokens reach the principal; the component check above made sure of that.
function coveredContext(request: WimseRequest, names: readonly string[]): ContextTokens {
  const txnToken = singleField(request.headers, 'txn-token', 'sig_components')?.trim();
  const other: Record<string, string> = {};
  for (const name of names) {
    const value = singleField(request.headers, name, 'sig_components');
    if (value !== undefined) other[name] = value.trim();
  }
  return txnToken === undefined ? { other } : { txnToken, other };
}
