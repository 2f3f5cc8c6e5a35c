/** What a handler learns about an authenticated caller. */
import type { JWTHeaderParameters } from 'jose';
import type { WorkloadIdentifier } from './identifier.js';
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
}
