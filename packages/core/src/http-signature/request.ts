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
import type { MaybePromise } from '../maybe-async.js';
import {
  checkSignatureTimes,
  requestParams,
  type CoveredComponent,
  type PresentedSignature,
  type RequestSignatureParams,
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

// §3: covered whenever the request carries them.
const COVERED_WHEN_PRESENT = ['content-type', 'content-digest', 'authorization', 'txn-token'] as const;
const EMPTY = new Uint8Array(0);
const NO_OTHER: Readonly<Record<string, string>> = Object.freeze({});
const NO_CONTEXT: ContextTokens = Object.freeze({ other: NO_OTHER });

/**
 * http-signature-07 §3 steps 3-9 for the WIMSE signature of `request`, signed by the holder of
 * the already verified `wit`: the signature's facts and the context tokens it covered, now on the
 * synchronous path (node:crypto, a synchronous replay store; a refusal is then thrown), else as a
 * promise.
 */
export function verifyRequestSignature(
  request: WimseRequest,
  presented: PresentedSignature,
  wit: VerifiedWit,
  p: HttpSignaturePolicy,
): MaybePromise<Verified> {
  // Step 3: parameters and covered components.
  const params = requestParams(presented.params);
  const components = presented.components;
  const legacy = p.compat06 && covers(components, '@request-target');
  // Checked in this order (the first missing one is named): method, target, WIT, then what is present.
  requireCovered(components, '@method');
  if (legacy) requireCovered(components, '@request-target');
  else {
    requireCovered(components, '@path');
    requireCovered(components, '@query');
  }
  requireCovered(components, 'workload-identity-token');
  for (const name of COVERED_WHEN_PRESENT) if (request.headers[name] !== undefined) requireCovered(components, name);
  for (const name of p.contextTokenHeaders) if (request.headers[name] !== undefined) requireCovered(components, name);
  // A deployment may require more (e.g. content-type always, a tenant header): covered, so present.
  for (const name of p.requiredComponents ?? []) {
    if (!covers(components, name)) {
      throw new WimseError(
        'sig_components',
        `This service requires the signature to cover ${name}${request.headers[name] === undefined ? ', which the request does not carry' : ''}`,
      );
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
  const digested = digest.length > 0 ? verifyContentDigest(digest, request.body ?? EMPTY) : undefined;
  // Each step goes on in the same tick when the one before answered synchronously (no closure then).
  const check: SignatureCheck = { request, presented, wit, p, params, legacy, context };
  if (digested instanceof Promise) return digested.then(() => verifySignature(check));
  return verifySignature(check);
}

type Verified = { signature: HttpSignatureInfo; context: ContextTokens };

/** What steps 7-9 need of one request: built once, passed on (no closure per step). */
interface SignatureCheck {
  readonly request: WimseRequest;
  readonly presented: PresentedSignature;
  readonly wit: VerifiedWit;
  readonly p: HttpSignaturePolicy;
  readonly params: RequestSignatureParams;
  readonly legacy: boolean;
  readonly context: ContextTokens;
}

// Step 7: the signature base, verified with cnf.jwk under cnf.jwk.alg.
function verifySignature(c: SignatureCheck): MaybePromise<Verified> {
  const base = signatureBase(c.presented.components, c.presented.signatureParams, c.request);
  const valid = verifyBase(base, c.presented.signature, c.wit.proofKey, c.wit.proofKey.alg);
  if (valid instanceof Promise) return valid.then((v) => replayChecked(v, c));
  return replayChecked(valid, c);
}

function replayChecked(valid: boolean, c: SignatureCheck): MaybePromise<Verified> {
  if (!valid) throw new WimseError('sig_invalid', 'HTTP signature does not verify with the WIT cnf key');
  // Step 8, last so a rejected request never burns a nonce.
  const replay = checkReplay(
    c.p.replayStore,
    { workload: c.wit.id.value, kind: 'sig', id: c.params.nonce },
    (c.params.expires + c.p.clockTolerance) * 1000,
    'sig_replay',
    c.p.log,
  );
  if (replay instanceof Promise) return replay.then(() => verified(c));
  return verified(c);
}

// Step 9: what the response needs.
function verified({ presented, params, legacy, context }: SignatureCheck): Verified {
  const signature: HttpSignatureInfo = Object.freeze({
    nonce: params.nonce,
    signResponse: params.signResponse,
    created: params.created,
    expires: params.expires,
    label: presented.label,
    legacy,
  });
  return { signature, context };
}

// A plain component (no `;req`) among those covered.
function covers(components: readonly CoveredComponent[], name: string): boolean {
  for (const c of components) if (c.name === name && !c.req) return true;
  return false;
}

function requireCovered(components: readonly CoveredComponent[], name: string): void {
  if (!covers(components, name)) throw new WimseError('sig_components', `The signature must cover ${name}`);
}

// Only covered context tokens reach the principal; the component check above made sure of that.
function coveredContext(request: WimseRequest, names: readonly string[]): ContextTokens {
  const txnToken = singleField(request.headers, 'txn-token', 'sig_components')?.trim();
  let other: Record<string, string> | undefined;
  for (const name of names) {
    const value = singleField(request.headers, name, 'sig_components');
    if (value !== undefined) (other ??= {})[name] = value.trim();
  }
  if (txnToken === undefined) return other === undefined ? NO_CONTEXT : { other };
  return { txnToken, other: other ?? NO_OTHER };
}
