/**
 * Environment → configuration. See README.md for the variables; JSON-valued ones are parsed here
 * and checked by the service at start-up, so a mistake stops the process with a message.
 */
import type { KeyRingOptions } from '@wimse/identity-server/keyring';
import type { RequesterPolicies } from './policy.js';
import type { TxnTokenServiceConfig } from './service.js';
import type { SubjectIssuer } from './subject-token.js';

export interface EnvConfig extends Omit<TxnTokenServiceConfig, 'keys'> {
  host: string;
  port: number;
  keyRing: KeyRingOptions;
}

export function configFromEnv(env: NodeJS.ProcessEnv): EnvConfig {
  const port = integer(env.PORT, 3010, 'PORT');
  const host = env.HOST ?? '127.0.0.1';
  const trustDomain = env.WIMSE_TRUST_DOMAIN ?? 'example.org';
  const url = env.TTS_URL ?? `http://${host}:${port}`;
  const witIssuer = env.WIMSE_IDENTITY_ISSUER || undefined;
  return {
    host,
    port,
    trustDomain,
    serviceId: url,
    ...(env.TTS_ISSUER ? { issuer: env.TTS_ISSUER } : {}),
    wimse: {
      trustDomains: {
        [trustDomain]: {
          keys: env.WIMSE_IDENTITY_JWKS ?? 'http://127.0.0.1:3000/.well-known/jwks.json',
          ...(witIssuer === undefined ? {} : { issuer: witIssuer }),
        },
      },
      audience: url,
    },
    requesters: json<RequesterPolicies>(env.TTS_REQUESTERS, {}, 'TTS_REQUESTERS'),
    subjectIssuers: json<SubjectIssuer[]>(env.TTS_SUBJECT_ISSUERS, [], 'TTS_SUBJECT_ISSUERS'),
    lifetime: integer(env.TTS_LIFETIME, 300, 'TTS_LIFETIME'),
    limits: { maxBodyBytes: integer(env.TTS_MAX_BODY_BYTES, 32 * 1024, 'TTS_MAX_BODY_BYTES') },
    // The TTS's own keys: never the identity server's directory (§10: its own authority).
    keyRing: { dataDir: env.TTS_DATA_DIR || undefined, keyFile: env.TTS_KEY_FILE || undefined },
  };
}

function integer(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(value)}`);
  return n;
}

function json<T>(value: string | undefined, fallback: T, name: string): T {
  if (value === undefined || value === '') return fallback;
  try {
    return JSON.parse(value) as T;
  } catch {
    throw new Error(`${name} must be JSON`);
  }
}
