/**
 * Workload Identifiers (draft-ietf-wimse-identifier-03).
 *
 * A Workload Identifier is a URI whose authority is the trust domain. Validation happens before
 * anything else uses the value (identifier-03 §4.1), and comparison is byte-for-byte on the
 * complete string: never on the path alone, never after "repairing" it (§4.3, §4.4).
 */

/**
 * A validated identifier. `value` is the exact string that was validated. `path` is empty only
 * for a trust domain's own identifier (`spiffe://prod.example`, from {@link checkIdentifier}),
 * which names the trust domain and never a workload.
 */
export interface WorkloadIdentifier {
  /** The complete identifier, e.g. `spiffe://example.org/ns/prod/sa/api`. */
  readonly value: string;
  /** Lower-case scheme without `:`, e.g. `spiffe` or `wimse`. */
  readonly scheme: string;
  /** The authority: the trust domain, e.g. `example.org`. */
  readonly trustDomain: string;
  /** The path, starting with `/`; empty for a trust-domain identifier. */
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
// SPIFFE-ID spec §2: lower-case trust domain, optional path of segments [A-Za-z0-9._-].
const SPIFFE_RE = /^spiffe:\/\/[a-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;
// identifier editor's copy §4.4 (canonical wimse): trust domain [a-z0-9._-] not ending in '.', unreserved path segments.
const WIMSE_CANONICAL_RE = /^wimse:\/\/[a-z0-9._-]*[a-z0-9_-](\/[A-Za-z0-9._~-]+)*$/;
// RFC 3986 §3: scheme "://" reg-name or IP-literal, then path-abempty; pct-encoded is "%" 2HEXDIG.
// (Query, fragment, user info and port are refused earlier, each with its own reason.)
const PCT = '%[0-9A-Fa-f]{2}';
const REG_NAME = `(?:[A-Za-z0-9._~!$&'()*+,;=-]|${PCT})+`;
const PCHAR = `(?:[A-Za-z0-9._~!$&'()*+,;=:@-]|${PCT})`;
const URI_RE = new RegExp(`^[A-Za-z][A-Za-z0-9+.-]*://(?:${REG_NAME}|\\[[0-9A-Fa-f:.]+\\])(?:/${PCHAR}*)*$`);
const utf8 = new TextEncoder();
const IPV4_RE = /^\d{1,3}(\.\d{1,3}){3}$/;

/**
 * Validates a Workload Identifier without throwing. A trust domain's own identifier
 * (`spiffe://prod.example`) is a valid identifier but names no workload (SPIFFE X509-SVID §3.1:
 * a leaf's SPIFFE ID has a non-root path): it is refused here, with a reason saying so. Use
 * {@link checkIdentifier} where a trust-domain identifier is acceptable too.
 *
 * @example
 * const r = checkWorkloadIdentifier('spiffe://example.org/svc')
 * if (r.ok) console.log(r.id.trustDomain) // example.org
 */
export function checkWorkloadIdentifier(value: unknown, options: IdentifierOptions = {}): IdentifierCheck {
  const r = checkIdentifier(value, options);
  if (r.ok && r.id.path === '')
    return fail(`${r.id.value} names the trust domain ${r.id.trustDomain}, not a workload (a workload identifier has a path)`);
  return r;
}

/**
 * Validates an identifier without throwing: a Workload Identifier, or a trust domain's own
 * identifier with an empty path (SPIFFE-ID §2: the path is optional; identifier-03 §4.6 calls
 * scheme + trust domain the Workload Identifier Origin). The result's `path` is `''` for the latter.
 *
 * @example
 * checkIdentifier('spiffe://prod.example') // { ok: true, id: { trustDomain: 'prod.example', path: '' , … } }
 */
export function checkIdentifier(value: unknown, options: IdentifierOptions = {}): IdentifierCheck {
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
  // Every scheme, canonical or not: the generic URI grammar, so "%zz" or a space is never "repaired" by the URL parser.
  if (!URI_RE.test(value))
    return fail(/%(?![0-9A-Fa-f]{2})/.test(value) ? 'malformed percent-encoding' : 'characters outside the URI grammar (RFC 3986)');
  const path = url.pathname;
  if (scheme === 'spiffe' && !spiffeValid(value)) return fail('not a valid SPIFFE ID');
  if (scheme === 'wimse' && options.canonical !== false && !wimseCanonical(value)) return fail('not a canonical wimse identifier');
  if (path === '/') return fail('empty path (a trust-domain identifier has no trailing slash)');
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
  const start = value.indexOf('/', value.indexOf('//') + 2);
  if (start === -1) return false;
  const path = value.slice(start);
  return path.split('/').some((s) => s === '.' || s === '..');
}

function fail(reason: string): IdentifierCheck {
  return { ok: false, reason };
}
