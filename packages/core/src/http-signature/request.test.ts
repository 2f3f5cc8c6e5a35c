/**
 * Signed requests through `createVerifier`: round trips, then one `describe` per receiver step of
 * http-signature-07 §3 with one `it` per way to violate it, each asserting the exact code and status.
 */
import { generateKeyPair, type CryptoKey } from 'jose';
import { generateKeyPairSync } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { WimseAlgorithm } from '../algorithms.js';
import { contentDigest } from '../content-digest.js';
import { WimseError, type WimseErrorCode } from '../errors.js';
import type { VerifierOptions } from '../options.js';
import type { WimseRequest } from '../request.js';
import { createWorkloadSigner } from '../signer.js';
import {
  AUDIENCE,
  NOW,
  createIssuer,
  createWorkload,
  verifierFor,
  wptRequest,
  type Issuer,
  type Workload,
} from '@wimse/test-support/factory';
import { signRaw } from '../test-support/http-sig.js';

type Headers = Record<string, string | string[]>;
type View = WimseRequest & { headers: Headers };

let issuer: Issuer;
let workload: Workload;
let stranger: CryptoKey;
const now = NOW / 1000;
const utf8 = new TextEncoder();
const BODY = '{"flavor":"vanilla","amount":1}';
const STD = '"@method" "@path" "@query" "workload-identity-token"';
let nonces = 0;

beforeAll(async () => {
  issuer = await createIssuer('ES256', 'k1');
  workload = await createWorkload(issuer);
  stranger = (await generateKeyPair('ES256')).privateKey;
});

/** A request signed by our signer, as a client would send it. */
async function signed(
  o: { method?: string; path?: string; headers?: Record<string, string>; body?: string; signResponse?: boolean; w?: Workload } = {},
): Promise<View> {
  const w = o.w ?? workload;
  const method = o.method ?? 'GET';
  const path = o.path ?? '/orders?id=7';
  const signer = await createWorkloadSigner({ wit: w.wit, privateKey: w.privateKey });
  const added = await signer.httpSigHeaders({
    method,
    url: `${AUDIENCE}${path}`,
    now: NOW,
    ...(o.headers === undefined ? {} : { headers: o.headers }),
    ...(o.body === undefined ? {} : { body: o.body }),
    ...(o.signResponse === undefined ? {} : { signResponse: o.signResponse }),
  });
  return { method, path, headers: { ...o.headers, ...added }, ...(o.body === undefined ? {} : { body: utf8.encode(o.body) }) };
}

/** Params of a valid request signature, with overrides appended verbatim. */
function params(extra = '', o: { created?: number; expires?: number; aud?: string; omit?: string[] } = {}): string {
  const all: [string, string][] = [
    ['created', `;created=${o.created ?? now}`],
    ['expires', `;expires=${o.expires ?? (o.created ?? now) + 60}`],
    ['nonce', `;nonce="n${++nonces}"`],
    ['tag', ';tag="wimse-workload-to-workload"'],
    ['wimse-aud', `;wimse-aud="${o.aud ?? `${AUDIENCE}/orders`}"`],
  ];
  return (
    all
      .filter(([k]) => !o.omit?.includes(k))
      .map(([, v]) => v)
      .join('') + extra
  );
}

/** A request whose Signature-Input member is `member`, validly signed by `key` (default: the WIT key). */
async function raw(
  member: string,
  o: {
    method?: string;
    path?: string;
    headers?: Headers;
    body?: string;
    digest?: boolean;
    key?: CryptoKey;
    alg?: WimseAlgorithm;
    label?: string;
  } = {},
): Promise<View> {
  const headers: Headers = { 'workload-identity-token': workload.wit, ...o.headers };
  if (o.body !== undefined && o.digest !== false) headers['content-digest'] = await contentDigest(o.body);
  const message = { method: o.method ?? 'GET', path: o.path ?? '/orders?id=7', headers };
  const fields = await signRaw(
    member,
    message,
    o.key ?? workload.privateKey,
    o.alg ?? 'ES256',
    o.label === undefined ? {} : { label: o.label },
  );
  return { ...message, headers: { ...headers, ...fields }, ...(o.body === undefined ? {} : { body: utf8.encode(o.body) }) };
}

async function rejection(request: WimseRequest, options: Partial<VerifierOptions> = {}): Promise<WimseError> {
  const e = await verifierFor(issuer, options)
    .verify(request)
    .then(
      () => undefined,
      (err: unknown) => err,
    );
  if (!(e instanceof WimseError)) throw new Error(`expected a WimseError, got ${String(e)}`);
  return e;
}

interface Case {
  name: string;
  code: WimseErrorCode;
  status: number;
  request: () => Promise<WimseRequest>;
  options?: Partial<VerifierOptions>;
}

function table(cases: Case[]): void {
  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_, c) => {
    const e = await rejection(await c.request(), c.options);
    expect({ code: e.code, status: e.status }).toEqual({ code: c.code, status: c.status });
    expect(e.problem.code).toBe(c.code);
  });
}

describe('round trips through createVerifier', () => {
  it('GET without a body', async () => {
    const p = await verifierFor(issuer).verify(await signed());
    expect(p).toMatchObject({ workload: workload.sub, method: 'http-sig', context: { other: {} } });
    expect(p.signature).toMatchObject({ signResponse: false, label: 'wimse', created: now, expires: now + 60, legacy: false });
  });

  it('POST with a JSON body, content-type and Content-Digest covered', async () => {
    const request = await signed({ method: 'POST', path: '/orders', headers: { 'Content-Type': 'application/json' }, body: BODY });
    expect(request.headers['signature-input']).toContain('"content-type" "content-digest"');
    const p = await verifierFor(issuer).verify({ ...request, headers: { ...request.headers, 'content-type': 'application/json' } });
    expect(p.method).toBe('http-sig');
  });

  it('wimse-sign-response reaches the principal, with the nonce for the response', async () => {
    const request = await signed({ signResponse: true });
    const p = await verifierFor(issuer).verify(request);
    expect(p.signature?.signResponse).toBe(true);
    expect(request.headers['signature-input']).toContain(`nonce="${p.signature!.nonce}"`);
  });

  it('a covered Txn-Token becomes context', async () => {
    const request = await signed({ headers: { 'txn-token': 'txn.abc' } });
    expect((await verifierFor(issuer).verify(request)).context.txnToken).toBe('txn.abc');
  });

  it('a configured context-token field is covered by the signer when asked and reaches the principal', async () => {
    const signer = await createWorkloadSigner({ wit: workload.wit, privateKey: workload.privateKey });
    const { signHttpRequest } = await import('./sign.js');
    const headers = { 'x-user-context': 'u.1' };
    const added = await signHttpRequest({
      wit: signer.wit,
      key: signer.key as CryptoKey,
      alg: signer.alg,
      method: 'GET',
      url: `${AUDIENCE}/orders`,
      headers,
      coverHeaders: ['x-user-context'],
      now: NOW,
    });
    const p = await verifierFor(issuer, { contextTokenHeaders: ['x-user-context'] }).verify({
      method: 'GET',
      path: '/orders',
      headers: { ...headers, ...added },
    });
    expect(p.context.other).toEqual({ 'x-user-context': 'u.1' });
  });

  it('any label is accepted: the signature is found by its tag', async () => {
    const p = await verifierFor(issuer).verify(await raw(`(${STD})${params()}`, { label: 'sig1' }));
    expect(p.signature?.label).toBe('sig1');
  });

  it('an intermediary signature with another tag rides along', async () => {
    const r = await signed();
    const other = 'proxy=("@method");created=1;tag="proxy"';
    const p = await verifierFor(issuer).verify({
      ...r,
      headers: {
        ...r.headers,
        'signature-input': [r.headers['signature-input'] as string, other],
        signature: [r.headers.signature as string, 'proxy=:AAAA:'],
      },
    });
    expect(p.method).toBe('http-sig');
  });

  it('a rewritten authority is accepted when @authority is not covered', async () => {
    const r = await signed();
    await expect(verifierFor(issuer).verify({ ...r, headers: { ...r.headers, host: 'internal-lb:8080' } })).resolves.toMatchObject({
      method: 'http-sig',
    });
  });

  it('@authority may be covered, and then verifies against Host', async () => {
    const r = await raw(`(${STD} "@authority")${params()}`, { headers: { host: 'api.example.org' } });
    await expect(verifierFor(issuer).verify(r)).resolves.toMatchObject({ method: 'http-sig' });
  });

  it('wimse-sign-response=?0 means no signed response is required', async () => {
    const p = await verifierFor(issuer).verify(await raw(`(${STD})${params(';wimse-sign-response=?0')}`));
    expect(p.signature?.signResponse).toBe(false);
  });

  it('@signature-params is the RFC 9421 §2.3 serialization of the received member (whitespace, ?1)', async () => {
    // Signed over the canonical form; received with optional whitespace and an explicit ?1.
    const canonical = `(${STD})${params(';wimse-sign-response')}`;
    const r = await raw(canonical);
    const received = (r.headers['signature-input'] as string)
      .replace('("@method" "@path"', '(  "@method"   "@path"')
      .replace(';wimse-sign-response', ';wimse-sign-response=?1');
    const p = await verifierFor(issuer).verify({ ...r, headers: { ...r.headers, 'signature-input': received } });
    expect(p.signature?.signResponse).toBe(true);
  });

  it('sha-512 Content-Digest is accepted', async () => {
    const r = await raw(`(${STD} "content-digest")${params()}`, {
      method: 'POST',
      body: BODY,
      digest: false,
      headers: { 'content-digest': await contentDigest(BODY, 'sha-512') },
    });
    await expect(verifierFor(issuer).verify(r)).resolves.toMatchObject({ method: 'http-sig' });
  });

  it('a body under a covered Content-Digest with a query', async () => {
    const r = await signed({ method: 'PUT', path: '/orders?id=7&x=%20y', body: BODY });
    await expect(verifierFor(issuer).verify(r)).resolves.toMatchObject({ method: 'http-sig' });
  });

  it('a private key given as a Node KeyObject signs too', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const { issueWit } = await import('../wit.js');
    const wit = await issueWit({
      sub: 'spiffe://example.org/node',
      cnfJwk: { ...publicKey.export({ format: 'jwk' }), alg: 'EdDSA' },
      issuerKey: issuer.privateKey,
      alg: 'ES256',
      kid: 'k1',
      now: NOW,
    });
    const signer = await createWorkloadSigner({ wit, privateKey });
    const added = await signer.httpSigHeaders({ method: 'GET', url: `${AUDIENCE}/orders`, now: NOW });
    await expect(verifierFor(issuer).verify({ method: 'GET', path: '/orders', headers: added })).resolves.toMatchObject({
      workload: 'spiffe://example.org/node',
    });
  });

  it.each(['ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519', 'RS256', 'PS256', 'PS512'] as const)('round trip with %s', async (alg) => {
    const w = await createWorkload(issuer, { alg, sub: `spiffe://example.org/${alg.toLowerCase()}` });
    const r = await signed({ w, method: 'POST', path: '/orders', body: BODY });
    await expect(verifierFor(issuer).verify(r)).resolves.toMatchObject({ workload: w.sub, method: 'http-sig' });
  });
});

describe('dispatch: which proof', () => {
  table([
    {
      name: 'a WPT and a WIMSE signature together',
      code: 'credentials_ambiguous',
      status: 400,
      request: async () => {
        const s = await signed();
        const w = await wptRequest(workload);
        return { ...s, headers: { ...s.headers, authorization: w.headers.authorization! } };
      },
    },
    {
      name: 'signature fields, but none tagged wimse-workload-to-workload',
      code: 'sig_missing',
      status: 400,
      request: () => raw(`(${STD})${params().replace('wimse-workload-to-workload', 'other-profile')}`),
    },
    {
      name: 'a signature without any tag',
      code: 'sig_missing',
      status: 400,
      request: () => raw(`(${STD})${params('', { omit: ['tag'] })}`),
    },
    {
      name: 'the tag as a token instead of a string',
      code: 'sig_missing',
      status: 400,
      request: () => raw(`(${STD})${params().replace('"wimse-workload-to-workload"', 'wimse-workload-to-workload')}`),
    },
    {
      name: 'two signatures tagged wimse-workload-to-workload',
      code: 'sig_duplicate',
      status: 400,
      request: async () => {
        const a = await signed();
        const b = await signed();
        return {
          ...a,
          headers: {
            ...a.headers,
            'signature-input': [
              a.headers['signature-input'] as string,
              (b.headers['signature-input'] as string).replace('wimse=', 'again='),
            ],
            signature: [a.headers.signature as string, (b.headers.signature as string).replace('wimse=', 'again=')],
          },
        };
      },
    },
    {
      name: 'a signature when only WPTs are accepted',
      code: 'proof_not_accepted',
      status: 400,
      request: () => signed(),
      options: { proofs: ['wpt'] },
    },
    {
      name: 'a signature without a Workload-Identity-Token',
      code: 'wit_missing',
      status: 400,
      request: async () => {
        const r = await signed();
        const { 'workload-identity-token': _, ...headers } = r.headers;
        return { ...r, headers };
      },
    },
    {
      name: 'two Workload-Identity-Token fields',
      code: 'wit_duplicate',
      status: 400,
      request: async () => {
        const r = await signed();
        return { ...r, headers: { ...r.headers, 'workload-identity-token': [workload.wit, workload.wit] } };
      },
    },
  ]);
});

describe('malformed structured fields (RFC 9421 §4, RFC 9651)', () => {
  const withFields = async (input: string | undefined, signature?: string): Promise<WimseRequest> => {
    const r = await signed();
    return {
      ...r,
      headers: {
        ...r.headers,
        ...(input === undefined ? {} : { 'signature-input': input }),
        ...(signature === undefined ? {} : { signature }),
      },
    };
  };
  table([
    {
      name: 'Signature-Input is not a dictionary',
      code: 'sig_malformed',
      status: 400,
      request: () => withFields('("@method");tag="wimse-workload-to-workload"'),
    },
    {
      name: 'Signature-Input has an unterminated string',
      code: 'sig_malformed',
      status: 400,
      request: () => withFields('wimse=("@method);tag="wimse-workload-to-workload"'),
    },
    { name: 'Signature is not a dictionary', code: 'sig_malformed', status: 400, request: () => withFields(undefined, ':AAAA:') },
    {
      name: 'Signature member is a string, not a byte sequence',
      code: 'sig_malformed',
      status: 400,
      request: async () => withFields(undefined, 'wimse="AAAA"'),
    },
    {
      name: 'Signature member is an inner list',
      code: 'sig_malformed',
      status: 400,
      request: async () => withFields(undefined, 'wimse=(:AAAA:)'),
    },
    {
      name: 'label mismatch between Signature-Input and Signature',
      code: 'sig_malformed',
      status: 400,
      request: async () => {
        const r = await signed();
        return { ...r, headers: { ...r.headers, signature: (r.headers.signature as string).replace('wimse=', 'other=') } };
      },
    },
    {
      name: 'Signature field missing',
      code: 'sig_malformed',
      status: 400,
      request: async () => {
        const { signature: _, ...headers } = (await signed()).headers;
        return { method: 'GET', path: '/orders?id=7', headers };
      },
    },
    {
      name: 'tagged member is an item, not an inner list',
      code: 'sig_malformed',
      status: 400,
      request: () => withFields(`wimse="@method"${params()}`),
    },
    {
      name: 'a component identifier is a token',
      code: 'sig_malformed',
      status: 400,
      request: () => raw(`(method "@path" "@query" "workload-identity-token")${params()}`),
    },
    {
      name: 'an upper-case component name',
      code: 'sig_malformed',
      status: 400,
      request: () => raw(`(${STD} "Content-Type")${params()}`, { headers: { 'content-type': 'text/plain' } }),
    },
    { name: 'a component covered twice', code: 'sig_malformed', status: 400, request: () => raw(`(${STD} "@method")${params()}`) },
    { name: 'a component name with a space', code: 'sig_malformed', status: 400, request: () => raw(`(${STD} "x y")${params()}`) },
  ]);
});

describe('step 3: parameters (§3.2-3.4)', () => {
  table([
    { name: 'alg parameter present', code: 'sig_params', status: 400, request: () => raw(`(${STD})${params(';alg="ecdsa-p256-sha256"')}`) },
    { name: 'keyid parameter present', code: 'sig_params', status: 400, request: () => raw(`(${STD})${params(';keyid="k"')}`) },
    { name: 'nonce missing', code: 'sig_params', status: 400, request: () => raw(`(${STD})${params('', { omit: ['nonce'] })}`) },
    { name: 'created missing', code: 'sig_params', status: 400, request: () => raw(`(${STD})${params('', { omit: ['created'] })}`) },
    { name: 'expires missing', code: 'sig_params', status: 400, request: () => raw(`(${STD})${params('', { omit: ['expires'] })}`) },
    { name: 'wimse-aud missing', code: 'sig_params', status: 400, request: () => raw(`(${STD})${params('', { omit: ['wimse-aud'] })}`) },
    {
      name: 'created is a decimal',
      code: 'sig_params',
      status: 400,
      request: () =>
        raw(`(${STD});created=${now}.5;expires=${now + 60};nonce="d";tag="wimse-workload-to-workload";wimse-aud="${AUDIENCE}/orders"`),
    },
    {
      name: 'expires is a string',
      code: 'sig_params',
      status: 400,
      request: () =>
        raw(`(${STD});created=${now};expires="${now + 60}";nonce="e";tag="wimse-workload-to-workload";wimse-aud="${AUDIENCE}/orders"`),
    },
    { name: 'nonce is empty', code: 'sig_params', status: 400, request: () => raw(`(${STD})${params('', { omit: ['nonce'] })};nonce=""`) },
    {
      name: 'nonce longer than 256 characters',
      code: 'sig_params',
      status: 400,
      request: () => raw(`(${STD})${params('', { omit: ['nonce'] })};nonce="${'n'.repeat(257)}"`),
    },
    {
      name: 'nonce is a token, not a string',
      code: 'sig_params',
      status: 400,
      request: () => raw(`(${STD})${params('', { omit: ['nonce'] })};nonce=abc`),
    },
    {
      name: 'wimse-aud is a token',
      code: 'sig_params',
      status: 400,
      request: () => raw(`(${STD})${params('', { omit: ['wimse-aud'] })};wimse-aud=svc`),
    },
    {
      name: 'wimse-sign-response is a string',
      code: 'sig_params',
      status: 400,
      request: () => raw(`(${STD})${params(';wimse-sign-response="yes"')}`),
    },
    {
      name: 'wimse-req-nonce on a request',
      code: 'sig_params',
      status: 400,
      request: () => raw(`(${STD})${params(';wimse-req-nonce="x"')}`),
    },
    {
      name: 'expires before created',
      code: 'sig_params',
      status: 400,
      request: () => raw(`(${STD})${params('', { created: now, expires: now - 1 })}`),
    },
  ]);
});

describe('step 3: covered components (§3)', () => {
  table([
    {
      name: '@method not covered',
      code: 'sig_components',
      status: 400,
      request: () => raw(`("@path" "@query" "workload-identity-token")${params()}`),
    },
    {
      name: '@path not covered',
      code: 'sig_components',
      status: 400,
      request: () => raw(`("@method" "@query" "workload-identity-token")${params()}`),
    },
    {
      name: '@query not covered',
      code: 'sig_components',
      status: 400,
      request: () => raw(`("@method" "@path" "workload-identity-token")${params()}`),
    },
    {
      name: 'workload-identity-token not covered',
      code: 'sig_components',
      status: 400,
      request: () => raw(`("@method" "@path" "@query")${params()}`),
    },
    {
      name: 'content-type present but not covered',
      code: 'sig_components',
      status: 400,
      request: () => raw(`(${STD})${params()}`, { headers: { 'content-type': 'application/json' } }),
    },
    {
      name: 'content-digest present but not covered',
      code: 'sig_components',
      status: 400,
      request: () => raw(`(${STD})${params()}`, { method: 'POST', body: BODY }),
    },
    {
      name: 'authorization present but not covered',
      code: 'sig_components',
      status: 400,
      request: () => raw(`(${STD})${params()}`, { headers: { authorization: 'Bearer abc' } }),
    },
    {
      name: 'txn-token present but not covered',
      code: 'sig_components',
      status: 400,
      request: () => raw(`(${STD})${params()}`, { headers: { 'txn-token': 'txn.abc' } }),
    },
    {
      name: 'a configured context-token field present but not covered',
      code: 'sig_components',
      status: 400,
      request: () => raw(`(${STD})${params()}`, { headers: { 'x-user-context': 'u' } }),
      options: { contextTokenHeaders: ['x-user-context'] },
    },
    {
      name: 'a covered field the request does not carry',
      code: 'sig_components',
      status: 400,
      request: async () => {
        const r = await raw(`(${STD} "txn-token")${params()}`, { headers: { 'txn-token': 't' } });
        const { 'txn-token': _, ...headers } = r.headers;
        return { ...r, headers };
      },
    },
    {
      name: 'an unsupported component parameter (;sf)',
      code: 'sig_components',
      status: 400,
      request: () => raw(`(${STD} "content-type";sf)${params()}`, { headers: { 'content-type': 'text/plain' } }),
    },
    {
      name: 'an unsupported derived component (@target-uri)',
      code: 'sig_components',
      status: 400,
      request: () =>
        raw(`(${STD})${params()}`).then(async (r) => ({
          ...r,
          headers: {
            ...r.headers,
            'signature-input': (r.headers['signature-input'] as string).replace(
              '"workload-identity-token"',
              '"workload-identity-token" "@target-uri"',
            ),
          },
        })),
    },
    {
      name: 'the -06 form (@request-target) without compatibility mode',
      code: 'sig_components',
      status: 400,
      request: () => raw(`("@method" "@request-target" "workload-identity-token")${params()}`),
    },
    {
      name: '@authority covered but no Host',
      code: 'sig_components',
      status: 400,
      request: async () => {
        const r = await raw(`(${STD} "@authority")${params()}`, { headers: { host: 'api.example.org' } });
        const { host: _, ...headers } = r.headers;
        return { ...r, headers };
      },
    },
  ]);

  it('the -06 form is accepted with compat.httpSignature06', async () => {
    const r = await raw(`("@method" "@request-target" "workload-identity-token")${params()}`);
    const p = await verifierFor(issuer, { compat: { httpSignature06: true } }).verify(r);
    expect(p.signature?.legacy).toBe(true);
  });
});

describe('step 4: created / expires', () => {
  table([
    {
      name: 'created in the future (beyond tolerance)',
      code: 'sig_not_yet_valid',
      status: 400,
      request: () => raw(`(${STD})${params('', { created: now + 31 })}`),
    },
    {
      name: 'expired (beyond tolerance)',
      code: 'sig_expired',
      status: 400,
      request: () => raw(`(${STD})${params('', { created: now - 120, expires: now - 31 })}`),
    },
    {
      name: 'too old: created long ago, still unexpired',
      code: 'sig_too_old',
      status: 400,
      request: () => raw(`(${STD})${params('', { created: now - 3600, expires: now + 60 })}`),
    },
    {
      name: 'lifetime expires - created beyond the maximum',
      code: 'sig_too_old',
      status: 400,
      request: () => raw(`(${STD})${params('', { created: now, expires: now + 601 })}`),
    },
    {
      name: 'lifetime beyond a configured maximum',
      code: 'sig_too_old',
      status: 400,
      request: () => signed(),
      options: { maxSignatureLifetime: 30 },
    },
  ]);

  it('created within the tolerance ahead is accepted', async () => {
    await expect(verifierFor(issuer).verify(await raw(`(${STD})${params('', { created: now + 29 })}`))).resolves.toMatchObject({
      method: 'http-sig',
    });
  });
});

describe('step 5: wimse-aud', () => {
  table([
    {
      name: 'another service',
      code: 'sig_aud',
      status: 400,
      request: () => raw(`(${STD})${params('', { aud: 'https://other.example.org/orders' })}`),
    },
    {
      name: 'with the query included',
      code: 'sig_aud',
      status: 400,
      request: () => raw(`(${STD})${params('', { aud: `${AUDIENCE}/orders?id=7` })}`),
    },
    { name: 'another path', code: 'sig_aud', status: 400, request: () => raw(`(${STD})${params('', { aud: `${AUDIENCE}/admin` })}`) },
    {
      name: 'http instead of https',
      code: 'sig_aud',
      status: 400,
      request: () => raw(`(${STD})${params('', { aud: `http://api.example.org/orders` })}`),
    },
    {
      name: 'the request re-routed to another path',
      code: 'sig_aud',
      status: 400,
      request: async () => ({ ...(await signed()), path: '/admin?id=7' }),
    },
  ]);
});

describe('step 6: Content-Digest (RFC 9530)', () => {
  const post = () => signed({ method: 'POST', path: '/orders', body: BODY });
  table([
    {
      name: 'body tampered',
      code: 'digest_mismatch',
      status: 400,
      request: async () => ({ ...(await post()), body: utf8.encode(BODY.replace('1', '9')) }),
    },
    {
      name: 'digest header changed without re-signing',
      code: 'digest_mismatch',
      status: 400,
      request: async () => {
        const r = await post();
        return { ...r, headers: { ...r.headers, 'content-digest': await contentDigest('{}') } };
      },
    },
    {
      name: 'a body without Content-Digest',
      code: 'digest_missing',
      status: 400,
      request: async () => ({ ...(await signed({ method: 'POST', path: '/orders' })), body: utf8.encode(BODY) }),
    },
    {
      name: 'a malformed Content-Digest',
      code: 'digest_malformed',
      status: 400,
      request: () =>
        raw(`(${STD} "content-digest")${params()}`, {
          method: 'POST',
          body: BODY,
          digest: false,
          headers: { 'content-digest': 'sha-256="abc"' },
        }),
    },
    {
      name: 'a Content-Digest with no known algorithm',
      code: 'digest_malformed',
      status: 400,
      request: () =>
        raw(`(${STD} "content-digest")${params()}`, {
          method: 'POST',
          body: BODY,
          digest: false,
          headers: { 'content-digest': 'md5=:AAAA:' },
        }),
    },
    {
      name: 'a Content-Digest on a request whose body the adapter did not pass',
      code: 'digest_mismatch',
      status: 400,
      request: async () => {
        const { body: _, ...r } = await post();
        return r;
      },
    },
  ]);
});

describe('step 7: the signature itself', () => {
  const post = () => signed({ method: 'POST', path: '/orders', body: BODY });
  table([
    {
      name: 'body and digest both replaced consistently',
      code: 'sig_invalid',
      status: 400,
      request: async () => {
        const r = await post();
        const other = '{"flavor":"chocolate","amount":9}';
        return { ...r, body: utf8.encode(other), headers: { ...r.headers, 'content-digest': await contentDigest(other) } };
      },
    },
    { name: 'method changed', code: 'sig_invalid', status: 400, request: async () => ({ ...(await signed()), method: 'DELETE' }) },
    {
      name: 'a query added',
      code: 'sig_invalid',
      status: 400,
      request: async () => ({ ...(await signed({ path: '/orders' })), path: '/orders?admin=1' }),
    },
    { name: 'the query removed', code: 'sig_invalid', status: 400, request: async () => ({ ...(await signed()), path: '/orders' }) },
    { name: 'the query changed', code: 'sig_invalid', status: 400, request: async () => ({ ...(await signed()), path: '/orders?id=8' }) },
    {
      name: 'authority rewritten inside the covered set',
      code: 'sig_invalid',
      status: 400,
      request: async () => {
        const r = await raw(`(${STD} "@authority")${params()}`, { headers: { host: 'api.example.org' } });
        return { ...r, headers: { ...r.headers, host: 'evil.example.net' } };
      },
    },
    {
      name: 'content-type changed',
      code: 'sig_invalid',
      status: 400,
      request: async () => {
        const r = await signed({ method: 'POST', path: '/orders', headers: { 'content-type': 'application/json' }, body: BODY });
        return { ...r, headers: { ...r.headers, 'content-type': 'text/plain' } };
      },
    },
    {
      name: 'signed by a key other than cnf',
      code: 'sig_invalid',
      status: 400,
      request: () => raw(`(${STD})${params()}`, { key: stranger }),
    },
    {
      name: 'signature bytes tampered',
      code: 'sig_invalid',
      status: 400,
      request: async () => {
        const r = await signed();
        const sig = r.headers.signature as string;
        return { ...r, headers: { ...r.headers, signature: `wimse=:${sig.at(7) === 'A' ? 'B' : 'A'}${sig.slice(8)}` } };
      },
    },
    {
      name: 'an empty signature',
      code: 'sig_invalid',
      status: 400,
      request: async () => {
        const r = await signed();
        return { ...r, headers: { ...r.headers, signature: 'wimse=::' } };
      },
    },
    {
      name: 'a signature of the wrong length',
      code: 'sig_invalid',
      status: 400,
      request: async () => {
        const r = await signed();
        return { ...r, headers: { ...r.headers, signature: `wimse=:${Buffer.alloc(65, 1).toString('base64')}:` } };
      },
    },
    {
      name: 'a parameter changed after signing',
      code: 'sig_invalid',
      status: 400,
      request: async () => {
        const r = await signed();
        return {
          ...r,
          headers: {
            ...r.headers,
            'signature-input': (r.headers['signature-input'] as string).replace(`expires=${now + 60}`, `expires=${now + 59}`),
          },
        };
      },
    },
    {
      name: 'an ES256 signature in DER form',
      code: 'sig_invalid',
      status: 400,
      request: async () => {
        const r = await signed();
        const rs = Buffer.from((r.headers.signature as string).slice(7, -1), 'base64');
        const int = (b: Buffer) => (b[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
        const [x, y] = [int(rs.subarray(0, 32)), int(rs.subarray(32))];
        const der = Buffer.concat([Buffer.from([0x30, x.length + y.length + 4, 2, x.length]), x, Buffer.from([2, y.length]), y]);
        return { ...r, headers: { ...r.headers, signature: `wimse=:${der.toString('base64')}:` } };
      },
    },
  ]);
});

describe('step 8: replay', () => {
  it('a replayed nonce is rejected by the same verifier', async () => {
    const verifier = verifierFor(issuer);
    const r = await signed();
    await verifier.verify(r);
    await expect(verifier.verify(r)).rejects.toMatchObject({ code: 'sig_replay', status: 400 });
  });

  it('the nonce is shared with no other proof: a rejected request does not burn it', async () => {
    const verifier = verifierFor(issuer);
    const r = await signed();
    await expect(verifier.verify({ ...r, method: 'POST' })).rejects.toMatchObject({ code: 'sig_invalid' });
    await expect(verifier.verify(r)).resolves.toMatchObject({ method: 'http-sig' });
  });

  it('a replay store that fails is a 503, never an acceptance', async () => {
    const e = await rejection(await signed(), { replayStore: { checkAndStore: () => Promise.reject(new Error('down')) } });
    expect({ code: e.code, status: e.status }).toEqual({ code: 'replay_unavailable', status: 503 });
  });
});

describe('signature options', () => {
  it('a negative maxSignatureLifetime is refused at start-up', () => {
    expect(() => verifierFor(issuer, { maxSignatureLifetime: -5 })).toThrow(/maxSignatureLifetime/);
  });
});
