/**
 * Workload Identifiers (draft-ietf-wimse-identifier-03).
 *
 * A Workload Identifier is a URI whose authority is the trust domain. Validation happens before
 * anything else uses the value (identifier-03 §4.1), and comparison is byte-for-byte on the
 * complete string: never on the path alone, never after "repairing" it (§4.3, §4.4).
 */

/** A validated Workload Identifier. `value` is the exact string that was validated. */
export interface WorkloadIdentifier {
  /** The complete identifier, e.g. `spiffe://example.org/ns/prod/sa/api`. */
  readonly value: string;
  /** Lower-case scheme without `:`, e.g. `spiffe` or `wimse`. */
  readonly scheme: string;
  /** The authority: the trust domain, e.g. `example.org`. */
  readonly trustDomain: string;
  /** The path, starting with `/`. */
  readonly path: string;
}

export interface IdentifierOptions {
  /**
   * Apply the canonical `wimse` rules of the identifier editor's copy (lower-case trust domain,
   * unreserved path characters only, no empty/dot segments, no percent-encoding). Default `true`.
   */
  canonical?: boolean;
  /** Schemes accepted as Workload Identifiers. Default `['spiffe', 'wimse']`. */
  schemes?: readonly string[];
  /** Accept an IP address as trust domain (identifier-03 §4.3 allows it only for legacy naming). Default `false`. */
  allowIpTrustDomain?: boolean;
}

export type IdentifierCheck = { ok: true; id: WorkloadIdentifier } | { ok: false; reason: string };

/** identifier-03 §4.1: implementations must support, and identifiers should not exceed, 2048 octets. */
export const MAX_IDENTIFIER_LENGTH = 2048;

const DEFAULT_SCHEMES = ['spiffe', 'wimse'] as const;
// SPIFFE-ID spec: lower-case trust domain, segments of [A-Za-z0-9._-].
const SPIFFE_RE = /^spiffe:\/\/[a-z0-9._-]+(\/[A-Za-z0-9._-]+)+$/;
// identifier editor's copy §4.4 (canonical wimse): trust domain [a-z0-9._-] not ending in '.', unreserved path segments.
const WIMSE_CANONICAL_RE = /^wimse:\/\/[a-z0-9._-]*[a-z0-9_-](\/[A-Za-z0-9._~-]+)+$/;
const utf8 = new TextEncoder();
const IPV4_RE = /^\d{1,3}(\.\d{1,3}){3}$/;

/**
 * Validates a Workload Identifier without throwing.
 *
 * @example
 * const r = checkWorkloadIdentifier('spiffe://example.org/svc')
 * if (r.ok) console.log(r.id.trustDomain) // example.org
 */
export function checkWorkloadIdentifier(value: unknown, options: IdentifierOptions = {}): IdentifierCheck {
  if (typeof value !== 'string' || value.length === 0) return fail('not a string');
  if (utf8.encode(value).length > MAX_IDENTIFIER_LENGTH) return fail(`longer than ${MAX_IDENTIFIER_LENGTH} octets`);
  if (value.includes('?')) return fail('query component not allowed');
  if (value.includes('#')) return fail('fragment not allowed');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return fail('not an absolute URI');
  }
  const scheme = url.protocol.slice(0, -1).toLowerCase();
  const schemes = options.schemes ?? DEFAULT_SCHEMES;
  if (!schemes.includes(scheme)) return fail(`scheme "${scheme}" not accepted`);
  if (!value.slice(scheme.length + 1).startsWith('//')) return fail('no authority');
  if (url.username !== '' || url.password !== '' || /^[^/]*@/.test(value.slice(scheme.length + 3))) {
    return fail('user information not allowed');
  }
  if (url.port !== '' || /^[^/]*:/.test(value.slice(scheme.length + 3))) return fail('port not allowed');
  const trustDomain = url.hostname;
  if (trustDomain === '') return fail('empty trust domain');
  if (!options.allowIpTrustDomain && (IPV4_RE.test(trustDomain) || trustDomain.startsWith('['))) {
    return fail('IP address as trust domain');
  }
  const path = url.pathname;
  if (scheme === 'spiffe' && !spiffeValid(value)) return fail('not a valid SPIFFE ID');
  if (scheme === 'wimse' && options.canonical !== false && !wimseCanonical(value)) return fail('not a canonical wimse identifier');
  if (path === '' || path === '/') return fail('no path');
  return { ok: true, id: Object.freeze({ value, scheme, trustDomain, path }) };
}

/**
 * Validates a Workload Identifier and returns its parts; throws `TypeError` when invalid.
 * Meant for configuration; request paths use {@link checkWorkloadIdentifier}.
 */
export function parseWorkloadIdentifier(value: string, options?: IdentifierOptions): WorkloadIdentifier {
  const r = checkWorkloadIdentifier(value, options);
  if (!r.ok) throw new TypeError(`Invalid workload identifier ${JSON.stringify(value)}: ${r.reason}`);
  return r.id;
}

/** The Workload Identifier Origin (identifier-03 §4.6): scheme and trust domain, no path. */
export function workloadOrigin(id: WorkloadIdentifier): string {
  return `${id.scheme}://${id.trustDomain}`;
}

/** identifier-03 §4.3/§4.4: two identifiers name the same workload only if the strings are identical. */
export function sameWorkload(a: WorkloadIdentifier | string, b: WorkloadIdentifier | string): boolean {
  return (typeof a === 'string' ? a : a.value) === (typeof b === 'string' ? b : b.value);
}

function spiffeValid(value: string): boolean {
  return SPIFFE_RE.test(value) && !hasDotSegment(value);
}

function wimseCanonical(value: string): boolean {
  return WIMSE_CANONICAL_RE.test(value) && !hasDotSegment(value);
}

function hasDotSegment(value: string): boolean {
  const path = value.slice(value.indexOf('/', value.indexOf('//') + 2));
  return path.split('/').some((s) => s === '.' || s === '..');
}

function fail(reason: string): IdentifierCheck {
  return { ok: false, reason };
}
