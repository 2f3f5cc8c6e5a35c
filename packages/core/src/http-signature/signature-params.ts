/**
 * `Signature-Input` / `Signature` (RFC 9421 §4) and the WIMSE signature parameters
 * (http-signature-07 §3.2-3.4). Every field is parsed and serialized with `structured-headers`.
 */
import {
  isInnerList,
  parseDictionary,
  serializeInnerList,
  type BareItem,
  type Dictionary,
  type InnerList,
  type Item,
  type Parameters,
} from 'structured-headers';
import { WimseError } from '../errors.js';
import { fieldValues, type RequestHeaders } from '../request.js';

/** http-signature-07 §3: the `tag` that marks the WIMSE signature of a message. */
export const WIMSE_SIGNATURE_TAG = 'wimse-workload-to-workload';
/** The label we use when signing (any label is accepted: the signature is found by its tag). */
export const WIMSE_SIGNATURE_LABEL = 'wimse';

const MAX_NONCE_LENGTH = 256;
// RFC 9110 §5.1 field-name, lower case as RFC 9421 §2.1 requires in component identifiers.
const FIELD_NAME_RE = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

/** One covered component (RFC 9421 §2): a field name or derived `@`-component, maybe `;req`. */
export interface CoveredComponent {
  readonly name: string;
  /** RFC 9421 §2.4: taken from the request a response answers. */
  readonly req: boolean;
}

/** The WIMSE signature found in a message's `Signature-Input` / `Signature` fields. */
export interface PresentedSignature {
  /** Its dictionary label, e.g. `sig1`. */
  readonly label: string;
  readonly components: readonly CoveredComponent[];
  /** The signature parameters as received. */
  readonly params: Parameters;
  /** RFC 9421 §3.2 step 4: the received member re-serialized per §2.3, the `@signature-params` value. */
  readonly signatureParams: string;
  /** The signature bytes from `Signature`. */
  readonly signature: Uint8Array;
}

/** True when the message carries any signature fields at all (WIMSE or not). */
export function hasSignatureFields(headers: RequestHeaders): boolean {
  return headers['signature-input'] !== undefined || headers.signature !== undefined;
}

/**
 * Finds the WIMSE signature of a message: the one `Signature-Input` member whose `tag` is
 * `wimse-workload-to-workload` (http-signature-07 §3, selection by tag, never by label).
 * `undefined` when there is none; `sig_duplicate` when there are several.
 */
export function findWimseSignature(headers: RequestHeaders): PresentedSignature | undefined {
  const input = dictionaryField(headers, 'signature-input');
  if (input === undefined) return undefined;
  let label: string | undefined;
  let member: Item | InnerList | undefined;
  for (const [key, value] of input) {
    if (value[1].get('tag') !== WIMSE_SIGNATURE_TAG) continue;
    if (label !== undefined) throw new WimseError('sig_duplicate', 'More than one signature is tagged wimse-workload-to-workload');
    label = key;
    member = value;
  }
  if (label === undefined || member === undefined) return undefined;
  if (!isInnerList(member)) throw new WimseError('sig_malformed', `Signature-Input ${label} must be an inner list of components`);
  const items = member[0];
  const components: CoveredComponent[] = new Array(items.length);
  for (let i = 0; i < items.length; i++) components[i] = coveredComponent(items[i]![0], items[i]![1]);
  if (coversTwice(components)) throw new WimseError('sig_malformed', 'Signature-Input covers a component twice');
  // RFC 9421 §4.3: the Signature member with the same label carries the bytes.
  const sigMember = dictionaryField(headers, 'signature')?.get(label);
  if (sigMember === undefined) throw new WimseError('sig_malformed', `Signature has no member labelled ${label}`);
  const bytes = sigMember[0];
  if (isInnerList(sigMember) || !(bytes instanceof ArrayBuffer))
    throw new WimseError('sig_malformed', `Signature ${label} must be a byte sequence`);
  const params = member[1];
  // RFC 9421 §3.2 step 4: `@signature-params` is the received member re-serialized (§2.3), never the received bytes.
  return { label, components, params, signatureParams: serializeInnerList(member), signature: new Uint8Array(bytes) };
}

// A handful of components, compared pairwise; a long list (only a hostile one) through a Set.
function coversTwice(components: readonly CoveredComponent[]): boolean {
  if (components.length > 16) return new Set(components.map((c) => `${c.name};${c.req}`)).size !== components.length;
  for (let i = 1; i < components.length; i++) {
    for (let j = 0; j < i; j++) if (components[i]!.name === components[j]!.name && components[i]!.req === components[j]!.req) return true;
  }
  return false;
}

function dictionaryField(headers: RequestHeaders, name: string): Dictionary | undefined {
  const values = fieldValues(headers, name);
  if (values.length === 0) return undefined;
  try {
    return parseDictionary(values.join(', '));
  } catch (cause) {
    throw new WimseError('sig_malformed', `${name} is not a structured-field dictionary`, { cause });
  }
}

function coveredComponent(name: BareItem, params: Parameters): CoveredComponent {
  if (typeof name !== 'string') throw new WimseError('sig_malformed', 'Component identifiers must be strings');
  // Every request covers the same few components: each checked once (bounded, names come from requests).
  const plain = params.size === 0;
  const known = plain ? plainComponents.get(name) : undefined;
  if (known !== undefined) return known;
  const derived = name.startsWith('@');
  if (!FIELD_NAME_RE.test(derived ? name.slice(1) : name)) {
    throw new WimseError('sig_malformed', `Component identifier ${JSON.stringify(name)} is not a lower-case field or component name`);
  }
  for (const [key, value] of params) {
    if (key !== 'req' || value !== true) throw new WimseError('sig_components', `Component parameter ${key} is not supported`);
  }
  const component: CoveredComponent = Object.freeze({ name, req: params.has('req') });
  if (plain && plainComponents.size < MAX_PLAIN_COMPONENTS) plainComponents.set(name, component);
  return component;
}

const MAX_PLAIN_COMPONENTS = 256;
const plainComponents = new Map<string, CoveredComponent>();

/** The parameters every WIMSE signature carries (http-signature-07 §3.2). */
export interface CommonSignatureParams {
  readonly created: number;
  readonly expires: number;
  readonly nonce: string;
}

/** Request parameters (§3.3): `wimse-aud` and optional `wimse-sign-response`. */
export interface RequestSignatureParams extends CommonSignatureParams {
  readonly wimseAud: string;
  readonly signResponse: boolean;
}

/** Response parameters (§3.5): `wimse-req-nonce`. */
export interface ResponseSignatureParams extends CommonSignatureParams {
  readonly reqNonce: string;
}

function commonParams(params: Parameters): CommonSignatureParams {
  // §3.2: the key and algorithm come from the WIT, never from the message.
  for (const banned of ['keyid', 'alg']) {
    if (params.has(banned)) throw new WimseError('sig_params', `The ${banned} parameter must not be used`);
  }
  const created = params.get('created');
  const expires = params.get('expires');
  const nonce = params.get('nonce');
  if (!Number.isInteger(created)) throw new WimseError('sig_params', 'created is required and must be an integer');
  if (!Number.isInteger(expires)) throw new WimseError('sig_params', 'expires is required and must be an integer');
  if (typeof nonce !== 'string' || nonce.length === 0 || nonce.length > MAX_NONCE_LENGTH) {
    throw new WimseError('sig_params', 'nonce is required and must be a non-empty string');
  }
  if ((expires as number) < (created as number)) throw new WimseError('sig_params', 'expires is before created');
  return { created: created as number, expires: expires as number, nonce };
}

/** Reads and checks the parameters of a request signature; `sig_params` when one is wrong. */
export function requestParams(params: Parameters): RequestSignatureParams {
  const common = commonParams(params);
  const wimseAud = params.get('wimse-aud');
  if (typeof wimseAud !== 'string' || wimseAud.length === 0)
    throw new WimseError('sig_params', 'wimse-aud is required and must be a string');
  const signResponse = params.get('wimse-sign-response') ?? false;
  if (typeof signResponse !== 'boolean') throw new WimseError('sig_params', 'wimse-sign-response must be a boolean');
  if (params.has('wimse-req-nonce')) throw new WimseError('sig_params', 'wimse-req-nonce belongs on responses only');
  return { created: common.created, expires: common.expires, nonce: common.nonce, wimseAud, signResponse };
}

/** Reads and checks the parameters of a response signature; `sig_params` when one is wrong. */
export function responseParams(params: Parameters): ResponseSignatureParams {
  const common = commonParams(params);
  const reqNonce = params.get('wimse-req-nonce');
  // -07 §3.5: every signed response carries the nonce of the request it answers.
  if (typeof reqNonce !== 'string' || reqNonce.length === 0)
    throw new WimseError('sig_params', 'wimse-req-nonce is required on a signed response');
  for (const requestOnly of ['wimse-aud', 'wimse-sign-response']) {
    if (params.has(requestOnly)) throw new WimseError('sig_params', `${requestOnly} belongs on requests only`);
  }
  return { ...common, reqNonce };
}

/** Clock rules for a signature (http-signature-07 §3 receiver step 4). */
export interface SignatureClock {
  /** Seconds of skew tolerated. */
  readonly clockTolerance: number;
  /** Longest accepted `expires - created`, in seconds. */
  readonly maxLifetime: number;
  /** Clock in ms. */
  readonly now: () => number;
}

/** Checks `created`/`expires`: now within `[created - skew, expires + skew]`, lifetime bounded. */
export function checkSignatureTimes(p: CommonSignatureParams, clock: SignatureClock): void {
  const now = clock.now() / 1000;
  if (p.created > now + clock.clockTolerance) throw new WimseError('sig_not_yet_valid', 'Signature created in the future');
  if (now > p.expires + clock.clockTolerance) throw new WimseError('sig_expired', 'Signature expired');
  if (p.expires - p.created > clock.maxLifetime || now - p.created > clock.maxLifetime + clock.clockTolerance) {
    throw new WimseError('sig_too_old', `Signature lifetime exceeds ${clock.maxLifetime}s`);
  }
}

/** Checks that every component in `required` is covered, and nothing derived is unsupported. */
export function requireComponents(covered: readonly CoveredComponent[], required: readonly CoveredComponent[]): void {
  for (const r of required) {
    if (!covered.some((c) => c.name === r.name && c.req === r.req)) {
      throw new WimseError('sig_components', `The signature must cover ${r.name}${r.req ? ';req' : ''}`);
    }
  }
}
