/**
 * Differential test: the Node fast path and jose over Web Crypto must accept and reject exactly
 * the same proofs — every WPT in the vectors, every derived negative case, and generated valid
 * and broken tokens for every supported algorithm.
 */
import { describe, expect, it } from 'vitest';
import { decodeJwt, decodeProtectedHeader, importJWK, type CryptoKey, type JWK } from 'jose';
import { SUPPORTED_ALGORITHMS } from './algorithms.js';
import { importProofKey, type ProofKey } from './proof-key.js';
import { verifyProofJws } from './proof-jws.js';
import { keyPair } from '@wimse/test-support/factory';
import { signJws, unsigned, withPayload } from '@wimse/test-support/tokens';
import { vector } from './test-support/vectors.js';

async function outcome(token: string, key: ProofKey): Promise<string> {
  let header: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    return 'reject';
  }
  return verifyProofJws(token, key, header).then(
    (r) => `accept ${new TextDecoder().decode(r.payload)} ${JSON.stringify(r.protectedHeader)}`,
    () => 'reject',
  );
}

async function agree(token: string, jwk: JWK, alg: (typeof SUPPORTED_ALGORITHMS)[number]): Promise<string> {
  const fast = await importProofKey(jwk, alg);
  expect(fast.nodeKey).toBeDefined();
  // The reference: the same JWK imported by jose for Web Crypto alone.
  const web: ProofKey = { jwk: fast.jwk, alg, key: (await importJWK({ ...jwk, ext: true }, alg)) as CryptoKey };
  const [a, b] = [await outcome(token, fast), await outcome(token, web)];
  expect(a).toBe(b);
  return a;
}

const cnfOf = (wit: string) => (decodeJwt(wit).cnf as { jwk: JWK & { alg: 'EdDSA' } }).jwk;

describe('vectors', () => {
  it.each(['wpt-02-request', 'wpt-01-request-legacy'])('%s WPT', async (name) => {
    const v = vector(name);
    expect(await agree(v.wpt, cnfOf(v.wit), 'EdDSA')).toMatch(/^accept/);
  });

  const d = vector('derived-wpt-negative-cases');
  it.each((d.cases as { id: string; wpt: string }[]).map((c) => [c.id, c.wpt]))('derived case %s', async (_, wpt) => {
    // Every derived case is validly signed under its own header alg; only EdDSA equals cnf.jwk.alg.
    const header = JSON.parse(Buffer.from(wpt.split('.')[0]!, 'base64url').toString()) as { alg: string };
    expect(await agree(wpt, cnfOf(d.wit), 'EdDSA')).toMatch(header.alg === 'EdDSA' ? /^accept/ : /^reject/);
  });
});

describe.each(SUPPORTED_ALGORITHMS)('%s', (alg) => {
  it('valid, tampered, foreign key, wrong alg, crit, truncated and none agree', async () => {
    const own = await keyPair(alg);
    const other = await keyPair(alg);
    const claims = { aud: 'https://a.example/x', exp: 2_000_000_000, jti: 'j', wth: 'w' };
    const valid = await signJws({ alg, typ: 'wpt+jwt' }, claims, own.privateKey);
    const sig = valid.split('.')[2]!;
    const cases: [string, string][] = [
      ['valid', valid],
      ['tampered payload', withPayload(valid, { ...claims, aud: 'https://b.example/x' })],
      ['foreign key', await signJws({ alg, typ: 'wpt+jwt' }, claims, other.privateKey)],
      [
        'header alg changed',
        `${Buffer.from(JSON.stringify({ alg: alg === 'ES256' ? 'ES384' : 'ES256', typ: 'wpt+jwt' })).toString('base64url')}.${valid.split('.')[1]}.${sig}`,
      ],
      ['unknown crit', await signJws({ alg, typ: 'wpt+jwt', crit: ['x-ext'], 'x-ext': 1 }, claims, own.privateKey)],
      ['truncated signature', `${valid.slice(0, valid.lastIndexOf('.') + 1)}${sig.slice(0, sig.length - 4)}`],
      ['empty signature', `${valid.slice(0, valid.lastIndexOf('.') + 1)}`],
      ['alg none', unsigned({ typ: 'wpt+jwt' }, claims, sig)],
    ];
    for (const [name, token] of cases) {
      const result = await agree(token, own.publicJwk, alg);
      expect(`${name}: ${result.split(' ')[0]}`).toBe(`${name}: ${name === 'valid' ? 'accept' : 'reject'}`);
    }
  });
});
