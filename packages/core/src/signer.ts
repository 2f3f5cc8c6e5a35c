/**
 * The outbound side: a workload holding a WIT and its private key produces the headers that
 * authenticate one request (workload-creds-02 §5.1.1 + wpt-02 §2).
 */
import { decodeJwt, importJWK, type CryptoKey, type JWK, type KeyObject } from 'jose';
import { isSupportedAlgorithm, type WimseAlgorithm } from './algorithms.js';
import { signHttpRequest } from './http-signature/sign.js';
import { createWpt, wptVersion, type WptTyp, type WptVersion } from './wpt.js';

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
  /**
   * Wire format: `wpt-02` (default, `Authorization: WPT`) or `wpt-01` (`Workload-Proof-Token`),
   * for a peer that still speaks draft-ietf-wimse-wpt-01.
   */
  version?: WptVersion;
  /** WPT `typ`: `wpt+jwt` (default) or `application/wpt+jwt`. */
  typ?: WptTyp;
  /** `wpt-01` only: an access token to send as `Authorization: Bearer`, bound by the WPT's `ath`. */
  accessToken?: string;
  /** Clock in ms, for tests. */
  now?: number;
}

/** What {@link WorkloadSigner.httpSigHeaders} signs (http-signature-07 §3). */
export interface HttpSigRequestOptions {
  method: string;
  /** The full request URL: `@path`, `@query` and `wimse-aud` (without query) come from it. */
  url: string | URL;
  /** Headers the request will carry; `content-type`, `authorization`, `txn-token` among them are covered. */
  headers?: Record<string, string>;
  /** The request content, exactly as sent; adds a covered `content-digest`. */
  body?: Uint8Array | string;
  /** Require a signed response (`wimse-sign-response`); check it with `createResponseVerifier`. */
  signResponse?: boolean;
  /** Further header fields to cover when present, e.g. those a service lists in `requiredSignatureComponents`. */
  coverHeaders?: readonly string[];
  /** Signature lifetime `expires - created`, in seconds. Default 60. */
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
  /**
   * Headers for a WPT-authenticated request: `workload-identity-token`, `authorization` (wpt-02)
   * or `workload-proof-token` (wpt-01, with `authorization: Bearer` when an access token is bound)
   * and any context tokens.
   */
  wptHeaders(options: WptRequestOptions): Promise<Record<string, string>>;
  /**
   * Headers for an HTTP-signature-authenticated request: `workload-identity-token`,
   * `content-digest` when there is a body, `signature-input` and `signature` (label `wimse`).
   *
   * @example
   * const added = await signer.httpSigHeaders({ method: 'POST', url, headers: { 'content-type': 'application/json' }, body })
   * await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...added } })
   */
  httpSigHeaders(options: HttpSigRequestOptions): Promise<Record<string, string>>;
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
      const version = wptVersion(o.version);
      const wpt = await createWpt({
        wit,
        key,
        alg,
        aud: `${url.origin}${url.pathname}`,
        ...(o.lifetime === undefined ? {} : { lifetime: o.lifetime }),
        ...(o.txnToken === undefined ? {} : { txnToken: o.txnToken }),
        ...(o.contextTokens === undefined ? {} : { otherTokens: o.contextTokens }),
        ...(o.now === undefined ? {} : { now: o.now }),
        version,
        ...(o.typ === undefined ? {} : { typ: o.typ }),
        ...(o.accessToken === undefined ? {} : { accessToken: o.accessToken }),
      });
      const headers: Record<string, string> = { 'workload-identity-token': wit };
      if (version === 'wpt-02') headers.authorization = `WPT ${wpt}`;
      else {
        headers['workload-proof-token'] = wpt;
        if (o.accessToken !== undefined) headers.authorization = `Bearer ${o.accessToken}`;
      }
      if (o.txnToken !== undefined) headers['txn-token'] = o.txnToken;
      for (const [name, value] of Object.entries(o.contextTokens ?? {})) headers[name.toLowerCase()] = value;
      return headers;
    },
    async httpSigHeaders(o) {
      if (key instanceof Uint8Array) throw new TypeError('HTTP signatures need an asymmetric private key');
      return signHttpRequest({ ...o, wit, key, alg });
    },
  };
}

function isJwk(k: CryptoKey | KeyObject | JWK): k is JWK {
  return typeof (k as JWK).kty === 'string';
}
