/** What a handler learns about an authenticated caller. */
import type { JWTHeaderParameters } from 'jose';
import type { HttpSignatureInfo } from './http-signature/request.js';
import type { WorkloadIdentifier } from './identifier.js';
import type { WorkloadCertificateInfo } from './mtls/workload-certificate.js';
import type { WimseTransaction } from './txn-token.js';
import type { WitClaims } from './wit.js';
import type { ContextTokens } from './wpt.js';

/** How the caller proved possession of its credential. */
export type ProofMethod = 'wpt' | 'http-sig' | 'mtls';

/** The authenticated workload. */
export interface WimsePrincipal {
  /** The complete Workload Identifier, e.g. `spiffe://example.org/billing`. Authorize on this. */
  readonly workload: string;
  /** Its trust domain, e.g. `example.org`. */
  readonly trustDomain: string;
  /** The parsed identifier. */
  readonly id: WorkloadIdentifier;
  /** The proof that authenticated this request. */
  readonly method: ProofMethod;
  /** The verified WIT (absent for `mtls`). */
  readonly wit?: { readonly header: JWTHeaderParameters; readonly claims: WitClaims };
  /** Context tokens the proof covered; only these may inform authorization. */
  readonly context: ContextTokens;
  /** The verified client certificate: always for `mtls`, and for a WPT/HTTP-Sig request that also came with one. */
  readonly certificate?: WorkloadCertificateInfo;
  /**
   * For `http-sig`: the request signature's `nonce`, whether the client requires a signed response
   * (`signResponse`), and the rest of what {@link signHttpResponse} needs to answer it.
   */
  readonly signature?: HttpSignatureInfo;
  /**
   * The verified Txn-Token the proof bound (txn-tokens-10 §12.2), when the verifier has
   * `transactionTokens` and the request carried one. Context for authorization, never the caller's identity (§13.12).
   */
  readonly transaction?: WimseTransaction;
}
