/**
 * The demo contract (DESIGN.md): environment → WIMSE options. Every variable is optional.
 *
 * PORT, WIMSE_TRUST_DOMAIN, WIMSE_JWKS (URL or JWKS file), WIMSE_AUDIENCE, WIMSE_RELAY_TARGETS
 * (comma-separated base URLs), plus WIMSE_IDENTITY_URL and WIMSE_WORKLOAD (where and as whom this
 * service gets its own WIT for /relay), and cache knobs WIMSE_JWKS_MAX_AGE_MS, WIMSE_JWKS_COOLDOWN_MS
 * and WIMSE_WIT_CACHE_SECONDS (small values make key rotation visible quickly).
 */
import { readFileSync } from 'node:fs';
import type { TrustDomainConfig, WimseAdapterOptions } from '@wimse/core';

export interface DemoConfig {
  /** This service's workload name, e.g. `express-demo`. */
  workload: string;
  port: number;
  trustDomain: string;
  /** The public base URL this service is reached at. */
  audience: string;
  /** The demo identity server, for this service's own WIT. */
  identityUrl: string;
  /** Base URLs `/relay` may call: no open relay. */
  relayTargets: string[];
  /** Verifier options for the framework adapter. */
  wimse: WimseAdapterOptions;
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
  return {
    workload: env.WIMSE_WORKLOAD || defaults.workload,
    port,
    trustDomain,
    audience,
    identityUrl,
    relayTargets: env.WIMSE_RELAY_TARGETS ? env.WIMSE_RELAY_TARGETS.split(',').map((s) => s.trim()).filter(Boolean) : DEFAULT_RELAY_TARGETS,
    wimse: {
      trustDomains: {
        [trustDomain]: {
          keys: /^https?:\/\//.test(jwks) ? jwks : (JSON.parse(readFileSync(jwks, 'utf8')) as TrustDomainConfig['keys']),
          remote: { ...(maxAge === undefined ? {} : { cacheMaxAgeMs: maxAge }), ...(cooldown === undefined ? {} : { cooldownMs: cooldown }) },
        },
      },
      audience,
      proofs: ['wpt', 'http-sig'],
      maxBodyBytes: MAX_BODY_BYTES,
      ...(witCache === undefined ? {} : { witCache: { ttlSeconds: witCache } }),
    },
  };
}

function optionalInt(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(value)}`);
  return n;
}
