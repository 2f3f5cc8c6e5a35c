/**
 * Generated requests for the fuzz suite: a fresh, valid WPT, HTTP-signature or forwarded-mTLS
 * request (or one whose WIT/WPT claims are arbitrary but properly signed, to reach the checks after
 * the signatures), then up to three mutations of its header values, token segments, structured
 * fields, body, path, query or method. Everything is plain data, so fast-check shrinks it.
 */
import fc from 'fast-check';
import { base64url } from 'jose';
import { tokenHash } from '@wimse/core';
import { ADMIN, AUDIENCE, CLIENT, craftWit, craftWpt, nowSeconds, type Fixtures } from '../conformance/fixtures.js';
import type { RawRequest } from '../conformance/http.js';

/** Paths every target serves (test/conformance/targets/contract.ts). */
export const ROUTES = ['/whoami', '/admin', '/optional', '/hooked/whoami', '/echo', '/health'] as const;

/** Fields the mutations aim at (besides those the base request carries). */
const FIELDS = [
  'authorization',
  'workload-identity-token',
  'workload-proof-token',
  'signature-input',
  'signature',
  'content-digest',
  'content-type',
  'txn-token',
  'x-user-context',
  'client-cert',
  'client-cert-chain',
] as const;

type Proof = 'wpt' | 'sig' | 'mtls' | 'crafted-wit' | 'crafted-wpt' | 'none';

export interface Base {
  proof: Proof;
  admin: boolean;
  route: (typeof ROUTES)[number];
  txnToken: boolean;
  userContext: boolean;
  /** Claim overrides for the crafted tokens. */
  claims: Record<string, unknown>;
  header: Record<string, unknown>;
  chain: boolean;
}

export type Op =
  | { op: 'set'; field: string; value: string }
  | { op: 'remove'; field: string }
  | { op: 'repeat'; field: string; value: string }
  | { op: 'splice'; field: string; at: number; remove: number; insert: string }
  | { op: 'segment'; field: string; index: number; value: string }
  | { op: 'segments'; field: string; keep: number; extra: string[] }
  | { op: 'param'; field: string; name: string; value: string }
  | { op: 'components'; value: string }
  | { op: 'der'; at: number; xor: number; truncate: boolean }
  | { op: 'body'; value: string }
  | { op: 'path'; value: string }
  | { op: 'query'; value: string }
  | { op: 'method'; value: string };

export interface Case {
  base: Base;
  ops: Op[];
}

/** What the sender needs beyond the request: the TCP source address (the trusted proxy or not). */
export interface Generated {
  request: RawRequest;
  fromProxy: boolean;
}

// Header values Node's client can send: tab, visible ASCII and Latin-1 (RFC 9110 §5.5 obs-text).
const fieldChar = fc.oneof(
  { weight: 8, arbitrary: fc.mapToConstant({ num: 95, build: (i) => String.fromCharCode(0x20 + i) }) },
  { weight: 1, arbitrary: fc.constantFrom('\t', '\u00ff', '\u0080', '\u00e9') },
);
const fieldText = (maxLength = 40) => fc.string({ unit: fieldChar, maxLength });
const b64urlText = fc.string({
  unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'),
  maxLength: 60,
});
const encodeJson = (v: unknown) => base64url.encode(JSON.stringify(v) ?? 'null');

// JSON values that make validators think: wrong types, extremes, prototypes, nesting.
const oddValue = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, 1.5, 1e308, -1e308, 2 ** 53 + 1, '', 'x', '__proto__', [], {}, [[]], { __proto__: { x: 1 } }),
  fc.jsonValue({ maxDepth: 2 }),
);

const jwk = (f: Fixtures) =>
  fc.oneof(
    fc.constant(f.client.publicJwk),
    fc.constant({ ...f.client.publicJwk, alg: 'ES384' }),
    fc.constant({ ...f.client.publicJwk, alg: 'none' }),
    fc.constant({ ...f.client.publicJwk, d: 'AAAA' }),
    fc.constant({ kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA', alg: 'ES256' }),
    fc.constant({ kty: 'RSA', n: 'AQAB', e: 'AQAB', alg: 'RS256' }),
    fc.constant({ kty: 'OKP', crv: 'Ed25519', x: 'AAAA', alg: 'EdDSA' }),
    fc.constant({ kty: 'oct', k: 'AAAA', alg: 'HS256' }),
    fc.record(
      { kty: oddValue, crv: oddValue, x: oddValue, y: oddValue, alg: fc.constantFrom('ES256', 'EdDSA', 'RS256', 'PS256') },
      { requiredKeys: [] },
    ),
    oddValue,
  );

const claimOverrides = (f: Fixtures) =>
  fc.record(
    {
      sub: fc.oneof(
        fc.constantFrom(
          CLIENT,
          ADMIN,
          'spiffe://example.org',
          'spiffe://other.org/x',
          'wimse://example.org/a',
          'spiffe://example.org/a/../b',
          'spiffe://EXAMPLE.org/a',
          'spiffe://example.org:8/a',
          `spiffe://example.org/${'a'.repeat(3000)}`,
        ),
        oddValue,
      ),
      exp: fc.oneof(fc.constantFrom(nowSeconds() + 60, nowSeconds() - 120, nowSeconds() + 10 ** 9), oddValue),
      nbf: fc.oneof(fc.constant(nowSeconds() + 3600), oddValue),
      iat: oddValue,
      iss: oddValue,
      jti: fc.oneof(fc.string({ maxLength: 300 }), oddValue),
      cnf: fc.oneof(
        jwk(f).map((k) => ({ jwk: k })),
        oddValue,
      ),
      aud: fc.oneof(fc.constantFrom(`${AUDIENCE}/whoami`, [`${AUDIENCE}/whoami`], AUDIENCE, 'https://elsewhere.example/whoami'), oddValue),
      wth: fc.oneof(fc.constant('wrong'), oddValue),
      tth: oddValue,
      oth: fc.oneof(fc.constantFrom({ 'x-user-context': 'x' }, { __proto__: 'x' }, { 'x-other': 'x' }), oddValue),
      ath: oddValue,
    },
    { requiredKeys: [] },
  );

const headerOverrides = fc.record(
  {
    typ: fc.oneof(fc.constantFrom('wit+jwt', 'wpt+jwt', 'application/WIT+JWT', 'JWT'), oddValue),
    kid: fc.oneof(fc.constantFrom('issuer-1', 'nope'), oddValue),
    jku: fc.constant('https://attacker.example/jwks'),
    x5c: oddValue,
    zip: fc.constant('DEF'),
  },
  { requiredKeys: [] },
);

export function baseArbitrary(f: Fixtures): fc.Arbitrary<Base> {
  return fc.record({
    proof: fc.constantFrom<Proof>('wpt', 'wpt', 'sig', 'sig', 'mtls', 'mtls', 'crafted-wit', 'crafted-wpt', 'none'),
    admin: fc.boolean(),
    route: fc.constantFrom(...ROUTES),
    txnToken: fc.boolean(),
    userContext: fc.boolean(),
    claims: claimOverrides(f),
    header: headerOverrides,
    chain: fc.boolean(),
  });
}

// RFC 9651 items and fragments: integers past 15 digits, decimals, strings, tokens, byte sequences, dates, display strings, inner lists.
const sfValue = fc.oneof(
  fc.integer().map(String),
  fc.constantFrom(
    '999999999999999',
    '9999999999999999',
    '-999999999999999',
    '1.5',
    '1.1234',
    '0',
    '"',
    '""',
    '"a\\"b"',
    '?1',
    '?0',
    '@1',
    '%"x"',
    ':AAA=:',
    '::',
    ':!:',
    'tok',
    '*',
    '()',
    '("a" "b");x',
    '("@method" "@method")',
  ),
  fc.string({ unit: fc.constantFrom('"', ':', ';', ',', '(', ')', '=', '?', '@', '%', ' ', 'a', '1', '.', '-', '*', '\\'), maxLength: 12 }),
);

const field = (base: fc.Arbitrary<string> = fc.constantFrom(...FIELDS)) => base;

export function opArbitrary(): fc.Arbitrary<Op> {
  const jsonSegment = fc.oneof(
    fc.jsonValue({ maxDepth: 2 }).map(encodeJson),
    fc
      .constantFrom(
        { alg: 'none' },
        { alg: 'ES256', crit: ['x'] },
        { alg: 'ES256', b64: false, crit: ['b64'] },
        { alg: 'HS256' },
        { alg: 'EdDSA', typ: 'wpt+jwt' },
      )
      .map(encodeJson),
    b64urlText,
    fc.constantFrom('', 'A', 'AAAAA', '_-_-_'),
  );
  return fc.oneof(
    fc.record({ op: fc.constant('set' as const), field: field(), value: fc.oneof(fieldText(), fieldText(2000)) }),
    fc.record({ op: fc.constant('remove' as const), field: field() }),
    fc.record({ op: fc.constant('repeat' as const), field: field(), value: fieldText() }),
    fc.record({ op: fc.constant('splice' as const), field: field(), at: fc.nat(), remove: fc.nat({ max: 8 }), insert: fieldText(8) }),
    fc.record({
      op: fc.constant('segment' as const),
      field: field(fc.constantFrom('authorization', 'workload-identity-token')),
      index: fc.nat({ max: 2 }),
      value: jsonSegment,
    }),
    fc.record({
      op: fc.constant('segments' as const),
      field: field(fc.constantFrom('authorization', 'workload-identity-token')),
      keep: fc.nat({ max: 3 }),
      extra: fc.array(b64urlText, { maxLength: 3 }),
    }),
    fc.record({
      op: fc.constant('param' as const),
      field: field(fc.constantFrom('signature-input', 'signature', 'content-digest', 'client-cert-chain')),
      name: fc.constantFrom(
        'created',
        'expires',
        'nonce',
        'tag',
        'wimse-aud',
        'wimse-sign-response',
        'wimse-req-nonce',
        'keyid',
        'alg',
        'sha-256',
        'sha-512',
        'wimse',
        'sig1',
      ),
      value: sfValue,
    }),
    fc.record({
      op: fc.constant('components' as const),
      value: fc
        .array(
          fc.oneof(
            fc.constantFrom(
              '"@method"',
              '"@path"',
              '"@query"',
              '"@authority"',
              '"@request-target"',
              '"@status"',
              '"@query-param";name="a"',
              '"workload-identity-token"',
              '"content-digest";req',
              '"Content-Type"',
              '"x"',
              '"@"',
            ),
            sfValue,
          ),
          { maxLength: 8 },
        )
        .map((items) => `(${items.join(' ')})`),
    }),
    fc.record({ op: fc.constant('der' as const), at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }), truncate: fc.boolean() }),
    fc.record({
      op: fc.constant('body' as const),
      value: fc.oneof(fc.json({ maxDepth: 2 }), fc.string({ maxLength: 200 }), fc.constantFrom('', '{', '{"a":', 'null', '\u0000')),
    }),
    fc.record({
      op: fc.constant('path' as const),
      value: fc.oneof(
        fc.constantFrom(...ROUTES),
        fc.constantFrom(
          '/',
          '//whoami',
          '/whoami/',
          '/WHOAMI',
          '/whoami%00',
          '/%',
          '/%zz',
          '/..%2fadmin',
          '/./whoami',
          '*',
          'http://127.0.0.1/whoami',
          `/${'a'.repeat(5000)}`,
        ),
        fc.string({ unit: fc.mapToConstant({ num: 94, build: (i) => String.fromCharCode(0x21 + i) }), maxLength: 30 }).map((p) => `/${p}`),
      ),
    }),
    fc.record({
      op: fc.constant('query' as const),
      value: fc.string({ unit: fc.mapToConstant({ num: 94, build: (i) => String.fromCharCode(0x21 + i) }), maxLength: 30 }),
    }),
    fc.record({
      op: fc.constant('method' as const),
      value: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'get', 'FOO'),
    }),
  );
}

export function caseArbitrary(f: Fixtures): fc.Arbitrary<Case> {
  return fc.record({ base: baseArbitrary(f), ops: fc.array(opArbitrary(), { maxLength: 3 }) });
}

/** Turns a case into a request: signs a fresh base (unique jti/nonce), then applies the mutations. */
export async function materialize(
  c: Case,
  f: Fixtures,
  der: { client: Uint8Array; admin: Uint8Array; root: Uint8Array },
): Promise<Generated> {
  const { base } = c;
  const w = base.admin ? f.admin : f.client;
  const post = base.route === '/echo';
  const method = post ? 'POST' : 'GET';
  const body = post ? JSON.stringify({ n: 1, s: 'fuzz' }) : undefined;
  const headers: Record<string, string | string[]> = post ? { 'content-type': 'application/json' } : {};
  const url = AUDIENCE + base.route;
  const contextTokens = base.userContext ? { 'x-user-context': 'ctx-token' } : undefined;
  const txnToken = base.txnToken ? 'txn-token-value' : undefined;
  let fromProxy = false;
  switch (base.proof) {
    case 'wpt':
      Object.assign(
        headers,
        await w.signer.wptHeaders({
          url,
          ...(txnToken === undefined ? {} : { txnToken }),
          ...(contextTokens === undefined ? {} : { contextTokens }),
        }),
      );
      break;
    case 'sig': {
      const extra: Record<string, string> = {
        ...(headers as Record<string, string>),
        ...(txnToken === undefined ? {} : { 'txn-token': txnToken }),
        ...contextTokens,
      };
      Object.assign(
        headers,
        extra,
        await w.signer.httpSigHeaders({ method, url, headers: extra, ...(body === undefined ? {} : { body }) }),
      );
      break;
    }
    case 'mtls':
      fromProxy = true;
      headers['client-cert'] = `:${Buffer.from(base.admin ? der.admin : der.client).toString('base64')}:`;
      if (base.chain) headers['client-cert-chain'] = `:${Buffer.from(der.root).toString('base64')}:`;
      break;
    case 'crafted-wit': {
      const wit = await signed(() => craftWit(f, w, { claims: base.claims, header: base.header }));
      headers['workload-identity-token'] = wit;
      headers.authorization = `WPT ${await signed(() => craftWpt(w, base.route, { wit }))}`;
      break;
    }
    case 'crafted-wpt': {
      headers['workload-identity-token'] = w.wit;
      const claims: Record<string, unknown> = { ...base.claims };
      if (txnToken !== undefined) headers['txn-token'] = txnToken;
      if (base.claims.tth === undefined && txnToken !== undefined) claims.tth = await tokenHash(txnToken);
      headers.authorization = `WPT ${await signed(() => craftWpt(w, base.route, { claims, header: base.header }))}`;
      break;
    }
    case 'none':
      break;
  }
  const request: RawRequest & { headers: Record<string, string | string[]> } = {
    method,
    path: base.route,
    headers,
    ...(body === undefined ? {} : { body }),
  };
  for (const op of c.ops) apply(op, request);
  return { request, fromProxy };
}

// jose refuses to sign some header overrides (e.g. a non-string typ): send the unsigned JWS shape then.
async function signed(sign: () => Promise<string>): Promise<string> {
  try {
    return await sign();
  } catch {
    return `${encodeJson({ alg: 'ES256' })}.${encodeJson({})}.AAAA`;
  }
}

const JWS_RE = /[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*/;

function apply(op: Op, r: RawRequest & { headers: Record<string, string | string[]> }): void {
  const h = r.headers;
  const current = (name: string): string | undefined => {
    const v = h[name];
    return Array.isArray(v) ? v[0] : v;
  };
  switch (op.op) {
    case 'set':
      h[op.field] = op.value;
      return;
    case 'remove':
      delete h[op.field];
      return;
    case 'repeat':
      h[op.field] = [current(op.field) ?? '', op.value];
      return;
    case 'splice': {
      const v = current(op.field) ?? '';
      const at = v.length === 0 ? 0 : op.at % (v.length + 1);
      h[op.field] = v.slice(0, at) + op.insert + v.slice(at + op.remove);
      return;
    }
    case 'segment': {
      const v = current(op.field);
      const m = v === undefined ? null : JWS_RE.exec(v);
      if (v === undefined || m === null) return;
      const parts = m[0].split('.');
      parts[op.index] = op.value;
      h[op.field] = v.replace(m[0], parts.join('.'));
      return;
    }
    case 'segments': {
      const v = current(op.field);
      const m = v === undefined ? null : JWS_RE.exec(v);
      if (v === undefined || m === null) return;
      h[op.field] = v.replace(m[0], [...m[0].split('.').slice(0, op.keep), ...op.extra].join('.'));
      return;
    }
    case 'param': {
      const v = current(op.field) ?? '';
      // Replace `name=<item>` (parameter or dictionary member), or add it as a parameter.
      const re = new RegExp(`([;,]\\s*|^)${op.name}=("[^"]*"|:[^:]*:|[^;,\\s]*)`);
      h[op.field] = re.test(v) ? v.replace(re, `$1${op.name}=${op.value}`) : `${v};${op.name}=${op.value}`;
      return;
    }
    case 'components': {
      const v = current('signature-input');
      if (v !== undefined) h['signature-input'] = v.replace(/\([^)]*\)/, op.value);
      return;
    }
    case 'der': {
      const v = current('client-cert');
      const m = v === undefined ? null : /^:([A-Za-z0-9+/=]*):$/.exec(v);
      if (m === null) return;
      const bytes = Buffer.from(m[1]!, 'base64');
      if (bytes.length === 0) return;
      const at = op.at % bytes.length;
      const changed = op.truncate ? bytes.subarray(0, at) : Buffer.from(bytes.map((b, i) => (i === at ? b ^ op.xor : b)));
      h['client-cert'] = `:${changed.toString('base64')}:`;
      return;
    }
    case 'body':
      r.body = op.value;
      return;
    case 'path':
      r.path = op.value + (r.path.includes('?') ? r.path.slice(r.path.indexOf('?')) : '');
      return;
    case 'query':
      r.path = `${r.path.split('?')[0]}?${op.value}`;
      return;
    case 'method':
      r.method = op.value;
      return;
  }
}
