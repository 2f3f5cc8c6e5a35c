/**
 * JWS signature algorithms (RFC 7518 §3) over raw bytes, shared by WPT verification (proof-jws.ts)
 * and HTTP signatures (RFC 9421 §3.3.7, as http-signature-07 §3.1 requires: the signature is the
 * JWS signature for `cnf.jwk.alg`, for ECDSA the raw `r‖s` form).
 * Web Crypto everywhere; on Node the cached `KeyObject` and synchronous `node:crypto` (about twice
 * the rate there, see `pnpm bench`), which the differential tests check against Web Crypto and jose.
 */
import { importJWK, type CryptoKey, type JWK, type KeyObject } from 'jose';
import type { WimseAlgorithm } from './algorithms.js';
import type { MaybePromise } from './maybe-async.js';
import { nodeSignatures, type NodeKeyObject } from './node-crypto.js';

interface AlgorithmParams {
  readonly web: AlgorithmIdentifier | EcdsaParams | RsaPssParams;
  readonly hash: string | null;
  readonly options: Readonly<Record<string, unknown>>;
}

const P1363 = { dsaEncoding: 'ieee-p1363' };
// RFC 7518 §3.5: the PSS salt length equals the hash length.
const PSS = { padding: 6 /* RSA_PKCS1_PSS_PADDING */, saltLength: -1 /* RSA_PSS_SALTLEN_DIGEST */ };
const PARAMS: Record<WimseAlgorithm, AlgorithmParams> = {
  ES256: { web: { name: 'ECDSA', hash: 'SHA-256' }, hash: 'sha256', options: P1363 },
  ES384: { web: { name: 'ECDSA', hash: 'SHA-384' }, hash: 'sha384', options: P1363 },
  ES512: { web: { name: 'ECDSA', hash: 'SHA-512' }, hash: 'sha512', options: P1363 },
  EdDSA: { web: { name: 'Ed25519' }, hash: null, options: {} },
  Ed25519: { web: { name: 'Ed25519' }, hash: null, options: {} },
  RS256: { web: { name: 'RSASSA-PKCS1-v1_5' }, hash: 'sha256', options: {} },
  RS384: { web: { name: 'RSASSA-PKCS1-v1_5' }, hash: 'sha384', options: {} },
  RS512: { web: { name: 'RSASSA-PKCS1-v1_5' }, hash: 'sha512', options: {} },
  PS256: { web: { name: 'RSA-PSS', saltLength: 32 }, hash: 'sha256', options: PSS },
  PS384: { web: { name: 'RSA-PSS', saltLength: 48 }, hash: 'sha384', options: PSS },
  PS512: { web: { name: 'RSA-PSS', saltLength: 64 }, hash: 'sha512', options: PSS },
};

/** A key for Web Crypto, for `node:crypto` (where node-crypto.ts `nodeSignatures` allows it), or both; used through `nodeKey` when that path is on. */
export interface DualKey {
  readonly key?: CryptoKey | undefined;
  readonly nodeKey?: NodeKeyObject | undefined;
}

const ascii = new TextEncoder();

/** Signs a signature base (or JWS signing input) under JWS algorithm `alg`. */
export async function signBase(base: string, key: DualKey, alg: WimseAlgorithm): Promise<Uint8Array<ArrayBuffer>> {
  const p = PARAMS[alg];
  const data = ascii.encode(base);
  const node = key.nodeKey === undefined ? undefined : nodeSignatures();
  if (node !== undefined) return new Uint8Array(node.sign(p.hash, data, { key: key.nodeKey!, ...p.options }));
  if (key.key === undefined) throw new TypeError('No Web Crypto key to sign with');
  return new Uint8Array(await crypto.subtle.sign(p.web, key.key, data));
}

/**
 * True when `signature` is a valid `alg` signature by `key` over the signature base (or JWS signing
 * input): answered now on the `node:crypto` path, as a promise on Web Crypto. Never throws.
 */
export function verifyBase(base: string, signature: Uint8Array, key: DualKey, alg: WimseAlgorithm): MaybePromise<boolean> {
  const p = PARAMS[alg];
  try {
    const node = key.nodeKey === undefined ? undefined : nodeSignatures();
    // RFC 8017 §8.1.2, §8.2.2 step 1: an RSA signature is exactly k octets. OpenSSL (behind both
    // paths on Node) also accepts one with its leading zero octet dropped: refuse that malleability.
    if ((alg[0] === 'R' || alg[0] === 'P') && signature.length * 8 !== rsaModulusBits(key)) return false;
    if (node !== undefined) return node.verify(p.hash, scratchBytes(base), nodeOptions(key.nodeKey!, alg), signature);
    if (key.key === undefined) return false;
    return crypto.subtle.verify(p.web, key.key, signature as Uint8Array<ArrayBuffer>, ascii.encode(base)).catch(cannotVerify);
  } catch {
    return cannotVerify();
  }
}

// The per-request path allocates neither the bytes of the base nor the options object. node:crypto
// verifies synchronously, reading the bytes before it returns, so one buffer serves every call;
// Web Crypto (asynchronous) always gets bytes of its own.
let scratch = new Uint8Array(4096);
const MAX_SCRATCH = 64 * 1024;

function scratchBytes(base: string): Uint8Array {
  // UTF-8 takes at most 3 bytes per UTF-16 code unit.
  if (base.length * 3 > scratch.length) {
    if (base.length * 3 > MAX_SCRATCH) return ascii.encode(base);
    scratch = new Uint8Array(base.length * 3);
  }
  return scratch.subarray(0, ascii.encodeInto(base, scratch).written);
}

type NodeVerifyOptions = import('node:crypto').VerifyKeyObjectInput;
const optionsByKey = new WeakMap<NodeKeyObject, Partial<Record<WimseAlgorithm, NodeVerifyOptions>>>();

function nodeOptions(nodeKey: NodeKeyObject, alg: WimseAlgorithm): NodeVerifyOptions {
  let byAlg = optionsByKey.get(nodeKey);
  if (byAlg === undefined) optionsByKey.set(nodeKey, (byAlg = {}));
  return (byAlg[alg] ??= Object.freeze({ key: nodeKey, ...PARAMS[alg].options }) as NodeVerifyOptions);
}

// A key that does not fit, or a signature of the wrong shape, cannot verify.
const cannotVerify = (): false => false;

function rsaModulusBits(key: DualKey): number | undefined {
  return key.nodeKey?.asymmetricKeyDetails?.modulusLength ?? (key.key?.algorithm as { modulusLength?: number } | undefined)?.modulusLength;
}

const signingKeys = new WeakMap<object, Map<WimseAlgorithm, Promise<DualKey>>>();

/**
 * The private key for `alg` from a private JWK, a Web Crypto key or a Node `KeyObject`,
 * converted once per key object (a `KeyObject` through its JWK export, so no Node import here).
 */
export function signingKey(key: CryptoKey | KeyObject | JWK | Uint8Array, alg: WimseAlgorithm): Promise<DualKey> {
  if (key instanceof Uint8Array) return Promise.reject(new TypeError('HTTP signatures need an asymmetric private key, not a secret'));
  let byAlg = signingKeys.get(key);
  if (byAlg === undefined) signingKeys.set(key, (byAlg = new Map()));
  let hit = byAlg.get(alg);
  if (hit === undefined) byAlg.set(alg, (hit = dualKey(key, alg)));
  return hit;
}

async function dualKey(key: CryptoKey | KeyObject | JWK, alg: WimseAlgorithm): Promise<DualKey> {
  let web: CryptoKey;
  if (isKeyObject(key)) web = (await importJWK((key as unknown as ExportableKey).export({ format: 'jwk' }), alg)) as CryptoKey;
  else if (isJwk(key)) web = (await importJWK(key, alg)) as CryptoKey;
  else web = key as CryptoKey;
  const node = nodeSignatures();
  return node === undefined ? { key: web } : { key: web, nodeKey: node.KeyObject.from(web) };
}

// A Node KeyObject, recognised by shape so this module needs no Node import.
interface ExportableKey {
  export(options: { format: 'jwk' }): JWK;
}

function isKeyObject(k: object): boolean {
  return (
    typeof (k as { export?: unknown }).export === 'function' && typeof (k as { asymmetricKeyType?: unknown }).asymmetricKeyType === 'string'
  );
}

function isJwk(k: object): k is JWK {
  return typeof (k as JWK).kty === 'string';
}
