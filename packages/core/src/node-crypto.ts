/**
 * The seam to Node's crypto for the one fast path (proof-jws.ts). No static `node:` import, so
 * the core still loads on Web-standard runtimes, where this returns `undefined`.
 */
import { base64url } from 'jose';

type NodeCrypto = typeof import('node:crypto');
export type NodeKeyObject = import('node:crypto').KeyObject;

let cached: NodeCrypto | null | undefined;
let signatures: NodeCrypto | null | undefined;

/** `node:crypto` when running on Node (≥ 20.16 has `process.getBuiltinModule`), else `undefined`. */
export function nodeCrypto(): NodeCrypto | undefined {
  if (cached === undefined) {
    const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
    cached = (proc?.getBuiltinModule?.('node:crypto') as NodeCrypto | undefined) ?? null;
  }
  return cached ?? undefined;
}

/**
 * `node:crypto` for the signature fast path (jws-algorithm.ts, proof-key.ts): on Node only, and only
 * when it verifies as Node's does; `undefined` sends that path to Web Crypto. Other runtimes ship a
 * `node:crypto` of their own. workerd's (2026-11-17, with or without `nodejs_compat`) refuses a
 * `KeyObject` inside the options object (`{ key, dsaEncoding }`), so every valid proof failed there;
 * Bun's and Deno's verify correctly but slower than their own Web Crypto (`pnpm bench`), so the fast
 * path would be the slow one there. Checked once, with the call shapes the fast path uses, on
 * published vectors.
 */
export function nodeSignatures(): NodeCrypto | undefined {
  if (signatures === undefined) {
    const node = nodeCrypto();
    const versions = (globalThis as { process?: { versions?: Readonly<Record<string, string | undefined>> } }).process?.versions;
    signatures = node !== undefined && isNode(versions) && verifiesLikeNode(node) ? node : null;
  }
  return signatures ?? undefined;
}

/** True for Node's own `process.versions`: Bun and Deno list `node` too, beside their own name. Exported for the tests. */
export function isNode(versions: Readonly<Record<string, string | undefined>> | undefined): boolean {
  return typeof versions?.node === 'string' && versions.bun === undefined && versions.deno === undefined;
}

// RFC 7515 §A.3 (ES256, signature as raw r‖s) and RFC 8037 §A.4 (Ed25519): public key, signing input, signature.
const VECTORS = [
  {
    jwk: { kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0' },
    hash: 'sha256',
    options: { dsaEncoding: 'ieee-p1363' as const },
    input: 'eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ',
    signature: 'DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q',
  },
  {
    jwk: { kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' },
    hash: null,
    options: {},
    input: 'eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc',
    signature: 'hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg',
  },
];

/**
 * True when `node` accepts each vector's signature and refuses it over other data, given a
 * `KeyObject` from the JWK inside the options object (as jws-algorithm.ts calls it).
 * Exported for the tests.
 */
export function verifiesLikeNode(node: NodeCrypto): boolean {
  const ascii = new TextEncoder();
  try {
    return VECTORS.every((v) => {
      const key = node.createPublicKey({ key: v.jwk, format: 'jwk' });
      const signature = base64url.decode(v.signature);
      const valid = node.verify(v.hash, ascii.encode(v.input), { key, ...v.options }, signature);
      const forged = node.verify(v.hash, ascii.encode(`${v.input}x`), { key, ...v.options }, signature);
      return valid && !forged;
    });
  } catch {
    return false;
  }
}
