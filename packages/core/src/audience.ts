/**
 * The audience of a proof: WPT `aud` (wpt-02 §2 step 6) and signature `wimse-aud`
 * (http-signature-07 §3.3). Both name the target URI without query and fragment, built here from
 * configured base URLs and never from `Host`; or "an acceptable alias or normalization" (wpt-02),
 * "a deployment-specific audience value that the recipient can recognize" (http-signature-07).
 */
import { WimseError } from './errors.js';

/**
 * One `audience` entry: a public base URL of this service (joined with the request path), or
 * `{ value }`, a deployment-specific audience accepted verbatim whatever the path.
 */
export type AudienceEntry = string | { readonly value: string };

/** Resolved `audience` option. */
export interface Audience {
  /** Base URLs, normalized (lower-case scheme and host, no default port, no trailing slash). */
  readonly bases: readonly string[];
  /** Deployment-specific values, compared as exact strings. */
  readonly values: readonly string[];
}

const MAX_SHOWN = 4;
const MAX_VALUE_CHARS = 200;

/** Validates the `audience` option. Throws `TypeError` naming the bad entry. */
export function resolveAudience(option: AudienceEntry | readonly AudienceEntry[] | undefined): Audience {
  const entries: readonly unknown[] = option === undefined ? [] : Array.isArray(option) ? option : [option];
  const bases: string[] = [];
  const values: string[] = [];
  for (const entry of entries) {
    if (typeof entry === 'object' && entry !== null && 'value' in entry) {
      const { value } = entry as { value: unknown };
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this refuses
      if (typeof value !== 'string' || value.length === 0 || /[\s\u0000-\u001f\u007f]/.test(value)) {
        throw new TypeError(
          `audience: { value: ${JSON.stringify(value)} } must be a non-empty string without spaces or control characters`,
        );
      }
      values.push(value);
    } else {
      bases.push(baseUrl(entry));
    }
  }
  if (bases.length + values.length === 0) throw new TypeError('audience: at least one public base URL of this service is required');
  return { bases, values };
}

/** The audiences a proof for the request target `path` may name: each base URL + path, then the values. */
export function expectedAudiences(a: Audience, path: string): string[] {
  return [...a.bases.map((b) => b + pathOnly(path)), ...a.values];
}

/**
 * Checks a received audience: a string, or for a WPT an array of strings (RFC 7519 §4.1.3) of
 * which one must match. A refusal names what was expected and what arrived, in `detail` and in
 * {@link WimseError.mismatch}.
 */
export function checkAudience(a: Audience, path: string, received: unknown, code: 'wpt_aud' | 'sig_aud'): void {
  // The common case first, without allocating: exactly a configured base URL + this path.
  if (typeof received === 'string' && namesTarget(a, path, received)) return;
  const what = code === 'wpt_aud' ? 'WPT aud' : 'wimse-aud';
  const members =
    typeof received === 'string' ? [received] : Array.isArray(received) && code === 'wpt_aud' ? (received as unknown[]) : undefined;
  if (members === undefined || members.length === 0 || !members.every((m): m is string => typeof m === 'string')) {
    throw new WimseError(code, `${what} must be ${code === 'wpt_aud' ? 'a string or a non-empty array of strings' : 'a string'}`);
  }
  const targets = a.bases.map((b) => b + pathOnly(path));
  if (members.some((m) => a.values.includes(m) || targets.includes(normalizedTarget(m) ?? ''))) return;
  const expected = expectedAudiences(a, path);
  throw new WimseError(code, `${what} ${shown(members)} does not name this service and path; expected ${shown(expected, ' or ')}`, {
    mismatch: { expected, received: members.map(clip) },
  });
}

// `received` is exactly base + path for one configured base: what normalizedTarget() would also
// accept (bases are normalized, the path starts with "/" and has no query or fragment).
function namesTarget(a: Audience, path: string, received: string): boolean {
  const end = pathEnd(path);
  if (end === 0 || path.charCodeAt(0) !== 0x2f) return false;
  for (const base of a.bases) {
    if (
      received.length === base.length + end &&
      received.startsWith(base) &&
      received.startsWith(end === path.length ? path : path.slice(0, end), base.length)
    )
      return true;
  }
  return false;
}

// Where the path of an origin-form target ends (its query or fragment starts).
function pathEnd(path: string): number {
  const q = path.indexOf('?');
  const h = path.indexOf('#');
  return q === -1 ? (h === -1 ? path.length : h) : h === -1 ? q : Math.min(q, h);
}

// RFC 3986 §6.2.2.1 and §6.2.3: scheme and host are case-insensitive, a default port and an empty
// path are the same as none and `/`. The audience is the target URI without query and fragment, so
// one that carries either names no target. Nothing else is "repaired": the path is compared as sent.
function normalizedTarget(value: string): string | undefined {
  const m = /^(https?):\/\/([^/?#]*)([^?#]*)$/i.exec(value);
  if (m === null) return undefined;
  const scheme = m[1]!.toLowerCase();
  const authority = m[2]!.toLowerCase();
  if (authority === '' || authority.includes('@')) return undefined;
  const host = authority.replace(scheme === 'https' ? /:443$/ : /:80$/, '');
  return `${scheme}://${host}${m[3] === '' ? '/' : m[3]!}`;
}

function pathOnly(path: string): string {
  if (!path.startsWith('/')) throw new WimseError('request_invalid', 'Request target must be in origin form');
  const end = path.search(/[?#]/);
  return end === -1 ? path : path.slice(0, end);
}

// A base URL: http(s), no query, fragment, user info or trailing slash.
function baseUrl(value: unknown): string {
  let url: URL;
  try {
    url = new URL(String(value));
  } catch {
    throw new TypeError(`audience: ${JSON.stringify(value)} is not an absolute URL (for a deployment-specific value, give { value: ... })`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new TypeError(
      `audience: ${JSON.stringify(value)} must be an http(s) base URL (for a deployment-specific value, give { value: ... })`,
    );
  }
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw new TypeError(`audience: ${JSON.stringify(value)} must not have query, fragment or user info`);
  }
  return url.href.replace(/\/+$/, '');
}

function clip(value: string): string {
  return value.length > MAX_VALUE_CHARS ? `${value.slice(0, MAX_VALUE_CHARS)}…` : value;
}

function shown(values: readonly string[], sep = ', '): string {
  const listed = values.slice(0, MAX_SHOWN).map((v) => JSON.stringify(clip(v)));
  return values.length > MAX_SHOWN ? `${listed.join(sep)} (and ${values.length - MAX_SHOWN} more)` : listed.join(sep);
}
