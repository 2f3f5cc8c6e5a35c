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
  /** Lower-cased header names. Node adapters pass `req.headersDistinct`, fetch adapters `headersOf(request.headers)`. */
  readonly headers: RequestHeaders;
  /** Raw body bytes, needed when an HTTP signature covers content. */
  readonly body?: Uint8Array | undefined;
  /** DER of the TLS client certificate and its chain (leaf first), when the connection had one. */
  readonly peerCertificates?: readonly Uint8Array[] | undefined;
  /** IP address of the TCP peer (`socket.remoteAddress`); only consulted to believe RFC 9440 `Client-Cert` from a trusted proxy. */
  readonly remoteAddress?: string | undefined;
}

/** Converts fetch `Headers` (Web-standard runtimes) into {@link RequestHeaders}. */
export function headersOf(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  headers.forEach((value, name) => {
    out[name] = value;
  });
  return out;
}

/** All values of a field; `name` must be lower-case. */
export function fieldValues(headers: RequestHeaders, name: string): readonly string[] {
  const v = headers[name];
  if (v === undefined) return [];
  return typeof v === 'string' ? [v] : v;
}

/**
 * The single value of a field, `undefined` when absent. A field sent more than once is an error
 * with `duplicateCode`: every binding in the drafts assumes one value.
 */
export function singleField(headers: RequestHeaders, name: string, duplicateCode: WimseErrorCode): string | undefined {
  const values = fieldValues(headers, name);
  if (values.length > 1) throw new WimseError(duplicateCode, `More than one ${name} field`);
  return values[0];
}
