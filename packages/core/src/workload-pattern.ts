/**
 * Authorization patterns over Workload Identifiers. identifier-03 §4.3: decisions use the complete
 * URI (scheme, trust domain and path), never the path alone.
 *
 * Pattern forms:
 * - `spiffe://example.org/admin` — exactly this workload;
 * - `spiffe://example.org/ns/prod/*` — any workload below `/ns/prod/` (whole segments);
 * - `spiffe://example.org` — any workload of that trust domain (a Workload Identifier Origin, §4.6).
 */
import { checkWorkloadIdentifier, type IdentifierOptions, type WorkloadIdentifier } from './identifier.js';

/** A compiled pattern; `test` answers for a validated identifier. */
export interface WorkloadMatcher {
  readonly pattern: string;
  test(id: WorkloadIdentifier): boolean;
}

const ORIGIN_RE = /^([a-z][a-z0-9+.-]*):\/\/([^/?#@:]+)$/;

/**
 * Compiles a pattern, throwing `TypeError` on a malformed one (so bad configuration fails at start-up).
 *
 * @example
 * const admin = compileWorkloadPattern('spiffe://example.org/admin')
 * admin.test(principal.id) // true only for that exact workload
 */
export function compileWorkloadPattern(pattern: string, options?: IdentifierOptions): WorkloadMatcher {
  const origin = ORIGIN_RE.exec(pattern);
  if (origin) {
    const [, scheme, trustDomain] = origin;
    return { pattern, test: (id) => id.scheme === scheme && id.trustDomain === trustDomain };
  }
  if (pattern.endsWith('/*')) {
    const base = pattern.slice(0, -2);
    const checked = checkWorkloadIdentifier(base, options);
    if (!checked.ok) throw new TypeError(`Invalid workload pattern ${JSON.stringify(pattern)}: ${checked.reason}`);
    const prefix = `${base}/`;
    return { pattern, test: (id) => id.value.startsWith(prefix) };
  }
  const checked = checkWorkloadIdentifier(pattern, options);
  if (!checked.ok) throw new TypeError(`Invalid workload pattern ${JSON.stringify(pattern)}: ${checked.reason}`);
  return { pattern, test: (id) => id.value === pattern };
}

/** Compiles several patterns into one matcher that accepts when any of them does. */
export function compileWorkloadPatterns(patterns: readonly string[], options?: IdentifierOptions): WorkloadMatcher {
  const matchers = patterns.map((p) => compileWorkloadPattern(p, options));
  return { pattern: patterns.join(' '), test: (id) => matchers.some((m) => m.test(id)) };
}
