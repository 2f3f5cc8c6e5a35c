/**
 * The demo contract (DESIGN.md): environment → WIMSE options. Every variable is optional.
 *
 * PORT, WIMSE_TRUST_DOMAIN, WIMSE_JWKS (URL or JWKS file), WIMSE_AUDIENCE, WIMSE_RELAY_TARGETS
 * (comma-separated base URLs), plus WIMSE_IDENTITY_URL and WIMSE_WORKLOAD (where and as whom this
 * service gets its own WIT, for /relay and for signed responses), WIMSE_SIGN_RESPONSES
 * (`when-asked`, the default, `always` or `never`), and cache knobs WIMSE_JWKS_MAX_AGE_MS, WIMSE_JWKS_COOLDOWN_MS
 * and WIMSE_WIT_CACHE_SECONDS (small values make key rotation visible quickly).
 *
 * mTLS (optional): WIMSE_MTLS_DIR, a folder in the SPIFFE helper layout (svid.pem, svid_key.pem,
 * bundle.pem), turns on a second listener, HTTPS asking for client certificates, on
 * WIMSE_MTLS_PORT (default PORT + 100), where a client certificate of the trust domain is a proof
 * too ('mtls'). The handshake refuses a client certificate whose path OpenSSL does not validate
 * against the bundle; WIMSE_MTLS_REJECT_UNAUTHORIZED=false lets every handshake through and leaves
 * all refusals to the verifier (4xx problems with stable codes). Without WIMSE_MTLS_DIR nothing changes.
 *
 * Attested WITs (attested.ts): with WIMSE_PLATFORM_TOKEN_FILE (a projected service account token)
 * or WIMSE_PLATFORM_URL (the identity server's stand-in platform issuer, demo only) the service gets
 * its WIT by token exchange at `<WIMSE_IDENTITY_URL>/token`, as service account WIMSE_WORKLOAD in
 * namespace WIMSE_PLATFORM_NAMESPACE (default `demo`). Without either it registers by name at `/wit`,
 * which the identity server allows only in development mode.
 *
 * Txn-Tokens (txn-tokens-10): WIMSE_TTS_URL, the trust domain's Txn-Token service (default
 * `http://127.0.0.1:3010`). Every service verifies the Txn-Tokens it receives with that service's
 * keys (`<WIMSE_TTS_URL>/.well-known/jwks.json`), and the edge route exchanges a user's access token
 * there (`<WIMSE_TTS_URL>/token`).
 *
 * Shared replay protection (optional): REDIS_URL (`redis://host:port`) makes the replay store that
 * Redis, keyed by this service's audience, so every instance of one service refuses a proof any of
 * them accepted. Without it each process remembers its own.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { attestedCredentials, platformTokenFile, standInPlatformToken } from './attested.js';
import {
  createWimseFetch,
  identityServerWitSource,
  type SignResponsesMode,
  type TrustDomainConfig,
  type TrustDomains,
  type WimseAdapterOptions,
  type WimseFetch,
} from '@wimse/core';
import { SPIFFE_HELPER_FILES } from '@wimse/core/node';
import { redisReplayStore } from '@wimse/redis';

export interface DemoConfig {
  /** This service's workload name, e.g. `express-demo`. */
  workload: string;
  port: number;
  trustDomain: string;
  /** The public base URL this service is reached at. */
  audience: string;
  /** The demo identity server, for this service's own WIT. */
  identityUrl: string;
  /** The Txn-Token service's base URL. */
  tts: string;
  /** Base URLs `/relay` may call: no open relay. */
  relayTargets: string[];
  /** Verifier and response-signing options for the framework adapter. */
  wimse: WimseAdapterOptions;
  /**
   * This service's own credentials (a WIT from the identity server, renewed before it expires):
   * one source for outbound calls (/relay) and for signing responses (`wimse.responseSigner`).
   */
  client: WimseFetch;
  /** The HTTPS listener with client certificates, when WIMSE_MTLS_DIR is set. */
  mtls?: MtlsConfig;
}

/** The mTLS side of a demo service (see `listenMtls`). */
export interface MtlsConfig {
  /** Folder with svid.pem, svid_key.pem and bundle.pem, watched for rotation. */
  dir: string;
  /** HTTPS port on 127.0.0.1. */
  port: number;
  /** `https://127.0.0.1:<port>`: accepted as audience too, so WPTs and signatures also work over HTTPS. */
  audience: string;
  /** The trust domain's CA bundle (PEM) the verifier checks client certificates against; `listenMtls` keeps it current. */
  bundle: { pem: string };
  /**
   * OpenSSL validates client certificate paths at the handshake (default `true`,
   * WIMSE_MTLS_REJECT_UNAUTHORIZED); `false`: the verifier alone decides, answering 4xx problems.
   */
  rejectUnauthorized: boolean;
}

export const DEFAULT_RELAY_TARGETS = [3001, 3002, 3003, 3004].map((p) => `http://127.0.0.1:${p}`);
/** Bodies larger than this are refused (413), by the adapter and the JSON parser alike. */
export const MAX_BODY_BYTES = 64 * 1024;

export function configFromEnv(env: NodeJS.ProcessEnv, defaults: { workload: string; port: number }): DemoConfig {
  const port = optionalInt(env.PORT, 'PORT') ?? defaults.port;
  const trustDomain = env.WIMSE_TRUST_DOMAIN || 'example.org';
  const identityUrl = (env.WIMSE_IDENTITY_URL || 'http://127.0.0.1:3000').replace(/\/+$/, '');
  const audience = env.WIMSE_AUDIENCE || `http://127.0.0.1:${port}`;
  const jwks = env.WIMSE_JWKS || `${identityUrl}/.well-known/jwks.json`;
  const maxAge = optionalInt(env.WIMSE_JWKS_MAX_AGE_MS, 'WIMSE_JWKS_MAX_AGE_MS');
  const cooldown = optionalInt(env.WIMSE_JWKS_COOLDOWN_MS, 'WIMSE_JWKS_COOLDOWN_MS');
  const witCache = optionalInt(env.WIMSE_WIT_CACHE_SECONDS, 'WIMSE_WIT_CACHE_SECONDS');
  const replayStore = env.REDIS_URL ? sharedReplayStore(env.REDIS_URL, audience) : undefined;
  const signResponses = signResponsesMode(env.WIMSE_SIGN_RESPONSES);
  const workload = env.WIMSE_WORKLOAD || defaults.workload;
  const tts = (env.WIMSE_TTS_URL || 'http://127.0.0.1:3010').replace(/\/+$/, '');
  const remote = {
    ...(maxAge === undefined ? {} : { cacheMaxAgeMs: maxAge }),
    ...(cooldown === undefined ? {} : { cooldownMs: cooldown }),
  };
  const trustDomains: TrustDomains = {
    [trustDomain]: {
      keys: /^https?:\/\//.test(jwks) ? jwks : (JSON.parse(readFileSync(jwks, 'utf8')) as TrustDomainConfig['keys']),
      remote,
    },
  };
  // Made on first use (options are checked then, as the adapter's are), and nothing is fetched
  // until the first relay or signed response needs the WIT.
  let client: WimseFetch | undefined;
  const platformToken = env.WIMSE_PLATFORM_TOKEN_FILE
    ? platformTokenFile(env.WIMSE_PLATFORM_TOKEN_FILE)
    : env.WIMSE_PLATFORM_URL
      ? standInPlatformToken({
          platformUrl: env.WIMSE_PLATFORM_URL,
          namespace: env.WIMSE_PLATFORM_NAMESPACE || 'demo',
          serviceAccount: workload,
          audience: identityUrl,
        })
      : undefined;
  const source =
    platformToken === undefined
      ? { witSource: identityServerWitSource({ url: identityUrl, workload }) }
      : { credentials: attestedCredentials({ identityUrl, platformToken }) };
  const ownClient = () => (client ??= createWimseFetch({ ...source, responseTrust: { trustDomains } }));
  const mtls = env.WIMSE_MTLS_DIR
    ? mtlsConfig(
        env.WIMSE_MTLS_DIR,
        optionalInt(env.WIMSE_MTLS_PORT, 'WIMSE_MTLS_PORT') ?? port + 100,
        optionalBool(env.WIMSE_MTLS_REJECT_UNAUTHORIZED, 'WIMSE_MTLS_REJECT_UNAUTHORIZED') ?? true,
      )
    : undefined;
  return {
    workload,
    port,
    trustDomain,
    audience,
    identityUrl,
    tts,
    relayTargets: env.WIMSE_RELAY_TARGETS
      ? env.WIMSE_RELAY_TARGETS.split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : DEFAULT_RELAY_TARGETS,
    wimse: {
      trustDomains,
      // DESIGN demo contract: responses are signed with this service's own WIT when a request asks.
      responseSigner: () => ownClient().signer(),
      ...(signResponses === undefined ? {} : { signResponses }),
      audience: mtls === undefined ? audience : [audience, mtls.audience],
      proofs: mtls === undefined ? ['wpt', 'http-sig'] : ['wpt', 'http-sig', 'mtls'],
      maxBodyBytes: MAX_BODY_BYTES,
      // Txn-Tokens are verified (§12.2) and become principal.transaction, for the scope routes.
      transactionTokens: { trustDomain, keys: `${tts}/.well-known/jwks.json`, remote },
      ...(witCache === undefined ? {} : { witCache: { ttlSeconds: witCache } }),
      ...(replayStore === undefined ? {} : { replayStore }),
      // A client certificate must chain to this trust domain's bundle, read anew after each rotation.
      ...(mtls === undefined ? {} : { mtls: { trustBundles: { [trustDomain]: () => mtls.bundle.pem } } }),
    },
    get client() {
      return ownClient();
    },
    ...(mtls === undefined ? {} : { mtls }),
  };
}

function signResponsesMode(value: string | undefined): SignResponsesMode | undefined {
  if (value === undefined || value === '') return undefined;
  if (value === 'always' || value === 'when-asked' || value === 'never') return value;
  throw new Error(`WIMSE_SIGN_RESPONSES must be always, when-asked or never, got ${JSON.stringify(value)}`);
}

function mtlsConfig(dir: string, port: number, rejectUnauthorized: boolean): MtlsConfig {
  const file = join(dir, SPIFFE_HELPER_FILES.bundle);
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`WIMSE_MTLS_DIR: cannot read ${file} (${e instanceof Error ? e.message : String(e)})`);
  }
  return { dir, port, audience: `https://127.0.0.1:${port}`, bundle: { pem }, rejectUnauthorized };
}

function optionalBool(value: string | undefined, name: string): boolean | undefined {
  if (value === undefined || value === '') return undefined;
  if (value === 'true' || value === 'false') return value === 'true';
  throw new Error(`${name} must be true or false, got ${JSON.stringify(value)}`);
}

// Connects at start-up rather than on the first request; until Redis answers, proofs get a 503.
function sharedReplayStore(url: string, audience: string) {
  const store = redisReplayStore({ url, audience });
  store.connect().catch((e: unknown) => {
    // The message names the cause, never the URL (it may hold a password).
    console.error(`REDIS_URL: ${e instanceof Error ? e.message : String(e)}; proofs are refused (503) until Redis is usable`);
  });
  return store;
}

function optionalInt(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(value)}`);
  return n;
}
