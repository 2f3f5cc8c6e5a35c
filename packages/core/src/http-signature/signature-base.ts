/**
 * The signature base (RFC 9421 §2.5): one line per covered component, then `@signature-params`.
 * Component values per RFC 9421 §2.1 (fields) and §2.2 (derived), taken from the message exactly
 * as received; the authority is never consulted unless a signer chose to cover `@authority`.
 */
import { serializeItem } from 'structured-headers';
import { WimseError } from '../errors.js';
import { fieldValues, type RequestHeaders } from '../request.js';
import type { CoveredComponent } from './signature-params.js';

/** The parts of an HTTP message that components are derived from. */
export interface SignedMessage {
  /** Lower-cased field names to values. */
  readonly headers: RequestHeaders;
  /** Request method (requests only). */
  readonly method?: string;
  /** Request target in origin form, e.g. `/a/b?x=1` (requests only). */
  readonly path?: string;
  /** Status code (responses only). */
  readonly status?: number;
}

/**
 * Builds the signature base for `components` of `message` (and of `request` for `;req`
 * components of a response). `signatureParams` is the serialized inner list, used verbatim.
 */
export function signatureBase(
  components: readonly CoveredComponent[],
  signatureParams: string,
  message: SignedMessage,
  request?: SignedMessage,
): string {
  const lines = components.map((c) => {
    const source = c.req ? request : message;
    if (source === undefined) throw new WimseError('sig_components', `${c.name};req is only meaningful on a response`);
    return `${componentIdentifier(c)}: ${componentValue(c.name, source)}`;
  });
  lines.push(`"@signature-params": ${signatureParams}`);
  return lines.join('\n');
}

/** RFC 9421 §2: the component identifier as a serialized sf-string with its parameters. */
export function componentIdentifier(c: CoveredComponent): string {
  const known = c.req ? undefined : identifiers.get(c.name);
  if (known !== undefined) return known;
  const serialized = serializeItem(c.name, c.req ? new Map([['req', true]]) : new Map());
  // Every request covers the same few components: serialized once each (bounded, names come from requests).
  if (!c.req && identifiers.size < MAX_IDENTIFIERS) identifiers.set(c.name, serialized);
  return serialized;
}

const MAX_IDENTIFIERS = 256;
const identifiers = new Map<string, string>();

function componentValue(name: string, m: SignedMessage): string {
  switch (name) {
    case '@method':
      return required(m.method, name);
    case '@path':
      return pathOf(required(m.path, name));
    case '@query':
      return queryOf(required(m.path, name));
    case '@request-target':
      // http-signature-06 compatibility; RFC 9421 §2.2.5.
      return required(m.path, name);
    case '@status':
      return String(required(m.status, name));
    case '@authority':
      return authorityOf(m.headers);
    default:
      if (name.startsWith('@')) throw new WimseError('sig_components', `Derived component ${name} is not supported`);
      return fieldValue(m.headers, name);
  }
}

function required<T>(value: T | undefined, name: string): T {
  if (value === undefined) throw new WimseError('sig_components', `${name} does not apply to this message`);
  return value;
}

/** RFC 9421 §2.2.6: the path of the target URI; empty means `/`. */
export function pathOf(target: string): string {
  const end = target.indexOf('?');
  const path = end === -1 ? target : target.slice(0, end);
  return path === '' ? '/' : path;
}

/** RFC 9421 §2.2.7: the query with its leading `?`, or `?` when absent or empty. */
export function queryOf(target: string): string {
  const start = target.indexOf('?');
  return start === -1 ? '?' : target.slice(start);
}

// RFC 9421 §2.2.3: the authority as received, lower case. Only used when a signer covered it.
function authorityOf(headers: RequestHeaders): string {
  const values = fieldValues(headers, 'host');
  if (values.length !== 1) throw new WimseError('sig_components', '@authority is covered but the request has no single Host');
  return values[0]!.trim().toLowerCase();
}

// RFC 9421 §2.1: each field line trimmed, obsolete line folding replaced by a space, joined with ", ".
function fieldValue(headers: RequestHeaders, name: string): string {
  const values = fieldValues(headers, name);
  if (values.length === 0) throw new WimseError('sig_components', `The signature covers ${name}, which the message does not carry`);
  return values.length === 1 ? lineValue(values[0]!) : values.map(lineValue).join(', ');
}

const OBS_FOLD_RE = /\r?\n[ \t]+/g;
// Folding is rare: a line feed is looked for before the pattern runs over a whole WIT.
const lineValue = (v: string): string => (v.includes('\n') ? v.replace(OBS_FOLD_RE, ' ') : v).trim();
