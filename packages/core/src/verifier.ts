/**
 * The single entry point every adapter calls: `createVerifier(options).verify(request)`.
 * One request flows one way: find the proof → verify the WIT (cached) → verify the proof →
 * principal, or a {@link WimseError}.
 */
import { observeVerify } from './diagnostics.js';
import { WimseError } from './errors.js';
import { verifyRequestSignature, type HttpSignatureInfo } from './http-signature/request.js';
import { findWimseSignature, hasSignatureFields, type PresentedSignature } from './http-signature/signature-params.js';
import { after, type MaybePromise } from './maybe-async.js';
import { mtlsPrincipal } from './mtls/mtls-policy.js';
import type { VerifiedCertificate } from './mtls/workload-certificate.js';
import { resolveOptions, type ResolvedOptions, type VerifierOptions } from './options.js';
import type { ProofMethod, WimsePrincipal } from './principal.js';
import { singleField, type WimseRequest } from './request.js';
import { createTrustAnchors } from './trust.js';
import { createTxnTokenVerifier, withTransactions } from './txn-token.js';
import { createWitVerifier, type VerifiedWit } from './wit.js';
import { presentedWpt, verifyWpt, type ContextTokens, type PresentedWpt } from './wpt.js';

/** Verifies requests against one configuration. */
export interface WimseVerifier {
  /** Authenticates a request, resolving to its principal or rejecting with a {@link WimseError} (any other rejection is a bug). */
  verify(request: WimseRequest): Promise<WimsePrincipal>;
  /** Verifies a WIT alone (workload-creds-02 §5.1.4), e.g. for tooling. A WIT alone authenticates nothing. */
  verifyWit(token: string): Promise<VerifiedWit>;
  /** Proof methods this verifier accepts. */
  readonly proofs: ReadonlySet<ProofMethod>;
}

/**
 * The verifier with the entry point the adapter glue uses (adapter.ts): {@link WimseVerifier.verify}
 * answered in the same tick when nothing had to wait (a cached WIT, `node:crypto`, a synchronous
 * replay store), so a framework can go on without a microtask. A refusal is then thrown.
 */
export interface VerifierCore extends WimseVerifier {
  authenticate(request: WimseRequest): MaybePromise<WimsePrincipal>;
}

/**
 * Creates a verifier; options are validated now, so bad configuration throws at start-up.
 *
 * @example
 * const verifier = createVerifier({
 *   trustDomains: { 'example.org': { keys: 'https://id.example.org/.well-known/jwks.json' } },
 *   audience: 'https://orders.example.org',
 * })
 * const principal = await verifier.verify({ method, path, headers })
 */
export function createVerifier(options: VerifierOptions): WimseVerifier {
  const { verify, verifyWit, proofs } = createVerifierCore(options);
  return { verify, verifyWit, proofs };
}

/** {@link createVerifier} with {@link VerifierCore.authenticate}, for adapter.ts. */
export function createVerifierCore(options: VerifierOptions): VerifierCore {
  const o = resolveOptions(options);
  const witVerifier = createWitVerifier({
    anchorFor: createTrustAnchors(o.trustDomains, { now: o.now, log: o.log }),
    proofAlgorithms: o.proofAlgorithms,
    clockTolerance: o.clockTolerance,
    maxLifetime: o.maxWitLifetime,
    maxLength: o.maxTokenLength,
    identifier: o.identifier,
    cache: o.witCache,
    now: o.now,
  });
  const wptPolicy = {
    audience: o.audience,
    clockTolerance: o.clockTolerance,
    maxLifetime: o.maxWptLifetime,
    maxLength: o.maxTokenLength,
    contextTokenHeaders: o.contextTokenHeaders,
    replayStore: o.replayStore,
    log: o.log,
    now: o.now,
  };
  const sigPolicy = {
    audience: o.audience,
    clockTolerance: o.clockTolerance,
    maxLifetime: o.maxSignatureLifetime,
    contextTokenHeaders: o.contextTokenHeaders,
    requiredComponents: o.requiredSignatureComponents,
    replayStore: o.replayStore,
    log: o.log,
    compat06: o.compat.httpSignature06,
    now: o.now,
  };

  // Bad input is refused with a WimseError, raised where it is parsed; any other error is a bug,
  // which the adapters answer 500 internal_error and report (adapter.ts), never a disguised 400.
  function authenticateOnce(request: WimseRequest): MaybePromise<WimsePrincipal> {
    // mutual-tls-02 §3.2: a presented client certificate is verified whenever mTLS is accepted;
    // it authenticates alone only without an application-layer proof (rule in mtls/mtls-policy.ts).
    const wpt = presentedWpt(request.headers, o.compat.wpt01);
    const sig = presentedSignature(o, request);
    // A certificate verified before comes back synchronously (no microtask on the hot path).
    const certificate = o.mtls?.certificate(request);
    if (certificate instanceof Promise) return certificate.then((c) => withCertificate(request, wpt, sig, c));
    return withCertificate(request, wpt, sig, certificate);
  }

  function withCertificate(
    request: WimseRequest,
    wpt: PresentedWpt | undefined,
    sig: PresentedSignature | undefined,
    certificate: VerifiedCertificate | undefined,
  ): MaybePromise<WimsePrincipal> {
    if (certificate !== undefined && wpt === undefined && sig === undefined) return mtlsPrincipal(certificate);
    const proven = proof(request, wpt, sig);
    const mtls = o.mtls;
    return mtls === undefined ? proven : after(proven, (p) => mtls.combine(p, certificate));
  }

  function proof(request: WimseRequest, wpt: PresentedWpt | undefined, sig: PresentedSignature | undefined): MaybePromise<WimsePrincipal> {
    // One proof per request: a WPT and a WIMSE signature together are ambiguous.
    if (wpt !== undefined && sig !== undefined)
      throw new WimseError('credentials_ambiguous', 'Send either a WPT or a WIMSE HTTP signature, not both');
    const witToken = singleField(request.headers, 'workload-identity-token', 'wit_duplicate');
    if (wpt === undefined && sig === undefined)
      throw noProof(o, witToken !== undefined, hasSignatureFields(request.headers), request.headers['workload-proof-token'] !== undefined);
    accepted(o, wpt !== undefined ? 'wpt' : 'http-sig');
    // workload-creds §5.1.4 before the proof: the WIT must be valid first.
    if (witToken === undefined) throw new WimseError('wit_missing', 'A WIMSE proof must come with a Workload-Identity-Token');
    // A cached WIT goes on in the same tick, without a closure.
    const wit = witVerifier(witToken.trim());
    if (wit instanceof Promise) return wit.then((w) => withWit(request, wpt, sig, w));
    return withWit(request, wpt, sig, wit);
  }

  function withWit(
    request: WimseRequest,
    wpt: PresentedWpt | undefined,
    sig: PresentedSignature | undefined,
    wit: VerifiedWit,
  ): MaybePromise<WimsePrincipal> {
    if (sig !== undefined) {
      // http-signature-07 §3: the signature after the WIT, with its cnf key.
      const verified = verifyRequestSignature(request, sig, wit, sigPolicy);
      if (verified instanceof Promise) return verified.then((v) => principal(wit, 'http-sig', v.context, v.signature));
      return principal(wit, 'http-sig', verified.context, verified.signature);
    }
    const context = verifyWpt(request, wpt!, wit, wptPolicy);
    if (context instanceof Promise) return context.then((c) => principal(wit, 'wpt', c));
    return principal(wit, 'wpt', context);
  }

  // txn-tokens-10 §12.2, after the proof (txn-token.ts); checked here at start-up.
  const txn =
    o.transactionTokens === undefined
      ? undefined
      : createTxnTokenVerifier({ ...o.transactionTokens, clockTolerance: o.clockTolerance, maxLength: o.maxTokenLength, now: o.now });
  // Outcomes go to `wimse:verify` (diagnostics.ts); a direct call when nobody listens.
  const authenticate = observeVerify(txn === undefined ? authenticateOnce : withTransactions(authenticateOnce, txn));
  return {
    verify: (request) => settled(() => authenticate(request)),
    verifyWit: (token) => settled(() => witVerifier(token)),
    authenticate,
    proofs: o.proofs,
  };
}

// A promise whatever happened: a throw on the synchronous path becomes a rejection.
function settled<T>(run: () => MaybePromise<T>): Promise<T> {
  try {
    return Promise.resolve(run());
  } catch (e) {
    return Promise.reject(e);
  }
}

// http-signature-07 §3: the WIMSE signature is found by its tag. Unparseable signature fields
// only matter when signatures are accepted (they may belong to an intermediary otherwise).
function presentedSignature(o: ResolvedOptions, request: WimseRequest): PresentedSignature | undefined {
  if (!hasSignatureFields(request.headers)) return undefined;
  try {
    return findWimseSignature(request.headers);
  } catch (e) {
    if (!(e instanceof WimseError) || o.proofs.has('http-sig')) throw e;
    return undefined;
  }
}

function accepted(o: ResolvedOptions, method: ProofMethod): void {
  if (!o.proofs.has(method)) throw new WimseError('proof_not_accepted', `This service does not accept ${method} proofs`);
}

// No proof at all: a 401 with the WPT challenge when WPTs are accepted (wpt-02 §2.1).
function noProof(o: ResolvedOptions, hasWit: boolean, hasSignature: boolean, hasWpt01: boolean): WimseError {
  // Signature fields without the WIMSE tag: the caller meant to sign, so say what is missing.
  if (hasSignature && o.proofs.has('http-sig')) return new WimseError('sig_missing', 'No signature is tagged wimse-workload-to-workload');
  if (o.proofs.has('wpt')) {
    // wpt-01 moved to Authorization in wpt-02: say which option accepts the old field (off here).
    const old = hasWpt01 ? `; the Workload-Proof-Token field is wpt-01, accepted only with the compat.wpt01 option` : '';
    return hasWit
      ? new WimseError('wpt_missing', `Authorization: WPT is required${old}`)
      : new WimseError('credentials_missing', hasWpt01 ? `No workload credentials${old}` : undefined);
  }
  if (o.proofs.has('http-sig')) return new WimseError('sig_missing', 'A WIMSE HTTP signature is required');
  return new WimseError('mtls_missing', 'A client certificate is required');
}

function principal(wit: VerifiedWit, method: ProofMethod, context: ContextTokens, signature?: HttpSignatureInfo): WimsePrincipal {
  const id = wit.id;
  const witInfo = { header: wit.header, claims: wit.claims };
  return Object.freeze(
    signature === undefined
      ? { workload: id.value, trustDomain: id.trustDomain, id, method, wit: witInfo, context }
      : { workload: id.value, trustDomain: id.trustDomain, id, method, wit: witInfo, context, signature },
  );
}
