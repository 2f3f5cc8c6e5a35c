/**
 * The outbound side: a workload holding a WIT and its private key produces the headers that
 * authenticate one request (workload-creds-02 §5.1.1 + wpt-02 §2).
 */
import { decodeJwt, importJWK, type CryptoKey, type JWK, type KeyObject } from 'jose';
import { isSupportedAlgorithm, type WimseAlgorithm } from './algorithms.js';
import { createWpt } from './wpt.js';

export interface WorkloadCredentials {
  /** The workload's WIT, as issued. */
  wit: string;
  /** The private key whose public half is the WIT's `cnf.jwk` (a private JWK or an imported key). */
  privateKey: CryptoKey | KeyObject | JWK;
}

export interface WptRequestOptions {
  /** The request URL; its query and fragment are left out of `aud`. */
  url: string | URL;
  /** A Txn-Token to send and bind with `tth`. */
  txnToken?: string;
  /** Other token-carrying fields to send and bind with `oth`. */
  contextTokens?: Readonly<Record<string, string>>;
  /** WPT lifetime in seconds. Default 60. */
  lifetime?: number;
  /** Clock in ms, for tests. */
  now?: number;
}

/** Signs outgoing requests with one WIT. */
export interface WorkloadSigner {
  /** `cnf.jwk.alg` of the WIT: the algorithm of every proof. */
  readonly alg: WimseAlgorithm;
  readonly wit: string;
  /** The signing key, imported once. */
  readonly key: CryptoKey | KeyObject | Uint8Array;
  /** Headers for a WPT-authenticated request: `workload-identity-token`, `authorization` and any context tokens. */
  wptHeaders(options: WptRequestOptions): Promise<Record<string, string>>;
}

/**
 * Creates a signer for a workload's credentials.
 *
 * @example
 * const signer = await createWorkloadSigner({ wit, privateKey })
 * await fetch(url, { headers: await signer.wptHeaders({ url }) })
 */
export async function createWorkloadSigner(credentials: WorkloadCredentials): Promise<WorkloadSigner> {
  const alg = (decodeJwt(credentials.wit).cnf as { jwk?: { alg?: unknown } } | undefined)?.jwk?.alg;
  if (!isSupportedAlgorithm(alg)) throw new TypeError('WIT cnf.jwk.alg must name a supported asymmetric algorithm');
  const { privateKey } = credentials;
  const key = isJwk(privateKey) ? await importJWK(privateKey, alg) : privateKey;
  const { wit } = credentials;
  return {
    alg,
    wit,
    key,
    async wptHeaders(o) {
      const url = new URL(o.url);
      const wpt = await createWpt({
        wit,
        key,
        alg,
        aud: `${url.origin}${url.pathname}`,
        ...(o.lifetime === undefined ? {} : { lifetime: o.lifetime }),
        ...(o.txnToken === undefined ? {} : { txnToken: o.txnToken }),
        ...(o.contextTokens === undefined ? {} : { otherTokens: o.contextTokens }),
        ...(o.now === undefined ? {} : { now: o.now }),
      });
      const headers: Record<string, string> = { 'workload-identity-token': wit, authorization: `WPT ${wpt}` };
      if (o.txnToken !== undefined) headers['txn-token'] = o.txnToken;
      for (const [name, value] of Object.entries(o.contextTokens ?? {})) headers[name.toLowerCase()] = value;
      return headers;
    },
  };
}

function isJwk(k: CryptoKey | KeyObject | JWK): k is JWK {
  return typeof (k as JWK).kty === 'string';
}
