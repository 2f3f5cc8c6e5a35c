/**
 * Public key rules: which keys this library trusts, or issues a WIT for. A key that imports fine
 * can still be degenerate, and then a "signature" verifies without any private key, so proof of
 * possession proves nothing. One rule set, used for WIT `cnf.jwk` (verification and issuance),
 * issuer keys, and certificate keys:
 *
 * - Ed25519 / Ed448 (RFC 8037 §2, RFC 8032 §5.1.3 / §5.2.3): the encoding is canonical (y < p) and
 *   the point is not of small order. With a small-order key A, R = identity and S = 0 satisfy the
 *   verification equation for every message (Ed25519: always for the identity, for 1 message in
 *   ord(A) otherwise), and OpenSSL does not check this.
 * - RSA (RFC 7518 §3.3 / §3.5: 2048 bits or larger; FIPS 186-5 §A.1.1 and NIST SP 800-56B Rev. 2
 *   §6.2.1: e odd and 65537 ≤ e < 2^256): with e = 1 the signature is the encoded message itself.
 *   The standard range rather than exactly 65537: it refuses e = 1, 3 and even e, and every key a
 *   FIPS-conformant generator makes still works. n is odd and at most 16384 bits (the largest
 *   modulus OpenSSL verifies with, which also bounds the work an untrusted key can cause). Leading
 *   zero octets (RFC 7518 §6.3.1.1 forbids them, some issuers still send them) do not count.
 * - EC (SEC 1 §3.2.2.1): the point lies on the named curve. Node and Web Crypto refuse other points
 *   when the key is imported (public-key.test.ts proves it), and every key checked here is imported
 *   before use, so this module checks the curve and the coordinate sizes only.
 *
 * The rules run on the JWK (jose `base64url`, `BigInt`), so they work on every runtime.
 */
import { base64url, exportJWK, type CryptoKey, type JWK, type KeyObject } from 'jose';
import { nodeCrypto, type NodeKeyObject } from './node-crypto.js';

// RFC 7518 §3.3: "A key of size 2048 bits or larger MUST be used".
const MIN_RSA_BITS = 2048;
const MAX_RSA_BITS = 16_384;
const MIN_RSA_EXPONENT = 65_537n;
const MAX_RSA_EXPONENT_BITS = 256;

const ED25519_P = 2n ** 255n - 19n;
const ED448_P = 2n ** 448n - 2n ** 224n - 1n;
// y-coordinates of the small-order points of edwards25519: 1 (identity), p-1 (order 2), 0 (order 4),
// ±y8 (order 8). With the sign bit ignored, these are the seven encodings libsodium blocks
// (`ge25519_has_small_order`) once non-canonical ones (y ≥ p) are refused.
const ED25519_Y8 = 0x7a03ac9277fdc74ec6cc392cfa53202a0f67100d760b3cba4fd84d3d706a17c7n;
const ED25519_SMALL_ORDER_Y = new Set([0n, 1n, ED25519_P - 1n, ED25519_Y8, ED25519_P - ED25519_Y8]);
// edwards448 has cofactor 4: its small-order points are (0, 1), (0, -1) and (±1, 0).
const ED448_SMALL_ORDER_Y = new Set([0n, 1n, ED448_P - 1n]);

const EDWARDS_CURVES: Readonly<Record<string, { p: bigint; size: number; smallOrderY: ReadonlySet<bigint> }>> = {
  Ed25519: { p: ED25519_P, size: 32, smallOrderY: ED25519_SMALL_ORDER_Y },
  Ed448: { p: ED448_P, size: 57, smallOrderY: ED448_SMALL_ORDER_Y },
};
const EC_COORDINATE_BYTES: Readonly<Record<string, number>> = { 'P-256': 32, 'P-384': 48, 'P-521': 66 };

/**
 * Why a public JWK must not be trusted, or `undefined` when it passes the rules above. Only the
 * key material is judged: `alg`, `use` and private members are checked by the callers.
 *
 * @example
 * const flaw = publicKeyFlaw(jwk)
 * if (flaw !== undefined) throw new TypeError(`jwk: ${flaw}`)
 */
export function publicKeyFlaw(jwk: JWK): string | undefined {
  switch (jwk.kty) {
    case 'RSA':
      return rsaJwkFlaw(jwk);
    case 'OKP':
      return edwardsFlaw(jwk);
    case 'EC': {
      const size = EC_COORDINATE_BYTES[String(jwk.crv)];
      if (size === undefined) return `curve ${String(jwk.crv)} is not supported`;
      if (octets(jwk.x)?.length !== size || octets(jwk.y)?.length !== size)
        return `x and y must be ${size}-octet coordinates on ${jwk.crv}`;
      return undefined;
    }
    default:
      return `key type ${String(jwk.kty)} is not supported`;
  }
}

function rsaJwkFlaw(jwk: JWK): string | undefined {
  const n = octets(jwk.n);
  const e = octets(jwk.e);
  if (n === undefined || e === undefined || n.length === 0 || e.length === 0) return 'RSA n and e must be base64url integers';
  const first = n.findIndex((b) => b !== 0);
  if (first === -1 || (n[n.length - 1]! & 1) === 0) return 'RSA modulus must be odd';
  const bits = (n.length - first) * 8 - (Math.clz32(n[first]!) - 24);
  return rsaFlaw(bits, toBigInt(e));
}

function rsaFlaw(bits: number, e: bigint): string | undefined {
  if (bits < MIN_RSA_BITS) return `RSA modulus has ${bits} bits; at least ${MIN_RSA_BITS} are required`;
  if (bits > MAX_RSA_BITS) return `RSA modulus has ${bits} bits; at most ${MAX_RSA_BITS} are accepted`;
  if (e < MIN_RSA_EXPONENT || e % 2n === 0n || e >> BigInt(MAX_RSA_EXPONENT_BITS) !== 0n) {
    return 'RSA public exponent must be odd, at least 65537 and below 2^256';
  }
  return undefined;
}

function edwardsFlaw(jwk: JWK): string | undefined {
  const curve = EDWARDS_CURVES[String(jwk.crv)];
  if (curve === undefined) return `curve ${String(jwk.crv)} is not a signature curve`;
  const x = octets(jwk.x);
  if (x?.length !== curve.size) return `${jwk.crv} public keys are ${curve.size} octets`;
  // RFC 8032 §5.1.3 / §5.2.3 step 1: little-endian; the top bit is the sign of x, the rest is y.
  const y = toBigInt(x.slice().reverse()) & ((1n << BigInt(curve.size * 8 - 1)) - 1n);
  if (y >= curve.p) return `${jwk.crv} public key is not canonically encoded`;
  if (curve.smallOrderY.has(y)) return `${jwk.crv} public key is a point of small order`;
  return undefined;
}

/**
 * Why a key that will verify signatures (an issuer key from a resolver or a JWKS) must not be
 * trusted, or `undefined`. Keys are judged once each (by object identity).
 */
export function verificationKeyFlaw(key: CryptoKey | KeyObject | JWK | Uint8Array): Promise<string | undefined> {
  let hit = judged.get(key);
  if (hit === undefined) judged.set(key, (hit = judge(key)));
  return hit;
}

const judged = new WeakMap<object, Promise<string | undefined>>();

async function judge(key: CryptoKey | KeyObject | JWK | Uint8Array): Promise<string | undefined> {
  if (key instanceof Uint8Array) return 'a shared secret is not a public key';
  if (isNodeKeyObject(key)) return keyObjectFlaw(key as unknown as NodeKeyObject);
  if (!isCryptoKey(key)) return publicKeyFlaw(key as JWK);
  if (key.type !== 'public') return 'not a public key';
  if (key.extractable) return publicKeyFlaw(await exportJWK(key));
  // A non-extractable Web Crypto key: Node can still read it; elsewhere only RSA sizes are visible.
  const node = nodeCrypto();
  if (node !== undefined) return keyObjectFlaw(node.KeyObject.from(key as Parameters<typeof node.KeyObject.from>[0]));
  const { modulusLength, publicExponent } = key.algorithm as Partial<RsaHashedKeyAlgorithm>;
  if (modulusLength !== undefined && publicExponent !== undefined) return rsaFlaw(modulusLength, toBigInt(publicExponent));
  return 'the key is not extractable, so it cannot be checked';
}

/**
 * Why a Node `KeyObject` (a certificate's public key) must not be trusted, or `undefined`.
 * RSA-PSS keys have no JWK form in Node: their size and exponent are checked.
 */
export function keyObjectFlaw(key: NodeKeyObject): string | undefined {
  if (key.type !== 'public') return 'not a public key';
  const type = key.asymmetricKeyType;
  if (type === 'rsa-pss') {
    const details = key.asymmetricKeyDetails ?? {};
    return rsaFlaw(details.modulusLength ?? 0, details.publicExponent ?? 0n);
  }
  if (type !== 'rsa' && type !== 'ec' && type !== 'ed25519' && type !== 'ed448') return `key type ${String(type)} is not supported`;
  let jwk: JWK;
  try {
    jwk = key.export({ format: 'jwk' }) as JWK;
  } catch {
    return `the ${type} key has no JWK form (unsupported curve)`;
  }
  return publicKeyFlaw(jwk);
}

// RFC 7515 §2: base64url without padding; anything else might decode differently elsewhere.
const BASE64URL_RE = /^[A-Za-z0-9_-]*$/;

function octets(value: unknown): Uint8Array | undefined {
  if (typeof value !== 'string' || !BASE64URL_RE.test(value)) return undefined;
  try {
    return base64url.decode(value);
  } catch {
    return undefined;
  }
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function toBigInt(bytes: Uint8Array): bigint {
  let hex = '0x0';
  for (const b of bytes) hex += HEX[b]!;
  return BigInt(hex);
}

function isNodeKeyObject(k: object): boolean {
  return (
    typeof (k as { asymmetricKeyType?: unknown }).asymmetricKeyType === 'string' && typeof (k as { export?: unknown }).export === 'function'
  );
}

function isCryptoKey(k: object): k is CryptoKey {
  return (
    typeof (k as CryptoKey).algorithm === 'object' &&
    typeof (k as CryptoKey).extractable === 'boolean' &&
    typeof (k as CryptoKey).type === 'string'
  );
}
