/**
 * The workload side of attested WIT issuance (identity server `POST /token`): the platform token
 * says who the workload is, a DPoP proof (RFC 9449) shows it holds the key the WIT will confirm.
 * Each WIT gets a fresh key pair (workload-creds-02 §9: the key SHOULD be regenerated per WIT).
 *
 * @example
 * createWimseFetch({ credentials: attestedCredentials({
 *   identityUrl: 'http://127.0.0.1:3000',
 *   platformToken: platformTokenFile('/var/run/secrets/tokens/wimse'),
 * }) })
 */
import { readFile } from 'node:fs/promises';
import {
  TOKEN_EXCHANGE_GRANT_TYPE,
  TOKEN_TYPES,
  readTokenExchangeResponse,
  type WimseAlgorithm,
  type WorkloadCredentials,
} from '@wimse/core';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';

export interface AttestedCredentialsOptions {
  /** The identity server's base URL; its token endpoint is `<identityUrl>/token`. */
  identityUrl: string;
  /** The current platform token (read anew for every WIT: the platform rotates it). */
  platformToken: () => Promise<string>;
  /** Algorithm of the workload key. Default `ES256`. */
  alg?: WimseAlgorithm;
  fetch?: typeof globalThis.fetch;
}

/** A `credentials` function for `createWimseFetch`: one token exchange per call. */
export function attestedCredentials(o: AttestedCredentialsOptions): () => Promise<WorkloadCredentials> {
  const tokenUrl = `${o.identityUrl.replace(/\/+$/, '')}/token`;
  const alg = o.alg ?? 'ES256';
  const fetchImpl = o.fetch ?? globalThis.fetch;
  return async () => {
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
    const proof = await new SignJWT({ htm: 'POST', htu: tokenUrl })
      .setProtectedHeader({ alg, typ: 'dpop+jwt', jwk: await exportJWK(publicKey) })
      .setJti(crypto.randomUUID())
      .setIssuedAt()
      .sign(privateKey);
    const body = new URLSearchParams({
      grant_type: TOKEN_EXCHANGE_GRANT_TYPE,
      subject_token: await o.platformToken(),
      subject_token_type: TOKEN_TYPES.jwt,
      requested_token_type: TOKEN_TYPES.wit,
    });
    const res = await fetchImpl(tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: proof, accept: 'application/json' },
      body,
    });
    const { access_token } = await readTokenExchangeResponse(res, TOKEN_TYPES.wit);
    return { wit: access_token, privateKey };
  };
}

/** The platform token from a file, as Kubernetes projects it into the pod (re-read each time). */
export function platformTokenFile(path: string): () => Promise<string> {
  return async () => (await readFile(path, 'utf8')).trim();
}

/**
 * A token from the identity server's STAND-IN Kubernetes service account issuer (demo only: it
 * hands a token to anyone who asks) via its TokenRequest path.
 */
export function standInPlatformToken(o: {
  platformUrl: string;
  namespace: string;
  serviceAccount: string;
  audience: string;
  fetch?: typeof globalThis.fetch;
}): () => Promise<string> {
  const fetchImpl = o.fetch ?? globalThis.fetch;
  const url = `${o.platformUrl.replace(/\/+$/, '')}/api/v1/namespaces/${encodeURIComponent(o.namespace)}/serviceaccounts/${encodeURIComponent(o.serviceAccount)}/token`;
  return async () => {
    const res = await fetchImpl(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ spec: { audiences: [o.audience] } }),
    });
    const body = (await res.json().catch(() => ({}))) as { status?: { token?: unknown } };
    if (!res.ok || typeof body.status?.token !== 'string')
      throw new Error(`Stand-in platform refused a token for ${o.namespace}/${o.serviceAccount} (HTTP ${res.status})`);
    return body.status.token;
  };
}
