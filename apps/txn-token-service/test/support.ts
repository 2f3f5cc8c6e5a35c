/**
 * Test rig: a trust domain whose WITs are signed by a test issuer key, an external OAuth issuer
 * (its own key pair, independent of everything under test), and the TTS on a free loopback port.
 */
import { mkdtemp } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { createWimseFetch, issueWit, type WimseFetch } from '@wimse/core';
import { createKeyRing, type KeyRing } from '@wimse/identity-server/keyring';
import { SignJWT, exportJWK, generateKeyPair, type JWK, type JWTPayload, type CryptoKey } from 'jose';
import { createTxnTokenService, type TxnTokenServiceConfig } from '../src/service.js';

export const TD = 'example.org';
export const OAUTH_ISSUER = 'https://idp.example.com';
export const OAUTH_AUDIENCE = 'https://api.example.org';
export const GATEWAY = `spiffe://${TD}/gateway`;
export const INTERNAL = `spiffe://${TD}/batch`;
export const STRANGER = `spiffe://${TD}/stranger`;

export interface Rig {
  url: string;
  tokenUrl: string;
  keys: KeyRing;
  dataDir: string;
  logs: string[];
  fetchAs(workload: string): Promise<WimseFetch>;
  /** The private half of the workload's WIT `cnf.jwk` (after {@link fetchAs}). */
  proofKey(workload: string): CryptoKey;
  /** An access token from the external issuer. */
  accessToken(claims: JWTPayload, options?: { key?: CryptoKey; exp?: number; kid?: string }): Promise<string>;
  oauthJwks: { keys: JWK[] };
  close(): Promise<void>;
}

export async function startRig(overrides: Partial<TxnTokenServiceConfig> = {}, dataDir?: string): Promise<Rig> {
  const witIssuer = await generateKeyPair('ES256', { extractable: true });
  const witJwks = { keys: [{ ...(await exportJWK(witIssuer.publicKey)), kid: 'wit-1', alg: 'ES256', use: 'sig' }] };
  const oauth = await generateKeyPair('ES256', { extractable: true });
  const oauthJwks = { keys: [{ ...(await exportJWK(oauth.publicKey)), kid: 'idp-1', alg: 'ES256', use: 'sig' }] };
  const dir = dataDir ?? (await mkdtemp(join(tmpdir(), 'tts-test-')));
  const keys = await createKeyRing({ dataDir: dir });
  const logs: string[] = [];

  // The port is known only after listen; the app reads the URL lazily through this holder.
  const holder = { url: '' };
  const server = await listen((port) => {
    holder.url = `http://127.0.0.1:${port}`;
    return createTxnTokenService({
      trustDomain: TD,
      wimse: { trustDomains: { [TD]: { keys: witJwks } }, audience: holder.url },
      requesters: {
        [GATEWAY]: { scopes: ['orders.read', 'orders.write', 'trade.stocks'] },
        [INTERNAL]: { scopes: ['batch.run', 'orders.read'], subjectTokenTypes: ['self_signed', 'unsigned_json', 'txn_token'] },
        [`spiffe://${TD}/replacer`]: { scopes: ['orders.read', 'orders.write', 'trade.stocks'], subjectTokenTypes: ['txn_token'] },
      },
      subjectIssuers: [{ issuer: OAUTH_ISSUER, audience: OAUTH_AUDIENCE, keys: oauthJwks }],
      keys,
      log: (line) => logs.push(line),
      ...overrides,
    });
  });

  const fetchers = new Map<string, WimseFetch>();
  const proofKeys = new Map<string, CryptoKey>();
  return {
    url: holder.url,
    tokenUrl: `${holder.url}/token`,
    keys,
    dataDir: dir,
    logs,
    oauthJwks,
    async fetchAs(workload) {
      let f = fetchers.get(workload);
      if (f === undefined) {
        const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
        const wit = await issueWit({
          sub: workload,
          cnfJwk: { ...(await exportJWK(publicKey)), alg: 'ES256' },
          issuerKey: witIssuer.privateKey,
          alg: 'ES256',
          kid: 'wit-1',
          lifetime: 600,
        });
        f = createWimseFetch({ credentials: () => ({ wit, privateKey }) });
        fetchers.set(workload, f);
        proofKeys.set(workload, privateKey);
      }
      return f;
    },
    proofKey: (workload) => proofKeys.get(workload)!,
    accessToken(claims, options = {}) {
      const iat = Math.floor(Date.now() / 1000);
      return new SignJWT({ iss: OAUTH_ISSUER, aud: OAUTH_AUDIENCE, iat, exp: options.exp ?? iat + 600, ...claims })
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: options.kid ?? 'idp-1' })
        .sign(options.key ?? oauth.privateKey);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

// Listens on a free loopback port, then builds the app for that port (its URL is the WPT audience).
async function listen(app: (port: number) => { fetch: (r: Request, env?: unknown) => Response | Promise<Response> }): Promise<ServerType> {
  let built: { fetch: (r: Request, env?: unknown) => Response | Promise<Response> } | undefined;
  const server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: (r, env) => built!.fetch(r, env), port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  built = app((server.address() as AddressInfo).port);
  return server;
}
