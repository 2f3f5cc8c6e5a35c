/**
 * Negative cases across WIT and WPT, one `describe` per validation step, one `it` per way to
 * violate it. Each asserts the exact stable code and HTTP status.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { WimseErrorCode } from './errors.js';
import { MemoryReplayStore } from './memory-replay-store.js';
import { tokenHash } from './hash.js';
import type { VerifierOptions } from './options.js';
import type { WimseRequest } from './request.js';
import {
  AUDIENCE,
  NOW,
  TRUST_DOMAIN,
  createIssuer,
  createWorkload,
  keyPair,
  verifierFor,
  wptRequest,
  type Issuer,
  type Workload,
} from '@wimse/test-support/factory';
import { decodePart, signJws, unsigned, withPayload } from '@wimse/test-support/tokens';

let issuer: Issuer;
let workload: Workload;
const now = NOW / 1000;

beforeAll(async () => {
  issuer = await createIssuer('ES256', 'k1');
  workload = await createWorkload(issuer);
});

type Headers = Record<string, string | string[]>;
interface Case {
  name: string;
  code: WimseErrorCode;
  status: number;
  /** Builds the request; receives a valid one to mutate. */
  request: (valid: WimseRequest & { headers: Headers }) => Promise<WimseRequest> | WimseRequest;
  options?: () => Partial<VerifierOptions> | Promise<Partial<VerifierOptions>>;
}

const witHeader = () => ({ alg: 'ES256', typ: 'wit+jwt', kid: 'k1' });
const witClaims = () => ({ ...decodePart(workload.wit, 1) });
const signWit = (header: Record<string, unknown>, claims: Record<string, unknown>) => signJws(header, claims, issuer.privateKey);
const wptHeader = () => ({ alg: 'ES256', typ: 'wpt+jwt' });
const wptClaims = async (wit = workload.wit): Promise<Record<string, unknown>> => ({
  aud: `${AUDIENCE}/orders`,
  exp: now + 60,
  jti: `jti-${Math.random()}`,
  wth: await tokenHash(wit),
});
const signWpt = (header: Record<string, unknown>, claims: Record<string, unknown>) => signJws(header, claims, workload.privateKey);

/** A request with a WIT built from `header`/`claims` and a matching, valid WPT. */
async function withWit(valid: WimseRequest & { headers: Headers }, wit: string): Promise<WimseRequest> {
  const wpt = await signWpt(wptHeader(), await wptClaims(wit));
  return { ...valid, headers: { 'workload-identity-token': wit, authorization: `WPT ${wpt}` } };
}
/** A request with the valid WIT and a WPT built from `header`/`claims`. */
function withWpt(valid: WimseRequest & { headers: Headers }, wpt: string, extra: Headers = {}): WimseRequest {
  return { ...valid, headers: { 'workload-identity-token': workload.wit, authorization: `WPT ${wpt}`, ...extra } };
}

const witCases: Case[] = [
  // workload-creds-02 §5.1.1 / §5.1.4 step 1: exactly one compact JWT.
  {
    name: 'WPT sent without a WIT',
    code: 'wit_missing',
    status: 400,
    request: (v) => ({ ...v, headers: { authorization: v.headers.authorization! } }),
  },
  {
    name: 'two Workload-Identity-Token fields',
    code: 'wit_duplicate',
    status: 400,
    request: (v) => ({ ...v, headers: { ...v.headers, 'workload-identity-token': [workload.wit, workload.wit] } }),
  },
  {
    name: 'WIT longer than maxTokenLength',
    code: 'wit_too_large',
    status: 400,
    request: (v) => ({ ...v, headers: { ...v.headers, 'workload-identity-token': 'a'.repeat(9000) } }),
  },
  {
    name: 'WIT is not a JWT',
    code: 'wit_malformed',
    status: 400,
    request: (v) => ({ ...v, headers: { ...v.headers, 'workload-identity-token': 'not-a-token' } }),
  },
  {
    name: 'WIT has two parts',
    code: 'wit_malformed',
    status: 400,
    request: (v) => ({ ...v, headers: { ...v.headers, 'workload-identity-token': workload.wit.split('.').slice(0, 2).join('.') } }),
  },
  {
    name: 'WIT header is not JSON',
    code: 'wit_malformed',
    status: 400,
    request: (v) => ({ ...v, headers: { ...v.headers, 'workload-identity-token': `eA.${workload.wit.split('.').slice(1).join('.')}` } }),
  },
  {
    name: 'WIT with base64 padding',
    code: 'wit_malformed',
    status: 400,
    request: (v) => ({ ...v, headers: { ...v.headers, 'workload-identity-token': `${workload.wit}=` } }),
  },
  {
    name: 'WIT signature segment is not base64url',
    code: 'wit_malformed',
    status: 400,
    request: (v) => withWit(v, `${workload.wit.slice(0, workload.wit.lastIndexOf('.'))}.A`),
  },
  {
    name: 'WIT with an unknown crit header',
    code: 'wit_malformed',
    status: 400,
    request: async (v) => withWit(v, await signWit({ ...witHeader(), crit: ['x-unknown'], 'x-unknown': 1 }, witClaims())),
  },
  // Step 2: typ.
  {
    name: 'WIT typ JWT',
    code: 'wit_typ',
    status: 400,
    request: async (v) => withWit(v, await signWit({ ...witHeader(), typ: 'JWT' }, witClaims())),
  },
  {
    name: 'WIT without typ',
    code: 'wit_typ',
    status: 400,
    request: async (v) => withWit(v, await signWit({ alg: 'ES256', kid: 'k1' }, witClaims())),
  },
  {
    name: 'WIT with the s2s-00 typ wimse-id+jwt',
    code: 'wit_typ',
    status: 400,
    request: async (v) => withWit(v, await signWit({ ...witHeader(), typ: 'wimse-id+jwt' }, witClaims())),
  },
  {
    name: 'a WPT presented as WIT',
    code: 'wit_typ',
    status: 400,
    request: async (v) => withWit(v, await signWit({ ...witHeader(), typ: 'wpt+jwt' }, witClaims())),
  },
  // Step 3: sub.
  {
    name: 'WIT without sub',
    code: 'wit_sub_invalid',
    status: 400,
    request: async (v) => withWit(v, await signWit(witHeader(), { ...witClaims(), sub: undefined })),
  },
  {
    name: 'WIT sub with a query',
    code: 'wit_sub_invalid',
    status: 400,
    request: async (v) => withWit(v, await signWit(witHeader(), { ...witClaims(), sub: 'spiffe://example.org/a?b=1' })),
  },
  {
    name: 'WIT sub is an array of identifiers',
    code: 'wit_sub_invalid',
    status: 400,
    request: async (v) => withWit(v, await signWit(witHeader(), { ...witClaims(), sub: ['spiffe://example.org/a'] })),
  },
  {
    name: 'WIT sub is a relative reference',
    code: 'wit_sub_invalid',
    status: 400,
    request: async (v) => withWit(v, await signWit(witHeader(), { ...witClaims(), sub: '/svc/payment' })),
  },
  {
    name: 'WIT sub with percent-encoding (canonical wimse)',
    code: 'wit_sub_invalid',
    status: 400,
    request: async (v) => withWit(v, await signWit(witHeader(), { ...witClaims(), sub: 'wimse://example.org/%70ayment' })),
  },
  // Step 4: trust domain from configuration.
  {
    name: 'WIT sub in an unconfigured trust domain',
    code: 'wit_untrusted_domain',
    status: 400,
    request: async (v) => withWit(v, await signWit(witHeader(), { ...witClaims(), sub: 'spiffe://other.org/client' })),
  },
  {
    name: 'same trust domain name under a scheme that is not configured',
    code: 'wit_untrusted_domain',
    status: 400,
    request: async (v) => withWit(v, await signWit(witHeader(), { ...witClaims(), sub: `wimse://${TRUST_DOMAIN}/client` })),
    options: () => ({ trustDomains: { [`spiffe://${TRUST_DOMAIN}`]: { keys: { keys: [issuer.publicJwk] } } } }),
  },
  {
    name: 'iss naming another trust domain does not select its keys',
    code: 'wit_signature',
    status: 400,
    request: async (v) => {
      const other = await createIssuer('ES256', 'k1');
      return withWit(v, await signJws(witHeader(), { ...witClaims(), iss: 'https://id.other.org' }, other.privateKey));
    },
  },
  // Step 5: algorithm.
  { name: 'WIT alg none', code: 'wit_alg', status: 400, request: (v) => withWit(v, unsigned(witHeader(), witClaims())) },
  {
    name: 'WIT unsecured (alg none, empty signature)',
    code: 'wit_malformed',
    status: 400,
    request: (v) => withWit(v, unsigned(witHeader(), witClaims(), '')),
  },
  {
    name: 'WIT HS256 with the issuer public key as secret',
    code: 'wit_alg',
    status: 400,
    request: async (v) =>
      withWit(v, await signJws({ ...witHeader(), alg: 'HS256' }, witClaims(), new TextEncoder().encode(JSON.stringify(issuer.publicJwk)))),
  },
  {
    name: 'WIT alg not allowed for this trust domain',
    code: 'wit_alg',
    status: 400,
    request: (v) => v,
    options: () => ({ trustDomains: { [TRUST_DOMAIN]: { keys: { keys: [issuer.publicJwk] }, algorithms: ['EdDSA'] } } }),
  },
  // Steps 6-7: key selection and signature.
  {
    name: 'WIT kid unknown',
    code: 'wit_key_unknown',
    status: 400,
    request: async (v) => withWit(v, await signWit({ ...witHeader(), kid: 'k9' }, witClaims())),
  },
  {
    name: 'WIT without kid while two keys are trusted',
    code: 'wit_key_unknown',
    status: 400,
    request: async (v) => withWit(v, await signWit({ alg: 'ES256', typ: 'wit+jwt' }, witClaims())),
    options: async () => ({
      trustDomains: { [TRUST_DOMAIN]: { keys: { keys: [issuer.publicJwk, { ...(await keyPair('ES256')).publicJwk, kid: 'k2' }] } } },
    }),
  },
  {
    name: 'WIT signed by another key with the trusted kid',
    code: 'wit_signature',
    status: 400,
    request: async (v) => withWit(v, await signJws(witHeader(), witClaims(), (await keyPair('ES256')).privateKey)),
  },
  {
    name: 'WIT payload tampered',
    code: 'wit_signature',
    status: 400,
    request: (v) => withWit(v, withPayload(workload.wit, { ...witClaims(), sub: `spiffe://${TRUST_DOMAIN}/admin` })),
  },
  // Step 8: time.
  {
    name: 'WIT expired',
    code: 'wit_expired',
    status: 400,
    request: async (v) => withWit(v, await signWit(witHeader(), { ...witClaims(), exp: now - 120 })),
  },
  {
    name: 'WIT not yet valid (nbf)',
    code: 'wit_not_yet_valid',
    status: 400,
    request: async (v) => withWit(v, await signWit(witHeader(), { ...witClaims(), nbf: now + 600 })),
  },
  {
    name: 'WIT issued in the future (iat beyond the 30 s tolerance)',
    code: 'wit_not_yet_valid',
    status: 400,
    request: async (v) => withWit(v, await signWit(witHeader(), { ...witClaims(), iat: now + 31 })),
  },
  {
    name: 'WIT iat is a string',
    code: 'wit_claims',
    status: 400,
    request: async (v) => withWit(v, await signWit(witHeader(), { ...witClaims(), iat: String(now) })),
  },
  {
    name: 'WIT without exp',
    code: 'wit_claims',
    status: 400,
    request: async (v) => withWit(v, await signWit(witHeader(), { ...witClaims(), exp: undefined })),
  },
  {
    name: 'WIT exp is a string',
    code: 'wit_claims',
    status: 400,
    request: async (v) => withWit(v, await signWit(witHeader(), { ...witClaims(), exp: String(now + 60) })),
  },
  {
    name: 'WIT lifetime unreasonably long',
    code: 'wit_lifetime',
    status: 400,
    request: async (v) => withWit(v, await signWit(witHeader(), { ...witClaims(), exp: now + 30 * 86_400 })),
  },
  // Step 9: cnf.jwk.
  {
    name: 'WIT without cnf',
    code: 'wit_cnf_invalid',
    status: 400,
    request: async (v) => withWit(v, await signWit(witHeader(), { ...witClaims(), cnf: undefined })),
  },
  {
    name: 'cnf with jkt instead of jwk',
    code: 'wit_cnf_invalid',
    status: 400,
    request: async (v) => withWit(v, await signWit(witHeader(), { ...witClaims(), cnf: { jkt: 'abc' } })),
  },
  {
    name: 'cnf.jwk without alg',
    code: 'wit_cnf_invalid',
    status: 400,
    request: async (v) => withWit(v, await signWit(witHeader(), { ...witClaims(), cnf: { jwk: workload.publicJwk } })),
  },
  {
    name: 'cnf.jwk alg none',
    code: 'wit_cnf_invalid',
    status: 400,
    request: async (v) => withWit(v, await signWit(witHeader(), { ...witClaims(), cnf: { jwk: { ...workload.publicJwk, alg: 'none' } } })),
  },
  {
    name: 'cnf.jwk alg HS256',
    code: 'wit_cnf_invalid',
    status: 400,
    request: async (v) =>
      withWit(v, await signWit(witHeader(), { ...witClaims(), cnf: { jwk: { kty: 'oct', k: 'c2VjcmV0', alg: 'HS256' } } })),
  },
  {
    name: 'cnf.jwk is a private key',
    code: 'wit_cnf_invalid',
    status: 400,
    request: async (v) =>
      withWit(v, await signWit(witHeader(), { ...witClaims(), cnf: { jwk: { ...(await keyPair('ES256')).privateJwk, alg: 'ES256' } } })),
  },
  {
    name: 'cnf.jwk kty does not fit alg',
    code: 'wit_cnf_invalid',
    status: 400,
    request: async (v) => withWit(v, await signWit(witHeader(), { ...witClaims(), cnf: { jwk: { ...workload.publicJwk, alg: 'EdDSA' } } })),
  },
  {
    name: 'cnf.jwk crv does not fit alg',
    code: 'wit_cnf_invalid',
    status: 400,
    request: async (v) => withWit(v, await signWit(witHeader(), { ...witClaims(), cnf: { jwk: { ...workload.publicJwk, alg: 'ES384' } } })),
  },
  {
    name: 'cnf.jwk point not on the curve',
    code: 'wit_cnf_invalid',
    status: 400,
    request: async (v) =>
      withWit(v, await signWit(witHeader(), { ...witClaims(), cnf: { jwk: { ...workload.publicJwk, x: 'AAAA', alg: 'ES256' } } })),
  },
  {
    name: 'cnf.jwk alg outside proofAlgorithms',
    code: 'wit_cnf_invalid',
    status: 400,
    request: (v) => v,
    options: () => ({ proofAlgorithms: ['EdDSA'] }),
  },
  // Step 10: iss allow-list.
  {
    name: 'WIT iss not in the allow-list',
    code: 'wit_iss',
    status: 400,
    request: async (v) => withWit(v, await signWit(witHeader(), { ...witClaims(), iss: 'https://rogue.example.org' })),
    options: () => ({ trustDomains: { [TRUST_DOMAIN]: { keys: { keys: [issuer.publicJwk] }, issuer: 'https://id.example.org' } } }),
  },
  {
    name: 'WIT without iss when an issuer is required',
    code: 'wit_iss',
    status: 400,
    request: (v) => v,
    options: () => ({ trustDomains: { [TRUST_DOMAIN]: { keys: { keys: [issuer.publicJwk] }, issuer: 'https://id.example.org' } } }),
  },
];

const wptCases: Case[] = [
  // wpt-02 §2.1: no credentials at all → 401 with the WPT challenge.
  { name: 'no credentials at all', code: 'credentials_missing', status: 401, request: (v) => ({ ...v, headers: {} }) },
  {
    name: 'WIT without any proof',
    code: 'wpt_missing',
    status: 401,
    request: (v) => ({ ...v, headers: { 'workload-identity-token': workload.wit } }),
  },
  {
    name: 'WIT with a bearer token instead of a WPT',
    code: 'wpt_missing',
    status: 401,
    request: (v) => ({ ...v, headers: { 'workload-identity-token': workload.wit, authorization: 'Bearer abc' } }),
  },
  {
    name: 'wpt-01 Workload-Proof-Token field without compat',
    code: 'wpt_missing',
    status: 401,
    request: (v) => ({
      ...v,
      headers: { 'workload-identity-token': workload.wit, 'workload-proof-token': String(v.headers.authorization).slice(4) },
    }),
  },
  // Step 1: exactly one Authorization field with the WPT scheme.
  {
    name: 'two Authorization fields',
    code: 'wpt_duplicate',
    status: 401,
    request: (v) => ({ ...v, headers: { ...v.headers, authorization: [String(v.headers.authorization), 'Bearer abc'] } }),
  },
  {
    name: 'the same WPT twice',
    code: 'wpt_duplicate',
    status: 401,
    request: (v) => ({
      ...v,
      headers: { ...v.headers, authorization: [String(v.headers.authorization), String(v.headers.authorization)] },
    }),
  },
  // Step 2: a single well-formed JWT.
  {
    name: 'WPT signature segment is not base64url',
    code: 'wpt_signature',
    status: 401,
    request: (v) => withWpt(v, `${String(v.headers.authorization).slice(4, String(v.headers.authorization).lastIndexOf('.'))}.AAAAA`),
  },
  { name: 'WPT longer than maxTokenLength', code: 'wpt_too_large', status: 401, request: (v) => withWpt(v, 'a'.repeat(9000)) },
  { name: 'WPT is not a JWT', code: 'wpt_malformed', status: 401, request: (v) => withWpt(v, 'abc') },
  // A token68 (RFC 9110 §11.4) with padding or `+`, so not a compact JWS: still the WPT scheme's, and malformed.
  {
    name: 'WPT is a token68 but not a compact JWS',
    code: 'wpt_malformed',
    status: 401,
    request: (v) => withWpt(v, `${String(v.headers.authorization).slice(4)}==`),
  },
  { name: 'WPT segments hold a token68 "+"', code: 'wpt_malformed', status: 401, request: (v) => withWpt(v, 'ab+c.de.fg') },
  {
    name: 'WPT header is not JSON',
    code: 'wpt_malformed',
    status: 401,
    request: (v) => withWpt(v, `eA.${String(v.headers.authorization).split('.').slice(1).join('.')}`),
  },
  {
    name: 'WPT claims are not a JSON object',
    code: 'wpt_malformed',
    status: 401,
    request: async (v) => withWpt(v, await signJws(wptHeader(), [] as unknown as Record<string, unknown>, workload.privateKey)),
  },
  // Step 3: alg string-equals cnf.jwk.alg.
  {
    name: 'WPT alg none',
    code: 'wpt_alg_mismatch',
    status: 401,
    request: async (v) => withWpt(v, unsigned(wptHeader(), await wptClaims())),
  },
  {
    name: 'WPT HS256 with the cnf public key as secret',
    code: 'wpt_alg_mismatch',
    status: 401,
    request: async (v) =>
      withWpt(
        v,
        await signJws({ ...wptHeader(), alg: 'HS256' }, await wptClaims(), new TextEncoder().encode(JSON.stringify(workload.publicJwk))),
      ),
  },
  {
    name: 'WPT alg ES384 while cnf.jwk.alg is ES256',
    code: 'wpt_alg_mismatch',
    status: 401,
    request: async (v) =>
      withWpt(v, await signJws({ ...wptHeader(), alg: 'ES384' }, await wptClaims(), (await keyPair('ES384')).privateKey)),
  },
  // Step 4: signature by cnf.jwk.
  {
    name: 'WPT signed by another key',
    code: 'wpt_signature',
    status: 401,
    request: async (v) => withWpt(v, await signJws(wptHeader(), await wptClaims(), (await keyPair('ES256')).privateKey)),
  },
  {
    name: 'WPT payload tampered',
    code: 'wpt_signature',
    status: 401,
    request: async (v) =>
      withWpt(v, withPayload(String(v.headers.authorization).slice(4), { ...(await wptClaims()), aud: `${AUDIENCE}/admin` })),
  },
  {
    name: 'WPT signature stripped',
    code: 'wpt_malformed',
    status: 401,
    request: (v) => withWpt(v, `${String(v.headers.authorization).slice(4).split('.').slice(0, 2).join('.')}.`),
  },
  // Step 5: typ.
  {
    name: 'WPT typ JWT',
    code: 'wpt_typ',
    status: 401,
    request: async (v) => withWpt(v, await signWpt({ ...wptHeader(), typ: 'JWT' }, await wptClaims())),
  },
  {
    name: 'WPT without typ',
    code: 'wpt_typ',
    status: 401,
    request: async (v) => withWpt(v, await signWpt({ alg: 'ES256' }, await wptClaims())),
  },
  {
    name: 'WPT typ wit+jwt',
    code: 'wpt_typ',
    status: 401,
    request: async (v) => withWpt(v, await signWpt({ ...wptHeader(), typ: 'wit+jwt' }, await wptClaims())),
  },
  {
    name: 'WPT with the s2s-00 typ wimse-proof+jwt',
    code: 'wpt_typ',
    status: 401,
    request: async (v) => withWpt(v, await signWpt({ ...wptHeader(), typ: 'wimse-proof+jwt' }, await wptClaims())),
  },
  // Step 6: aud.
  {
    name: 'aud for another host',
    code: 'wpt_aud',
    status: 401,
    request: async (v) => withWpt(v, await signWpt(wptHeader(), { ...(await wptClaims()), aud: 'https://other.example.org/orders' })),
  },
  {
    name: 'aud for another path',
    code: 'wpt_aud',
    status: 401,
    request: async (v) => withWpt(v, await signWpt(wptHeader(), { ...(await wptClaims()), aud: `${AUDIENCE}/admin` })),
  },
  {
    name: 'aud including the query',
    code: 'wpt_aud',
    status: 401,
    request: async (v) => withWpt(v, await signWpt(wptHeader(), { ...(await wptClaims()), aud: `${AUDIENCE}/orders?id=7` })),
  },
  {
    name: 'aud with another scheme',
    code: 'wpt_aud',
    status: 401,
    request: async (v) => withWpt(v, await signWpt(wptHeader(), { ...(await wptClaims()), aud: 'http://api.example.org/orders' })),
  },
  {
    name: 'aud as an array without the target URI',
    code: 'wpt_aud',
    status: 401,
    request: async (v) =>
      withWpt(v, await signWpt(wptHeader(), { ...(await wptClaims()), aud: [`${AUDIENCE}/admin`, 'https://other.example/orders'] })),
  },
  {
    name: 'aud missing',
    code: 'wpt_aud',
    status: 401,
    request: async (v) => withWpt(v, await signWpt(wptHeader(), { ...(await wptClaims()), aud: undefined })),
  },
  {
    name: 'aud matching a spoofed Host / X-Forwarded-Host',
    code: 'wpt_aud',
    status: 401,
    request: async (v) =>
      withWpt(v, await signWpt(wptHeader(), { ...(await wptClaims()), aud: 'https://evil.example/orders' }), {
        host: 'evil.example',
        'x-forwarded-host': 'evil.example',
      }),
  },
  {
    name: 'request target in absolute form',
    code: 'request_invalid',
    status: 400,
    request: (v) => ({ ...v, path: 'https://api.example.org/orders' }),
  },
  // Step 7: exp.
  {
    name: 'WPT expired',
    code: 'wpt_expired',
    status: 401,
    request: async (v) => withWpt(v, await signWpt(wptHeader(), { ...(await wptClaims()), exp: now - 31 })),
  },
  {
    name: 'WPT exp too far in the future',
    code: 'wpt_exp_too_far',
    status: 401,
    request: async (v) => withWpt(v, await signWpt(wptHeader(), { ...(await wptClaims()), exp: now + 3600 })),
  },
  {
    name: 'WPT without exp',
    code: 'wpt_claims',
    status: 401,
    request: async (v) => withWpt(v, await signWpt(wptHeader(), { ...(await wptClaims()), exp: undefined })),
  },
  {
    name: 'WPT exp is a string',
    code: 'wpt_claims',
    status: 401,
    request: async (v) => withWpt(v, await signWpt(wptHeader(), { ...(await wptClaims()), exp: String(now + 60) })),
  },
  // RFC 7519 §4.1.5/§4.1.6 when present (wpt-02 defines neither).
  {
    name: 'WPT issued in the future (iat beyond the 30 s tolerance)',
    code: 'wpt_not_yet_valid',
    status: 401,
    request: async (v) => withWpt(v, await signWpt(wptHeader(), { ...(await wptClaims()), iat: now + 31 })),
  },
  {
    name: 'WPT not yet valid (nbf beyond the 30 s tolerance)',
    code: 'wpt_not_yet_valid',
    status: 401,
    request: async (v) => withWpt(v, await signWpt(wptHeader(), { ...(await wptClaims()), nbf: now + 31 })),
  },
  {
    name: 'WPT iat is a string',
    code: 'wpt_claims',
    status: 401,
    request: async (v) => withWpt(v, await signWpt(wptHeader(), { ...(await wptClaims()), iat: String(now) })),
  },
  {
    name: 'WPT nbf is null',
    code: 'wpt_claims',
    status: 401,
    request: async (v) => withWpt(v, await signWpt(wptHeader(), { ...(await wptClaims()), nbf: null })),
  },
  // Step 8: wth.
  {
    name: 'wth of another WIT',
    code: 'wpt_wth',
    status: 401,
    request: async (v) => withWpt(v, await signWpt(wptHeader(), { ...(await wptClaims()), wth: await tokenHash(`${workload.wit}x`) })),
  },
  {
    name: 'wth missing',
    code: 'wpt_wth',
    status: 401,
    request: async (v) => withWpt(v, await signWpt(wptHeader(), { ...(await wptClaims()), wth: undefined })),
  },
  // jti.
  {
    name: 'jti missing',
    code: 'wpt_claims',
    status: 401,
    request: async (v) => withWpt(v, await signWpt(wptHeader(), { ...(await wptClaims()), jti: undefined })),
  },
  {
    name: 'jti longer than 256',
    code: 'wpt_claims',
    status: 401,
    request: async (v) => withWpt(v, await signWpt(wptHeader(), { ...(await wptClaims()), jti: 'j'.repeat(257) })),
  },
  {
    name: 'jti not a string',
    code: 'wpt_claims',
    status: 401,
    request: async (v) => withWpt(v, await signWpt(wptHeader(), { ...(await wptClaims()), jti: 42 })),
  },
  // Step 10: tth.
  {
    name: 'Txn-Token sent without tth',
    code: 'wpt_tth',
    status: 401,
    request: (v) => ({ ...v, headers: { ...v.headers, 'txn-token': 'txn' } }),
  },
  {
    name: 'tth of another Txn-Token',
    code: 'wpt_tth',
    status: 401,
    request: async (v) =>
      withWpt(v, await signWpt(wptHeader(), { ...(await wptClaims()), tth: await tokenHash('a') }), { 'txn-token': 'b' }),
  },
  {
    name: 'tth without a Txn-Token',
    code: 'wpt_tth',
    status: 401,
    request: async (v) => withWpt(v, await signWpt(wptHeader(), { ...(await wptClaims()), tth: await tokenHash('a') })),
  },
  {
    name: 'two Txn-Token fields',
    code: 'wpt_tth',
    status: 401,
    request: async (v) =>
      withWpt(v, await signWpt(wptHeader(), { ...(await wptClaims()), tth: await tokenHash('a') }), { 'txn-token': ['a', 'a'] }),
  },
  // Step 11: oth.
  {
    name: 'oth member not understood',
    code: 'wpt_oth',
    status: 401,
    request: async (v) =>
      withWpt(v, await signWpt(wptHeader(), { ...(await wptClaims()), oth: { 'x-custom-token': 'AAAA' } }), { 'x-custom-token': 'x' }),
  },
  {
    name: 'oth hash does not match the field',
    code: 'wpt_oth',
    status: 401,
    request: async (v) =>
      withWpt(v, await signWpt(wptHeader(), { ...(await wptClaims()), oth: { 'x-user-context': await tokenHash('alice') } }), {
        'x-user-context': 'mallory',
      }),
    options: () => ({ contextTokenHeaders: ['X-User-Context'] }),
  },
  {
    name: 'context token sent but not bound by oth',
    code: 'wpt_oth',
    status: 401,
    request: (v) => ({ ...v, headers: { ...v.headers, 'x-user-context': 'alice' } }),
    options: () => ({ contextTokenHeaders: ['x-user-context'] }),
  },
  {
    name: 'oth names a field the request lacks',
    code: 'wpt_oth',
    status: 401,
    request: async (v) =>
      withWpt(v, await signWpt(wptHeader(), { ...(await wptClaims()), oth: { 'x-user-context': await tokenHash('alice') } })),
    options: () => ({ contextTokenHeaders: ['x-user-context'] }),
  },
  {
    name: 'oth is not an object',
    code: 'wpt_oth',
    status: 401,
    request: async (v) => withWpt(v, await signWpt(wptHeader(), { ...(await wptClaims()), oth: 'abc' })),
  },
  // Proof method policy.
  {
    name: 'WPT sent where only HTTP signatures are accepted',
    code: 'proof_not_accepted',
    status: 400,
    request: (v) => v,
    options: () => ({ proofs: ['http-sig'] }),
  },
];

describe.each([
  ['WIT (workload-creds-02 §5.1.4)', witCases],
  ['WPT (wpt-02 §2)', wptCases],
])('%s', (_, cases) => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const valid = await wptRequest(workload, { path: '/orders?id=7' });
    const verifier = verifierFor(issuer, (await c.options?.()) ?? {});
    const error = await verifier.verify(await c.request(valid)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ name: 'WimseError', code: c.code, status: c.status });
    const headers = (error as { headers: Record<string, string> }).headers;
    expect(headers['www-authenticate']).toBe(c.status === 401 ? 'WPT' : undefined);
    // Problem bodies never echo a token.
    expect(JSON.stringify((error as { problem: unknown }).problem)).not.toContain(workload.wit.slice(0, 40));
  });
});

describe('the same request is accepted when nothing is violated', () => {
  it('valid WPT with Txn-Token and oth-bound context token', async () => {
    const req = await wptRequest(workload, { txnToken: 'txn-1', contextTokens: { 'X-User-Context': 'alice' } });
    const p = await verifierFor(issuer, { contextTokenHeaders: ['x-user-context'] }).verify(req);
    expect(p.context).toEqual({ txnToken: 'txn-1', other: { 'x-user-context': 'alice' } });
  });

  it('iat and nbf up to the clock tolerance ahead, on both WIT and WPT', async () => {
    const wit = await signWit(witHeader(), { ...witClaims(), iat: now + 30, nbf: now + 30 });
    const wpt = await signWpt(wptHeader(), { ...(await wptClaims(wit)), iat: now + 30, nbf: now + 30 });
    const p = await verifierFor(issuer).verify({
      method: 'GET',
      path: '/orders',
      headers: { 'workload-identity-token': wit, authorization: `WPT ${wpt}` },
    });
    expect(p.workload).toBe(workload.sub);
  });

  it('a replayed WPT is rejected (jti), a fresh one is not', async () => {
    const verifier = verifierFor(issuer);
    const req = await wptRequest(workload);
    await verifier.verify(req);
    await expect(verifier.verify(req)).rejects.toMatchObject({ code: 'wpt_replay', status: 401 });
    await expect(verifier.verify(await wptRequest(workload))).resolves.toMatchObject({ workload: workload.sub });
  });

  it('a flood of 2× the replay capacity from another workload never lets a used WPT through again', async () => {
    // The default store, only smaller: 20 entries, a quarter (5) per workload.
    const verifier = verifierFor(issuer, { replayStore: new MemoryReplayStore({ maxEntries: 20, now: () => NOW }) });
    const admin = await createWorkload(issuer, { sub: `spiffe://${TRUST_DOMAIN}/admin` });
    const captured = await wptRequest(admin);
    await verifier.verify(captured);
    const codes: string[] = [];
    for (let i = 0; i < 40; i++)
      codes.push(
        await verifier.verify(await wptRequest(workload)).then(
          () => 'ok',
          (e: { code: string; status: number }) => `${e.status} ${e.code}`,
        ),
      );
    expect(codes).toEqual([...Array<string>(5).fill('ok'), ...Array<string>(35).fill('429 replay_quota_exceeded')]);
    await expect(verifier.verify(captured)).rejects.toMatchObject({ code: 'wpt_replay', status: 401 });
  });

  it('a rejected WPT does not burn its jti', async () => {
    const verifier = verifierFor(issuer, { contextTokenHeaders: ['x-user-context'] });
    const req = await wptRequest(workload);
    await expect(verifier.verify({ ...req, headers: { ...req.headers, 'x-user-context': 'a' } })).rejects.toMatchObject({
      code: 'wpt_oth',
    });
    await expect(verifier.verify(req)).resolves.toMatchObject({ workload: workload.sub });
  });

  it('accepts the application/ typ forms and a lower-case scheme', async () => {
    const wpt = await signWpt({ alg: 'ES256', typ: 'application/wpt+jwt' }, await wptClaims());
    const wit = await signWit({ ...witHeader(), typ: 'Application/WIT+JWT' }, witClaims());
    const w2 = await signWpt({ alg: 'ES256', typ: 'application/wpt+jwt' }, await wptClaims(wit));
    const verifier = verifierFor(issuer);
    await expect(
      verifier.verify({
        method: 'GET',
        path: '/orders',
        headers: { 'workload-identity-token': workload.wit, authorization: `wpt ${wpt}` },
      }),
    ).resolves.toBeDefined();
    await expect(
      verifier.verify({ method: 'GET', path: '/orders', headers: { 'workload-identity-token': wit, authorization: `WPT ${w2}` } }),
    ).resolves.toBeDefined();
  });

  it('accepts any of several configured audiences', async () => {
    const verifier = verifierFor(issuer, { audience: ['https://internal.example.org/', AUDIENCE] });
    await expect(verifier.verify(await wptRequest(workload))).resolves.toBeDefined();
  });
});

describe('createVerifier validates options eagerly', () => {
  it.each([
    ['no trust domains', { trustDomains: {} }, /trustDomains/],
    ['an upper-case trust domain', { trustDomains: { 'Example.org': { keys: { keys: [] } } } }, /lower-case/],
    ['a private issuer key', { trustDomains: { 'example.org': { keys: { kty: 'oct', k: 'abc' } } } }, /public/],
    ['a JWKS URL that is not http(s)', { trustDomains: { 'example.org': { keys: 'file:///etc/jwks.json' } } }, /http/],
    ['an HMAC algorithm', { trustDomains: { 'example.org': { keys: { keys: [] }, algorithms: ['HS256'] } } }, /asymmetric/],
    ['no audience', { audience: [] }, /audience/],
    ['an audience with a query', { audience: 'https://a.example/?x=1' }, /audience/],
    ['a relative audience', { audience: '/api' }, /audience/],
    ['an unknown proof method', { proofs: ['bearer'] }, /proofs/],
    ['a negative clock tolerance', { clockTolerance: -1 }, /clockTolerance/],
    ['a bad context token header', { contextTokenHeaders: ['x user'] }, /contextTokenHeaders/],
    ['a none proof algorithm', { proofAlgorithms: ['none'] }, /proofAlgorithms/],
    // A misspelt option would be ignored, and an ignored issuer allow-list fails open.
    ['an unknown option', { audiance: AUDIENCE }, /createVerifier: unknown option "audiance" \(allowed: trustDomains, audience/],
    [
      'issuers for issuer',
      { trustDomains: { 'example.org': { keys: { keys: [] }, issuers: ['https://id.example.org'] } } },
      /trustDomains\["example.org"\]: unknown option "issuers".*issuer/,
    ],
    ['an unknown witCache option', { witCache: { ttl: 5 } }, /witCache: unknown option "ttl"/],
    ['an unknown identifier option', { identifier: { canonicall: false } }, /identifier: unknown option "canonicall"/],
    ['an unknown mtls option', { mtls: { trustBundles: {}, trustedProxy: ['10.0.0.1'] } }, /mtls: unknown option "trustedProxy"/],
    ['an unknown compat option', { compat: { wpt1: true } }, /compat: unknown option "wpt1"/],
    ['witCache that is not an object', { witCache: 5 }, /witCache: expected an options object/],
  ])('%s', (_, override, message) => {
    expect(() => verifierFor(issuer, override as Partial<VerifierOptions>)).toThrow(message);
  });
});

describe('a bug is not disguised as bad input', () => {
  it('rejects with the exception itself, not a WimseError, so the adapter can answer 500 and report it', async () => {
    const bug = new RangeError('clock broke');
    let broken = false; // the clock is also read while the verifier is built
    const verifier = verifierFor(issuer, {
      now: () => {
        if (broken) throw bug;
        return NOW;
      },
    });
    broken = true;
    await expect(verifier.verify(await wptRequest(workload))).rejects.toBe(bug);
  });
});
