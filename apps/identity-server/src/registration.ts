/**
 * Demo-grade registration: a workload names itself and sends its public key; if the name is on
 * the allow-list it gets a WIT for `spiffe://<trust domain>/<name>` bound to that key.
 *
 * This proves nothing about the caller. Real issuance attests the workload first (SPIFFE/SPIRE
 * node and workload attestation, a cloud instance identity, a Kubernetes service account token).
 */
import { createPublicKey } from 'node:crypto';
import { hasPrivateMembers, isSupportedAlgorithm, keyMismatch, publicKeyFlaw, type WimseAlgorithm } from '@wimse/core';
import type { JWK } from 'jose';
import { Problem } from './problem.js';

export interface Registration {
  workload: string;
  /** The confirmation key for the WIT: public members only, plus `alg`. */
  cnfJwk: JWK & { alg: WimseAlgorithm };
}

const NAME_RE = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** Validates a `POST /wit` body. Throws a {@link Problem} naming what is wrong. */
export function parseRegistration(body: unknown, allowed: ReadonlySet<string>): Registration {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new Problem('json_invalid', 'Send {"workload": "<name>", "jwk": {<public JWK with alg>}}');
  const { workload, jwk } = body as { workload?: unknown; jwk?: unknown };
  if (typeof workload !== 'string' || !NAME_RE.test(workload))
    throw new Problem('workload_invalid', 'workload must be a short lower-case name, e.g. "express-demo"');
  if (!allowed.has(workload)) throw new Problem('workload_unknown', `Workload "${workload}" is not on this identity server's allow-list`);
  return { workload, cnfJwk: workloadPublicKey(jwk) };
}

/**
 * A workload's public key for `cnf.jwk`, checked as the core checks proof keys (public only, `alg`
 * fits the key, on the curve, no degenerate key) and reduced to its defining members plus `alg`.
 * Throws a {@link Problem} naming what is wrong. Used by `POST /wit` and by the token exchange.
 */
export function workloadPublicKey(jwk: unknown): JWK & { alg: WimseAlgorithm } {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) throw new Problem('jwk_invalid', 'jwk must be a JSON Web Key object');
  // Refuse rather than strip: a caller that sent its private key must learn that it leaked it.
  if (hasPrivateMembers(jwk))
    throw new Problem('jwk_private', 'jwk carries private key material; send only the public key (and replace this key pair)');
  const { alg } = jwk as { alg?: unknown };
  if (!isSupportedAlgorithm(alg)) throw new Problem('jwk_alg', 'jwk.alg must be one of the supported asymmetric algorithms, e.g. ES256');
  const mismatch = keyMismatch(jwk as JWK, alg);
  if (mismatch !== undefined) throw new Problem('jwk_invalid', `jwk: ${mismatch}`);
  let exported: JWK;
  try {
    // The import refuses EC points off the curve; the export keeps only the defining members.
    exported = createPublicKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' }).export({ format: 'jwk' }) as JWK;
  } catch {
    throw new Problem('jwk_invalid', 'jwk could not be imported as a public key');
  }
  // The core's rules (small-order points, RSA size and exponent): a WIT for such a key proves nothing.
  const flaw = publicKeyFlaw(exported);
  if (flaw !== undefined) throw new Problem('jwk_invalid', `jwk: ${flaw}`);
  // Only the members that define the key, so nothing the caller made up lands in the WIT.
  return { ...exported, alg };
}
