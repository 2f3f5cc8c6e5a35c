/**
 * The outbound client: a `fetch`-compatible function for a workload. It holds a proof key pair,
 * obtains a WIT bound to it (workload-creds-02 §5.1: `cnf.jwk`) or reads both from elsewhere,
 * renews them before the WIT expires, and authenticates every request with a WPT (wpt-02 §2) or an HTTP signature
 * (http-signature-07 §3), optionally carrying a Txn-Token bound to the proof.
 */
import { calculateJwkThumbprint, decodeJwt, exportJWK, generateKeyPair, type JWK } from 'jose';
import { typMatches, type WimseAlgorithm } from './algorithms.js';
import { WimseError } from './errors.js';
import { createResponseVerifier, findWimseSignature, type ResponseVerifierOptions, type VerifiedResponse } from './http-signature/index.js';
import { headersOf } from './request.js';
import { createWorkloadSigner, type WorkloadCredentials, type WorkloadSigner } from './signer.js';
import { WPT_TYP, wptVersion, type WptTyp, type WptVersion } from './wpt.js';

/** A WIT's public confirmation key, as sent to an identity server. */
export type PublicProofJwk = Readonly<JWK & { alg: WimseAlgorithm }>;

/**
 * Where WITs come from: given the workload's new public key, resolve to a WIT whose `cnf.jwk` is
 * that key. Platform-specific in production (SPIFFE Workload API, a cloud metadata service);
 * {@link identityServerWitSource} speaks to this project's demo identity server.
 */
export type WitSource = (publicJwk: PublicProofJwk) => Promise<string>;

/** The proofs an outbound request can carry. */
export type OutboundProof = 'wpt' | 'http-sig';

/** How WPTs go on the wire: the current draft by default, or the form an older peer expects. */
export interface WptWireOptions {
  /** `wpt-02` (default, `Authorization: WPT`) or `wpt-01` (`Workload-Proof-Token` field). */
  version?: WptVersion;
  /** WPT `typ`: `wpt+jwt` (default) or the media-type form `application/wpt+jwt`. */
  typ?: WptTyp;
}

/** Per-call options, passed as `init.wimse`. */
export interface WimseCallOptions {
  /** Proof for this call; default: the client's `proof`. */
  proof?: OutboundProof;
  /** A Txn-Token to send, bound by the WPT `tth` or covered by the signature. */
  txnToken?: string;
  /** Other token-carrying fields to send and bind (WPT `oth`). */
  contextTokens?: Readonly<Record<string, string>>;
  /** Further header fields the HTTP signature covers (a service's `requiredSignatureComponents`); default: the client's. */
  coverHeaders?: readonly string[];
  /** WPT wire format for this call; default: the client's `wpt`. */
  wpt?: WptWireOptions;
  /**
   * wpt-01 only: an access token sent as `Authorization: Bearer` and bound by `ath`. A Bearer
   * `Authorization` already on the request is bound the same way.
   */
  accessToken?: string;
  /**
   * Require the callee to sign its response (`wimse-sign-response`, HTTP signatures only). The
   * client then refuses, with a `WimseError`, any response that is unsigned or fails verification
   * with `responseTrust`, whatever its status (http-signature-07 §3.5; the draft's own examples are
   * a signed 404 and 409). Without it, a response that carries a WIMSE signature is still verified.
   */
  signResponse?: boolean;
  /** Who must have signed the response, as workload patterns; default: the client's `expectResponder`. */
  expectResponder?: string | readonly string[];
}

/** `fetch`'s `RequestInit`, plus the WIMSE call options. */
export interface WimseRequestInit extends RequestInit {
  wimse?: WimseCallOptions;
}

export interface WimseFetchOptions {
  /** Obtains a WIT for a key pair the client generates (and replaces at each renewal). */
  witSource?: WitSource;
  /**
   * Or: WIT and private key managed elsewhere (files written by a SPIFFE helper, a secret store).
   * Called again whenever the WIT is due for renewal. Give `witSource` or `credentials`, not both.
   */
  credentials?: () => WorkloadCredentials | Promise<WorkloadCredentials>;
  /** Algorithm of the generated proof key pair (`witSource` only). Default `ES256`. */
  alg?: WimseAlgorithm;
  /** Default proof. Default `wpt`. */
  proof?: OutboundProof;
  /** Further header fields every HTTP signature covers when the request carries them, e.g. `['x-tenant']`. */
  coverHeaders?: readonly string[];
  /** WPT wire format, e.g. `{ version: 'wpt-01', typ: 'application/wpt+jwt' }` for a peer on wpt-01. Default: wpt-02. */
  wpt?: WptWireOptions;
  /** Renew this many seconds before the WIT expires. Default: a fifth of its lifetime, at least 5 s. */
  renewBefore?: number;
  /**
   * When a callee rejects the WIT itself (its issuer key was retired, or it expired early), get a
   * new WIT and send the request once more. Safe: the callee rejected it before handling it. Default `true`.
   */
  retryOnWitRejection?: boolean;
  /**
   * Trust for verifying signed responses (http-signature-07 §3.5); required for `signResponse`
   * calls and to accept a signed response at all. Its `replayStore` remembers response nonces.
   */
  responseTrust?: ResponseVerifierOptions;
  /**
   * Workloads that may sign responses to this client's calls (patterns: exact, `…/prefix/*` or a
   * trust domain `spiffe://example.org`); a response signed by another is refused. Per call: `wimse.expectResponder`.
   */
  expectResponder?: string | readonly string[];
  /**
   * Send WITs and proofs over plain `http:` to hosts that are not loopback. Default `false`: such a
   * call throws a `TypeError` before anything is sent (a WIT is a credential; a proof only binds a
   * request, it does not hide the token).
   */
  allowInsecureTransport?: boolean;
  /** The underlying fetch. Default `globalThis.fetch`. */
  fetch?: typeof globalThis.fetch;
  /** Clock in ms, for tests. */
  now?: () => number;
}

/** A `fetch` that authenticates as a workload. */
export interface WimseFetch {
  (input: RequestInfo | URL, init?: WimseRequestInit): Promise<Response>;
  /** The signer for the current WIT, renewing it first when it is due. */
  signer(): Promise<WorkloadSigner>;
  /** Replaces key pair and WIT now. */
  renew(): Promise<WorkloadSigner>;
  /** The workload that signed `response`, for responses whose WIMSE signature was verified; otherwise `undefined`. */
  responder(response: Response): VerifiedResponse | undefined;
}

const NULL_BODY_STATUSES = new Set([101, 204, 205, 304]);

// Problems that say "your WIT", not "your request": a fresh WIT may succeed.
const WIT_REJECTIONS = new Set(['wit_key_unknown', 'wit_signature', 'wit_expired']);

/**
 * Creates a workload's `fetch`. Redirects are not followed unless `init.redirect` is `'follow'`:
 * a proof is bound to one target, so each hop is then a request of its own, with the TLS check and
 * a proof for its target (and without a bearer `Authorization` on a hop to another origin).
 *
 * @example
 * const wimseFetch = createWimseFetch({
 *   witSource: identityServerWitSource({ url: 'http://127.0.0.1:3000', workload: 'client' }),
 * })
 * const res = await wimseFetch('http://127.0.0.1:3001/echo', {
 *   method: 'POST', body: JSON.stringify({ hi: 1 }), headers: { 'content-type': 'application/json' },
 *   wimse: { proof: 'http-sig' },
 * })
 */
export function createWimseFetch(options: WimseFetchOptions): WimseFetch {
  if ((typeof options?.witSource === 'function') === (typeof options?.credentials === 'function')) {
    throw new TypeError('createWimseFetch: give either a witSource or a credentials function');
  }
  const alg = options.alg ?? 'ES256';
  const defaultProof = options.proof ?? 'wpt';
  const defaultWire = wptWire(options.wpt);
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const now = options.now ?? Date.now;
  const retry = options.retryOnWitRejection ?? true;
  let current: { signer: WorkloadSigner; renewAt: number; exp: number } | undefined;
  let pending: Promise<WorkloadSigner> | undefined;
  const responses = options.responseTrust === undefined ? undefined : createResponseVerifier(options.responseTrust);
  const allowInsecure = options.allowInsecureTransport ?? false;
  if (typeof allowInsecure !== 'boolean') throw new TypeError('allowInsecureTransport must be a boolean');
  const responders = new WeakMap<Response, VerifiedResponse>();

  function renew(): Promise<WorkloadSigner> {
    pending ??= obtain().finally(() => {
      pending = undefined;
    });
    return pending;
  }

  async function obtain(): Promise<WorkloadSigner> {
    const credentials = options.witSource === undefined ? await options.credentials!() : await fromWitSource(options.witSource, alg);
    const claims = decodeWitClaims(credentials.wit);
    const signer = await createWorkloadSigner(credentials);
    const exp = claims.exp * 1000;
    const issued = typeof claims.iat === 'number' ? claims.iat * 1000 : now();
    const before = options.renewBefore === undefined ? Math.max((exp - issued) / 5, 5000) : options.renewBefore * 1000;
    current = { signer, exp, renewAt: exp - before };
    return signer;
  }

  async function signer(): Promise<WorkloadSigner> {
    const t = now();
    if (current !== undefined && t < current.renewAt) return current.signer;
    try {
      return await renew();
    } catch (e) {
      // A renewal that fails while the WIT is still valid is not yet a reason to fail calls.
      if (current !== undefined && t < current.exp - 1000) return current.signer;
      throw e;
    }
  }

  const wimseFetch = (input: RequestInfo | URL, init?: WimseRequestInit): Promise<Response> => run(input, init, 0);

  const run = async (input: RequestInfo | URL, init: WimseRequestInit | undefined, hops: number): Promise<Response> => {
    const { wimse: call = {}, ...rest } = init ?? {};
    const request = new Request(input, rest);
    if (!allowInsecure && !secureTarget(new URL(request.url))) {
      throw new TypeError(
        `Refusing to send workload credentials over ${new URL(request.url).protocol} to ${new URL(request.url).host}: use https, or set allowInsecureTransport`,
      );
    }
    const expectResponder = call.expectResponder ?? options.expectResponder;
    const body = request.body === null ? undefined : new Uint8Array(await request.arrayBuffer());
    const proof = call.proof ?? defaultProof;
    // A proof is bound to one target, and the WIT goes only where TLS (or loopback) allows: a redirect
    // the caller wants followed is followed here, each hop checked and proven afresh (Fetch §4.4 rules).
    const follow = rest.redirect === 'follow';
    const redirect = follow ? 'manual' : (rest.redirect ?? 'manual');
    if (call.signResponse && (proof !== 'http-sig' || responses === undefined)) {
      throw new TypeError('signResponse needs the http-sig proof and a responseTrust to verify the response with');
    }

    const wire = call.wpt === undefined ? defaultWire : wptWire({ ...defaultWire, ...call.wpt });
    const accessToken = call.accessToken ?? (proof === 'wpt' && wire.version === 'wpt-01' ? bearerOf(request.headers) : undefined);
    if (accessToken !== undefined && (proof !== 'wpt' || wire.version !== 'wpt-01')) {
      throw new TypeError('accessToken is bound only by a wpt-01 WPT (wimse.wpt.version: "wpt-01")');
    }

    const send = async (s: WorkloadSigner): Promise<{ sent: Headers; response: Response }> => {
      const headers = new Headers(request.headers);
      const proofHeaders =
        proof === 'wpt'
          ? await s.wptHeaders({
              url: request.url,
              ...(call.txnToken === undefined ? {} : { txnToken: call.txnToken }),
              ...(call.contextTokens === undefined ? {} : { contextTokens: call.contextTokens }),
              ...wire,
              ...(accessToken === undefined ? {} : { accessToken }),
            })
          : await httpSignatureHeaders(s, request, headers, body, call, call.coverHeaders ?? options.coverHeaders);
      for (const [name, value] of Object.entries(proofHeaders)) headers.set(name, value);
      return {
        sent: headers,
        response: await fetchImpl(request.url, { method: request.method, headers, body: body ?? null, redirect, signal: request.signal }),
      };
    };

    // http-signature-07 §3.5: asked → signed, whatever the status; signed → verified, whatever the status.
    // A response signature binds to the request's signature nonce, so a WPT call has none to check.
    const checked = ({ sent, response }: { sent: Headers; response: Response }): Promise<Response> | Response =>
      proof === 'http-sig' && (call.signResponse === true || carriesWimseSignature(response.headers))
        ? verifiedResponse(sent, response)
        : response;

    const verifiedResponse = async (sent: Headers, response: Response): Promise<Response> => {
      const content = new Uint8Array(await response.arrayBuffer());
      if (call.signResponse === true && !response.headers.has('signature-input')) {
        throw new WimseError(
          'sig_response',
          `The request asked for a signed response but the ${response.status} answer is unsigned${await claimedCode(response, content)}`,
        );
      }
      if (responses === undefined)
        throw new WimseError('sig_response', 'The response carries a WIMSE signature and no responseTrust is configured to verify it');
      const responder = await responses.verify(
        { method: request.method, url: request.url, headers: sent },
        { status: response.status, headers: response.headers, body: content },
        expectResponder === undefined ? {} : { responder: expectResponder },
      );
      const copy = new Response(NULL_BODY_STATUSES.has(response.status) ? null : content, {
        status: response.status,
        statusText: response.statusText,
        headers: response.headers,
      });
      if (responder !== undefined) responders.set(copy, responder);
      return copy;
    };

    const used = await signer();
    const first = await send(used);
    let response: Response;
    // The WIT rejection comes unsigned (the request never verified), so it is looked at before the response check.
    if (!retry || !(await rejectsWit(first.response))) response = await checked(first);
    else {
      await first.response.body?.cancel();
      // Another call may have renewed meanwhile; renew only if the refused WIT is still the current one.
      response = await checked(await send(current?.signer === used ? await renew() : await signer()));
    }
    const hop = follow ? await nextHop(response, request, body, call, hops) : undefined;
    return hop === undefined ? response : run(hop.url, hop.init, hops + 1);
  };
  return Object.assign(wimseFetch, { signer, renew, responder: (response: Response) => responders.get(response) });
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
// Fetch §4.4 step 7: more than 20 redirects is a network error.
const MAX_REDIRECTS = 20;

/** The request a followed redirect makes (Fetch §4.4), or `undefined` when `response` is not a redirect. */
async function nextHop(
  response: Response,
  request: Request,
  body: Uint8Array<ArrayBuffer> | undefined,
  call: WimseCallOptions,
  hops: number,
): Promise<{ url: URL; init: WimseRequestInit } | undefined> {
  const location = response.headers.get('location');
  if (!REDIRECT_STATUSES.has(response.status) || location === null) return undefined;
  if (hops >= MAX_REDIRECTS) throw new TypeError(`More than ${MAX_REDIRECTS} redirects from ${request.url}`);
  const url = new URL(location, request.url);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`Redirect to ${url.protocol} is not followed`);
  await response.body?.cancel();
  const headers = new Headers(request.headers);
  let method = request.method;
  let content = body;
  if (
    ((response.status === 301 || response.status === 302) && method === 'POST') ||
    (response.status === 303 && method !== 'GET' && method !== 'HEAD')
  ) {
    method = 'GET';
    content = undefined;
    for (const name of ['content-encoding', 'content-language', 'content-location', 'content-type']) headers.delete(name);
  }
  let wimse = call;
  // A bearer credential is for the origin it was given to (Fetch §4.4 step 13).
  if (url.origin !== new URL(request.url).origin) {
    headers.delete('authorization');
    const { accessToken: _dropped, ...others } = call;
    wimse = others;
  }
  return { url, init: { method, headers, body: content ?? null, redirect: 'follow', signal: request.signal, wimse } };
}

// Loopback needs no TLS: nothing leaves the host.
function secureTarget(url: URL): boolean {
  if (url.protocol === 'https:') return true;
  const host = url.hostname.toLowerCase();
  return (
    host === 'localhost' ||
    host.endsWith('.localhost') ||
    /^127(\.\d{1,3}){3}$/.test(host) ||
    host === '[::1]' ||
    /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(host)
  );
}

// A malformed Signature-Input counts as carrying one: verification then says what is wrong.
function carriesWimseSignature(headers: Headers): boolean {
  if (!headers.has('signature-input')) return false;
  try {
    return findWimseSignature(headersOf(headers)) !== undefined;
  } catch {
    return true;
  }
}

// What an unsigned error claims, to help the caller, marked as unverified.
async function claimedCode(response: Response, content: Uint8Array): Promise<string> {
  if (!(response.headers.get('content-type') ?? '').startsWith('application/problem+json')) return '';
  try {
    const { code } = JSON.parse(new TextDecoder().decode(content)) as { code?: unknown };
    return typeof code === 'string' ? ` (unverified problem code: ${code.slice(0, 64)})` : '';
  } catch {
    return '';
  }
}

async function httpSignatureHeaders(
  s: WorkloadSigner,
  request: Request,
  headers: Headers,
  body: Uint8Array | undefined,
  call: WimseCallOptions,
  coverHeaders: readonly string[] | undefined,
): Promise<Record<string, string>> {
  // Context tokens travel as fields the signature covers (http-signature-07 §3.1: txn-token when present).
  if (call.txnToken !== undefined) headers.set('txn-token', call.txnToken);
  for (const [name, value] of Object.entries(call.contextTokens ?? {})) headers.set(name, value);
  const plain: Record<string, string> = {};
  headers.forEach((value, name) => {
    plain[name] = value;
  });
  return s.httpSigHeaders({
    method: request.method,
    url: request.url,
    headers: plain,
    ...(body === undefined ? {} : { body }),
    ...(call.signResponse === undefined ? {} : { signResponse: call.signResponse }),
    ...(coverHeaders === undefined ? {} : { coverHeaders }),
  });
}

function wptWire(o: WptWireOptions | undefined): Required<WptWireOptions> {
  const typ = o?.typ ?? WPT_TYP;
  if (!typMatches(typ, WPT_TYP)) throw new TypeError(`wpt.typ: ${JSON.stringify(typ)} is not a WPT type (wpt+jwt or application/wpt+jwt)`);
  return { version: wptVersion(o?.version), typ };
}

// wpt-01: a bearer token the caller put on the request rides along, bound by ath.
function bearerOf(headers: Headers): string | undefined {
  return /^Bearer +([A-Za-z0-9._~+/-]+=*)$/i.exec(headers.get('authorization')?.trim() ?? '')?.[1];
}

// A fresh key pair per WIT: a renewal also rotates the proof key.
async function fromWitSource(witSource: WitSource, alg: WimseAlgorithm): Promise<WorkloadCredentials> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), alg };
  const wit = await witSource(publicJwk);
  const cnf = (decodeWitClaims(wit).cnf as { jwk?: JWK } | undefined)?.jwk;
  if (typeof cnf !== 'object' || cnf === null || (await calculateJwkThumbprint(cnf)) !== (await calculateJwkThumbprint(publicJwk))) {
    throw new Error('The WIT received is not bound to the key that was sent');
  }
  return { wit, privateKey };
}

function decodeWitClaims(wit: string): { exp: number; iat?: number; cnf?: unknown } {
  let claims: ReturnType<typeof decodeJwt>;
  try {
    claims = decodeJwt(wit);
  } catch {
    throw new Error('The WIT source did not return a JWT');
  }
  if (typeof claims.exp !== 'number') throw new Error('The WIT received has no exp');
  return claims as { exp: number; iat?: number; cnf?: unknown };
}

async function rejectsWit(res: Response): Promise<boolean> {
  if (res.status !== 400 && res.status !== 401) return false;
  if (!(res.headers.get('content-type') ?? '').startsWith('application/problem+json')) return false;
  try {
    const { code } = (await res.clone().json()) as { code?: unknown };
    return typeof code === 'string' && WIT_REJECTIONS.has(code);
  } catch {
    return false;
  }
}

/** Options of {@link identityServerWitSource}. */
export interface IdentityServerWitSourceOptions {
  /** Base URL of the identity server, e.g. `http://127.0.0.1:3000`. */
  url: string | URL;
  /** The workload name to register, e.g. `express-demo`. */
  workload: string;
  fetch?: typeof globalThis.fetch;
}

/**
 * A {@link WitSource} for the demo identity server (`apps/identity-server`): `POST <url>/wit` with
 * `{ workload, jwk }`. Demo-grade: real issuance attests the workload (e.g. SPIFFE).
 *
 * @example
 * const witSource = identityServerWitSource({ url: 'http://127.0.0.1:3000', workload: 'client' })
 */
export function identityServerWitSource(o: IdentityServerWitSourceOptions): WitSource {
  const endpoint = new URL('wit', String(o.url).replace(/\/*$/, '/'));
  const fetchImpl = o.fetch ?? globalThis.fetch;
  return async (jwk) => {
    const res = await fetchImpl(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ workload: o.workload, jwk }),
    });
    const body = (await res.json().catch(() => ({}))) as { wit?: unknown; code?: unknown; detail?: unknown };
    if (!res.ok || typeof body.wit !== 'string') {
      const why = typeof body.code === 'string' ? `${body.code}: ${String(body.detail)}` : `HTTP ${res.status}`;
      throw new Error(`Identity server refused a WIT for ${o.workload} (${why})`);
    }
    return body.wit;
  };
}
