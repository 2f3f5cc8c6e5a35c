/**
 * Route policy: which authenticated workloads may call. A failed check is 403 (DESIGN "Errors on
 * the wire"); the decision uses the complete identifier (identifier-03 §4.3).
 */
import { WimseError } from './errors.js';
import type { WimsePrincipal } from './principal.js';
import { isScopeToken } from './txn-token.js';
import { compileWorkloadPatterns } from './workload-pattern.js';

/** Allowed callers: workload patterns (see {@link compileWorkloadPattern}) or a predicate. */
export type WorkloadPolicy = string | readonly string[] | ((principal: WimsePrincipal) => boolean);

/**
 * Compiles a policy once; the returned check throws a `forbidden` {@link WimseError} when the
 * principal is not allowed.
 *
 * @example
 * const onlyAdmin = createAuthorizer('spiffe://example.org/admin')
 * onlyAdmin(principal)
 */
export function createAuthorizer(policy: WorkloadPolicy): (principal: WimsePrincipal) => void {
  const allowed =
    typeof policy === 'function'
      ? policy
      : (
          (m) => (p: WimsePrincipal) =>
            m.test(p.id)
        )(compileWorkloadPatterns(patternsOf(policy)));
  return (principal) => {
    const verdict: unknown = allowed(principal);
    // Only `true` lets a caller in: a predicate answering a Promise or `undefined` is a bug, reported as a 500.
    if (typeof verdict !== 'boolean') throw new TypeError(`A workload predicate must return a boolean, not ${typeof verdict}`);
    if (!verdict) throw new WimseError('forbidden', `Workload ${principal.workload} is not allowed here`);
  };
}

// Checked at start-up: anything but a pattern, a non-empty list of them or a predicate is a mistake.
function patternsOf(policy: unknown): readonly string[] {
  if (typeof policy === 'string') return [policy];
  if (Array.isArray(policy) && policy.length > 0 && policy.every((p) => typeof p === 'string')) return policy as string[];
  const got = Array.isArray(policy)
    ? policy.length === 0
      ? 'an empty list'
      : 'a list with a non-string'
    : policy === null
      ? 'null'
      : typeof policy;
  throw new TypeError(`Workload policy: expected a workload pattern, a non-empty list of patterns or a predicate, got ${got}`);
}

/**
 * Compiles a scope requirement once: the verified Txn-Token (`principal.transaction`) must grant
 * every listed scope (txn-tokens-10 §9.2 `scope`). Without a Txn-Token, or with a narrower one, the
 * check throws a 403 `insufficient_scope` {@link WimseError} (RFC 6750 §3.1's name for it).
 * Throws `TypeError` now when `scopes` is not one or more RFC 6749 §3.3 scope tokens.
 *
 * @example
 * const canTrade = createScopeCheck(['trade.stocks'])
 * canTrade(principal)
 */
export function createScopeCheck(scopes: string | readonly string[]): (principal: WimsePrincipal) => void {
  const required: readonly string[] =
    typeof scopes === 'string' ? [scopes] : Array.isArray(scopes) ? ([...(scopes as readonly unknown[])] as string[]) : [];
  if (required.length === 0 || !required.every(isScopeToken)) {
    throw new TypeError(`Scope requirement: expected one or more scope tokens (RFC 6749 §3.3, no spaces), got ${JSON.stringify(scopes)}`);
  }
  const shown = required.join(' ');
  return (principal) => {
    const granted = principal.transaction?.scope;
    if (granted === undefined)
      throw new WimseError('insufficient_scope', `This route requires a verified Txn-Token with scope ${shown}`, {
        mismatch: { expected: required, received: [] },
      });
    if (!required.every((s) => granted.includes(s))) {
      throw new WimseError(
        'insufficient_scope',
        `The Txn-Token scope does not include ${required.filter((s) => !granted.includes(s)).join(' ')}`,
        { mismatch: { expected: required, received: granted } },
      );
    }
  };
}
