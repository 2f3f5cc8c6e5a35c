/**
 * Differential test: WIT verification on Node (node:crypto with the issuer key's KeyObject, time
 * claims checked in wit-signature.ts) and on Web Crypto alone (jose's jwtVerify) must accept and
 * refuse exactly the same WITs, with the same error codes, for every supported issuer algorithm.
 */
import { describe, expect, it, vi } from 'vitest';
import { SUPPORTED_ALGORITHMS, type WimseAlgorithm } from './algorithms.js';
import { createIssuer, createWorkload, keyPair, NOW, TRUST_DOMAIN, verifierFor } from '@wimse/test-support/factory';
import { signJws, withPayload } from '@wimse/test-support/tokens';

vi.resetModules();
vi.doMock('./node-crypto.js', () => ({ nodeCrypto: () => undefined, nodeSignatures: () => undefined }));
const web = await import('@wimse/test-support/factory');
vi.doUnmock('./node-crypto.js');

type Verifier = { verifyWit(token: string): Promise<{ claims: unknown; proofKey: { nodeKey?: unknown } }> };
const outcome = (v: Verifier, token: string) =>
  v.verifyWit(token).then(
    (w) => `accept ${JSON.stringify(w.claims)}`,
    (e: { code?: string }) => `reject ${e.code ?? String(e)}`,
  );

const now = NOW / 1000;
const TOLERANCE = 30; // the default clockTolerance (options.ts)

describe.each(SUPPORTED_ALGORITHMS.filter((a) => a !== 'Ed25519'))(
  'WIT signed with %s: node:crypto and jose agree',
  (alg: WimseAlgorithm) => {
    it('valid, tampered, foreign key, bad signature encoding, other alg, crit/b64, and every iat/nbf/exp edge', async () => {
      const issuer = await createIssuer(alg, 'k1');
      const rogue = await keyPair(alg);
      const { publicJwk } = await createWorkload(issuer);
      const sub = `spiffe://${TRUST_DOMAIN}/client`;
      const base = { sub, iat: now, exp: now + 600, jti: 'j', cnf: { jwk: { ...publicJwk, alg: 'ES256' } } };
      const header = { alg, typ: 'wit+jwt', kid: 'k1' };
      const sign = (claims: Record<string, unknown>, h: Record<string, unknown> = header, key = issuer.privateKey) =>
        signJws(h, { ...base, ...claims }, key);
      const valid = await sign({});
      const [h, p, s] = valid.split('.') as [string, string, string];
      const other = alg === 'ES256' ? 'ES384' : 'ES256';
      const cases: [string, string][] = [
        ['valid', valid],
        ['tampered claims', withPayload(valid, { ...base, sub: `spiffe://${TRUST_DOMAIN}/admin` })],
        ['signed by another key', await sign({}, header, rogue.privateKey)],
        ['signature truncated', `${h}.${p}.${s.slice(0, -2)}`],
        ['signature not base64url-decodable (length 1 mod 4)', `${h}.${p}.${s.slice(0, 4 * Math.floor(s.length / 4) - 3)}`],
        ['header names another allowed alg', `${Buffer.from(JSON.stringify({ ...header, alg: other })).toString('base64url')}.${p}.${s}`],
        ['crit b64 true', await sign({}, { ...header, crit: ['b64'], b64: true })],
        ['b64 without crit', await sign({}, { ...header, b64: false })],
        ['exp exactly now - tolerance', await sign({ exp: now - TOLERANCE })],
        ['exp one second later', await sign({ exp: now - TOLERANCE + 1 })],
        ['exp as a string', await sign({ exp: String(now + 600) })],
        ['exp absent', await sign({ exp: undefined })],
        ['nbf now + tolerance', await sign({ nbf: now + TOLERANCE })],
        ['nbf one second later', await sign({ nbf: now + TOLERANCE + 1 })],
        ['nbf as a string', await sign({ nbf: String(now) })],
        ['iat as a string', await sign({ iat: String(now) })],
        ['iat null', await sign({ iat: null })],
        ['exp fractional', await sign({ exp: now - TOLERANCE + 0.5 })],
      ];
      const [fast, reference] = [verifierFor(issuer), web.verifierFor(issuer)];
      // The reference really runs without node:crypto.
      expect((await fast.verifyWit(valid)).proofKey.nodeKey).toBeDefined();
      expect((await reference.verifyWit(valid)).proofKey.nodeKey).toBeUndefined();
      const results = [];
      for (const [name, token] of cases) results.push([name, await outcome(fast, token), await outcome(reference, token)]);
      expect(results.filter(([, a, b]) => a !== b)).toEqual([]);
      expect(results.find(([n]) => n === 'valid')![1]).toMatch(/^accept/);
      expect(results.find(([n]) => n === 'tampered claims')![1]).toBe('reject wit_signature');
      expect(results.find(([n]) => n === 'exp exactly now - tolerance')![1]).toBe('reject wit_expired');
      expect(results.find(([n]) => n === 'nbf one second later')![1]).toBe('reject wit_not_yet_valid');
    }, 30_000);
  },
);

describe('WIT verification at a clock between whole seconds', () => {
  it('agrees on exp at the second boundary', async () => {
    const issuer = await createIssuer('ES256', 'k1');
    const { publicJwk } = await createWorkload(issuer);
    const token = await signJws(
      { alg: 'ES256', typ: 'wit+jwt', kid: 'k1' },
      { sub: `spiffe://${TRUST_DOMAIN}/client`, exp: now - TOLERANCE + 1, cnf: { jwk: { ...publicJwk, alg: 'ES256' } } },
      issuer.privateKey,
    );
    for (const ms of [0, 999, 1000]) {
      const clock = { now: () => NOW + ms };
      expect(await outcome(verifierFor(issuer, clock), token)).toBe(await outcome(web.verifierFor(issuer, clock), token));
    }
  });
});
