/** Hand-built JWS for negative tests: any header, any claims, any key. */
import { CompactSign, base64url, type CryptoKey, type JWK } from 'jose';

const json = (v: unknown) => base64url.encode(JSON.stringify(v));

/** Signs `claims` under `header` (which must name the real `alg` of `key`). */
export async function signJws(
  header: Record<string, unknown>,
  claims: Record<string, unknown>,
  key: CryptoKey | Uint8Array | JWK,
): Promise<string> {
  return new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
    .setProtectedHeader(header as { alg: string })
    .sign(key, { crit: Object.fromEntries(((header.crit as string[] | undefined) ?? []).map((c) => [c, true])) });
}

/** An unsecured JWS (`alg: none`). */
export function unsigned(header: Record<string, unknown>, claims: Record<string, unknown>, signature = 'AAAA'): string {
  return `${json({ ...header, alg: 'none' })}.${json(claims)}.${signature}`;
}

/** Replaces the payload of a compact JWS, keeping header and signature (tampering). */
export function withPayload(token: string, claims: Record<string, unknown>): string {
  const [h, , s] = token.split('.');
  return `${h}.${json(claims)}.${s}`;
}

export function decodePart(token: string, index: 0 | 1): Record<string, unknown> {
  return JSON.parse(new TextDecoder().decode(base64url.decode(token.split('.')[index]!))) as Record<string, unknown>;
}
