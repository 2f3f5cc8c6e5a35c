/**
 * The framework-neutral view of an incoming request that adapters build and the verifier reads.
 * The target URI is never taken from `Host`/`X-Forwarded-Host` (wpt-02 §3.1.7): the verifier joins
 * its configured audience with `path`.
 */
import { WimseError, type WimseErrorCode } from './errors.js';

/** Header values as received. An array means the field occurred more than once. */
export type HeaderValue = string | readonly string[] | undefined;

/** Lower-cased field names to their values. */
export type RequestHeaders = Readonly<Record<string, HeaderValue>>;

/** What the verifier needs to know about a request. */
export interface WimseRequest {
  /** HTTP method, e.g. `GET`. */
  readonly method: string;
  /** The request target in origin form: path and query as received, e.g. `/orders?id=7`. */
  readonly path: string;
  /** Lower-cased header names. Node adapters pass `headersFromRaw(req.rawHeaders)` or `req.headersDistinct`, fetch adapters `headersOf(request.headers)`. */
  readonly headers: RequestHeaders;
  /** Raw body bytes, needed when an HTTP signature covers content. */
  readonly body?: Uint8Array | undefined;
  /** DER of the TLS client certificate and its chain (leaf first), when the connection had one. */
  readonly peerCertificates?: readonly Uint8Array[] | undefined;
  /** IP address of the TCP peer (`socket.remoteAddress`); only consulted to believe RFC 9440 `Client-Cert` from a trusted proxy. */
  readonly remoteAddress?: string | undefined;
}

/**
 * {@link RequestHeaders} from Node's `rawHeaders` (name, value, name, value, …): names lower-cased,
 * a field received once as its string, a repeated one as the array of its values in order — what
 * `headersDistinct` tells, without an array per field (the duplicate checks need only the count).
 *
 * @example
 * const view = { method: req.method, path: req.url, headers: headersFromRaw(req.rawHeaders) }
 */
export function headersFromRaw(raw: readonly string[]): Record<string, string | string[]> {
  // No prototype: a field named like an Object.prototype member reads as absent until sent.
  const out = Object.create(null) as Record<string, string | string[]>;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    const seen = out[name];
    if (seen === undefined) out[name] = value;
    else if (typeof seen === 'string') out[name] = [seen, value];
    else seen.push(value);
  }
  return out;
}

/** Converts fetch `Headers` (Web-standard runtimes) into {@link RequestHeaders}. */
export function headersOf(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  headers.forEach((value, name) => {
    out[name] = value;
  });
  return out;
}

const NONE: readonly string[] = Object.freeze([]);

/** All values of a field; `name` must be lower-case. */
export function fieldValues(headers: RequestHeaders, name: string): readonly string[] {
  const v = headers[name];
  if (v === undefined) return NONE; // shared: the common absent field allocates nothing
  return typeof v === 'string' ? [v] : v;
}

/**
 * The single value of a field, `undefined` when absent. A field sent more than once is an error
 * with `duplicateCode`: every binding in the drafts assumes one value.
 */
export function singleField(headers: RequestHeaders, name: string, duplicateCode: WimseErrorCode): string | undefined {
  const v = headers[name];
  if (v === undefined || typeof v === 'string') return v;
  if (v.length > 1) throw new WimseError(duplicateCode, `More than one ${name} field`);
  return v[0];
}
