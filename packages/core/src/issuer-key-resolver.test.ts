/** createIssuerKeyResolver: an outside issuer's keys under the WIT issuer key rules (public-key.ts). */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { isWimseError } from './errors.js';
import { createIssuerKeyResolver } from './index.js';

// The Ed25519 identity point (y = 1): a small-order key (RFC 8032 §5.1.3 decoding, order 1).
const IDENTITY_X = Buffer.concat([Buffer.from([1]), Buffer.alloc(31)]).toString('base64url');

async function served(body: unknown): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('createIssuerKeyResolver: degenerate keys are never used', () => {
  it('a configured small-order Ed25519 key throws TypeError naming the option', () => {
    expect(() => createIssuerKeyResolver({ keys: { keys: [{ kty: 'OKP', crv: 'Ed25519', x: IDENTITY_X }] } }, { where: 'idp' })).toThrow(
      /idp\.keys: .*small order/,
    );
  });

  it('a fetched small-order key rejects with trust_unavailable when selected', async () => {
    const jwks = await served({ keys: [{ kty: 'OKP', crv: 'Ed25519', x: IDENTITY_X, kid: 'small' }] });
    try {
      const getKey = createIssuerKeyResolver({ keys: jwks.url }, { name: 'idp' });
      const error = await Promise.resolve(getKey({ alg: 'EdDSA', kid: 'small' }, { payload: '', signature: '' } as never)).catch(
        (e: unknown) => e,
      );
      expect(isWimseError(error) && error.code).toBe('trust_unavailable');
    } finally {
      await jwks.close();
    }
  });

  it('a fetched sound key verifies a token it signed', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
    const jwks = await served({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' }] });
    try {
      const token = await new SignJWT({ sub: 'x' }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).sign(privateKey);
      const { payload } = await jwtVerify(token, createIssuerKeyResolver({ keys: jwks.url }), { algorithms: ['ES256'] });
      expect(payload.sub).toBe('x');
    } finally {
      await jwks.close();
    }
  });
});
