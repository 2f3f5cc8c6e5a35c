/**
 * Signing requests per http-signature-07 §3: the components and parameters the profile asks
 * for, label `wimse`, serialized with `structured-headers`.
 */
import { base64url, type CryptoKey, type JWK, type KeyObject } from 'jose';
import { serializeDictionary, serializeInnerList, type BareItem, type InnerList, type Item } from 'structured-headers';
import type { WimseAlgorithm } from '../algorithms.js';
import { contentDigest } from '../content-digest.js';
import { signatureBase, type SignedMessage } from './signature-base.js';
import { signBase, signingKey, type DualKey } from '../jws-algorithm.js';
import { WIMSE_SIGNATURE_LABEL, WIMSE_SIGNATURE_TAG, type CoveredComponent } from './signature-params.js';

/** Default signature lifetime `expires - created`, in seconds. */
export const DEFAULT_SIGNATURE_LIFETIME = 60;

// §3: header fields covered whenever the message carries them, in the order of the examples.
const REQUEST_FIELDS = ['content-type', 'content-digest', 'authorization', 'txn-token'] as const;

/** Options for {@link signHttpRequest}. */
export interface SignHttpRequestOptions {
  /** The caller's WIT, sent in `Workload-Identity-Token`. */
  wit: string;
  /** The private key of the WIT's `cnf.jwk`: a Web Crypto key, a Node `KeyObject` or a private JWK. */
  key: CryptoKey | KeyObject | JWK;
  /** `cnf.jwk.alg` of the WIT. */
  alg: WimseAlgorithm;
  method: string;
  /** The full request URL: `@path` and `@query` come from it, `wimse-aud` is it without query. */
  url: string | URL;
  /** Other headers the request will carry (any case); profile fields among them are covered. */
  headers?: Readonly<Record<string, string>>;
  /** The request content; adds a covered `Content-Digest` (sha-256). */
  body?: Uint8Array | string;
  /** Ask the server for a signed response (`wimse-sign-response`). */
  signResponse?: boolean;
  /** Further present header fields to cover, e.g. configured context-token fields. */
  coverHeaders?: readonly string[];
  /** `wimse-aud` when a deployment uses another value than the target URI. */
  wimseAud?: string;
  /** Seconds until `expires`. Default 60. */
  lifetime?: number;
  /** Clock in ms, for tests. */
  now?: number;
  /** The `nonce`; leave unset (a fresh random value) except to reproduce a known signature. */
  nonce?: string;
}

/**
 * Signs one request and returns every header to add: `workload-identity-token`,
 * `content-digest` when there is a body, `signature-input` and `signature`.
 *
 * @example
 * const added = await signHttpRequest({ wit, key, alg: 'ES256', method: 'POST', url, body })
 * await fetch(url, { method: 'POST', body, headers: { ...headers, ...added } })
 */
export async function signHttpRequest(o: SignHttpRequestOptions): Promise<Record<string, string>> {
  const url = new URL(o.url);
  const added: Record<string, string> = { 'workload-identity-token': o.wit };
  if (o.body !== undefined) added['content-digest'] = await contentDigest(o.body);
  const headers: Record<string, string> = { ...lowerCased(o.headers ?? {}), ...added };
  const covered = [
    '@method',
    '@path',
    '@query',
    'workload-identity-token',
    ...REQUEST_FIELDS,
    ...(o.coverHeaders ?? []).map((h) => h.toLowerCase()),
  ]
    .filter((name, i, all) => all.indexOf(name) === i && (name.startsWith('@') || headers[name] !== undefined))
    .map((name) => ({ name, req: false }));
  const params = new Map<string, BareItem>([
    ...timing(o.lifetime, o.now, o.nonce),
    ['tag', WIMSE_SIGNATURE_TAG],
    ['wimse-aud', o.wimseAud ?? `${url.origin}${url.pathname}`],
  ]);
  if (o.signResponse === true) params.set('wimse-sign-response', true);
  const message: SignedMessage = { method: o.method.toUpperCase(), path: `${url.pathname}${url.search}`, headers };
  return { ...added, ...(await signMessage(covered, params, await signingKey(o.key, o.alg), o.alg, message)) };
}

/** `created`, `expires` and a fresh `nonce` (§3.2: random, collisions negligible). */
export function timing(lifetime: number | undefined, now: number | undefined, nonce?: string): [string, BareItem][] {
  const created = Math.floor((now ?? Date.now()) / 1000);
  return [
    ['created', created],
    ['expires', created + (lifetime ?? DEFAULT_SIGNATURE_LIFETIME)],
    ['nonce', nonce ?? base64url.encode(crypto.getRandomValues(new Uint8Array(16)))],
  ];
}

/** Signs `components` of `message` and returns the `signature-input` and `signature` fields. */
export async function signMessage(
  components: readonly CoveredComponent[],
  params: Map<string, BareItem>,
  key: DualKey,
  alg: WimseAlgorithm,
  message: SignedMessage,
  request?: SignedMessage,
): Promise<{ 'signature-input': string; signature: string }> {
  const items: Item[] = components.map((c) => [c.name, c.req ? new Map([['req', true]]) : new Map()]);
  const member: InnerList = [items, params];
  const base = signatureBase(components, serializeInnerList(member), message, request);
  const signature = await signBase(base, key, alg);
  return {
    'signature-input': serializeDictionary(new Map([[WIMSE_SIGNATURE_LABEL, member]])),
    signature: serializeDictionary(new Map([[WIMSE_SIGNATURE_LABEL, [signature, new Map()]]])),
  };
}

/** Field names lower-cased, as signature components name them. */
export function lowerCased(headers: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) out[name.toLowerCase()] = value;
  return out;
}
