/**
 * Route policy: which authenticated workloads may call. A failed check is 403 (DESIGN "Errors on
 * the wire"); the decision uses the complete identifier (identifier-03 §4.3).
 */
import { WimseError } from './errors.js';
import type { WimsePrincipal } from './principal.js';
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
      : ((m) => (p: WimsePrincipal) => m.test(p.id))(compileWorkloadPatterns(typeof policy === 'string' ? [policy] : policy));
  return (principal) => {
    if (!allowed(principal)) throw new WimseError('forbidden', `Workload ${principal.workload} is not allowed here`);
  };
}
