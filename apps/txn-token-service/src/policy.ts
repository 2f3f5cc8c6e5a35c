/**
 * Which workloads may request Txn-Tokens, for which scopes and from which kinds of subject token
 * (txn-tokens-10 §13.10: the TTS "MUST" check the requester is authorised for what it asks).
 */
import { compileWorkloadPattern, type WimsePrincipal, type WorkloadMatcher } from '@wimse/core';

/** Kinds of subject token, by the last segment of their type URI (§11.2). */
export type SubjectKind = 'access_token' | 'id_token' | 'jwt' | 'self_signed' | 'unsigned_json' | 'txn_token';

export const SUBJECT_KINDS: readonly SubjectKind[] = ['access_token', 'id_token', 'jwt', 'self_signed', 'unsigned_json', 'txn_token'];

/** What one requester (or group of requesters) may ask for. */
export interface RequesterPolicy {
  /** Scopes it may request; a Txn-Token's scope is also bounded by its subject token's (§13.6). */
  scopes: readonly string[];
  /**
   * Subject token kinds it may present. Default: external JWTs (`access_token`, `id_token`, `jwt`)
   * and `txn_token` (replacement). `self_signed` and `unsigned_json` start a transaction on the
   * requester's word alone (§11.2.1, §11.2.2), so they must be listed explicitly.
   */
  subjectTokenTypes?: readonly SubjectKind[];
}

/** Requesters by workload pattern (`spiffe://example.org/gateway`, `spiffe://example.org/ns/prod/*`); the first match applies. */
export type RequesterPolicies = Readonly<Record<string, RequesterPolicy>>;

const DEFAULT_KINDS: readonly SubjectKind[] = ['access_token', 'id_token', 'jwt', 'txn_token'];
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

export interface ResolvedPolicy {
  readonly scopes: readonly string[];
  readonly kinds: ReadonlySet<SubjectKind>;
}

/** Compiles the policies, throwing `TypeError` on a bad one so the service fails at start-up. */
export function compilePolicies(policies: RequesterPolicies): (principal: WimsePrincipal) => ResolvedPolicy | undefined {
  if (policies === null || typeof policies !== 'object') throw new TypeError('requesters must map workload patterns to policies');
  const compiled: { matcher: WorkloadMatcher; policy: ResolvedPolicy }[] = [];
  for (const [pattern, p] of Object.entries(policies)) {
    const where = `requesters[${JSON.stringify(pattern)}]`;
    if (
      p === null ||
      typeof p !== 'object' ||
      !Array.isArray(p.scopes) ||
      p.scopes.some((s) => typeof s !== 'string' || !SCOPE_TOKEN.test(s))
    ) {
      throw new TypeError(`${where}.scopes must be a list of scope tokens`);
    }
    const kinds = p.subjectTokenTypes ?? DEFAULT_KINDS;
    if (!Array.isArray(kinds) || kinds.some((k) => !SUBJECT_KINDS.includes(k)))
      throw new TypeError(`${where}.subjectTokenTypes: each must be one of ${SUBJECT_KINDS.join(', ')}`);
    compiled.push({ matcher: compileWorkloadPattern(pattern), policy: { scopes: Object.freeze([...p.scopes]), kinds: new Set(kinds) } });
  }
  return (principal) => compiled.find((c) => c.matcher.test(principal.id))?.policy;
}
