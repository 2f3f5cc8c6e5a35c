/**
 * `wimse inspect`: decodes a WIT or WPT and, given the issuer keys, verifies it with the core
 * verifier and names the exact rule that fails (its stable error code). No rule is re-implemented here.
 */
import {
  DRAFT_VERSIONS,
  ERROR_CODES,
  WIT_TYP,
  WPT_TYP,
  checkWorkloadIdentifier,
  createVerifier,
  isWimseError,
  typMatches,
  type TrustDomainConfig,
  type WimseError,
} from '@wimse/core';
import { decodeJwt, decodeProtectedHeader, type JSONWebKeySet, type JWK } from 'jose';
import { parseArgs } from 'node:util';
import { parsed } from '../args.js';
import { HELP_OPTION, help, json, publicJwk, readJson, readToken, UsageError, type CliIo } from '../io.js';

export const INSPECT_USAGE = `wimse inspect <token | file | -> [--jwks <file | url>] [--trust-domain <td>] [--iss <issuer>]
               [--wit <token | file>] [--url <target url>]
  Decodes a WIT or a WPT. With --jwks (the trust domain's issuer keys) it also verifies it and
  names the rule that fails. A WPT is verified together with its WIT (--wit), against --url when given.
  Without --jwks the output starts with NOT VERIFIED: nothing in it has been checked.`;

export async function inspect(argv: string[], io: CliIo, now: () => number = Date.now): Promise<number> {
  const { values, positionals } = parsed(
    () =>
      parseArgs({
        args: argv,
        options: {
          ...HELP_OPTION,
          jwks: { type: 'string' },
          'trust-domain': { type: 'string' },
          iss: { type: 'string' },
          wit: { type: 'string' },
          url: { type: 'string' },
        },
        allowPositionals: true,
        strict: true,
      }),
    1,
  );
  if (values.help) return help(io, INSPECT_USAGE);
  if (positionals[0] === undefined) throw new UsageError('give a token, a file holding one, or - for stdin');
  const token = await readToken(io, positionals[0]);
  let header: Record<string, unknown>;
  let claims: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(token) as Record<string, unknown>;
    claims = decodeJwt(token) as Record<string, unknown>;
  } catch {
    io.stdout('not a JWT: expected three base64url parts with a JSON header and JSON claims\n');
    return 1;
  }
  const isWpt = typMatches(header.typ, WPT_TYP);
  const kind = typMatches(header.typ, WIT_TYP)
    ? 'Workload Identity Token'
    : isWpt
      ? 'Workload Proof Token'
      : 'JWT (neither wit+jwt nor wpt+jwt)';
  // Decoded is not verified: say so first, where nobody can miss it, and last, after the claims.
  const jwks = values.jwks;
  if (jwks === undefined) io.stdout(`${NOT_VERIFIED}\n`);
  io.stdout(`${kind}\nheader ${json(header)}claims ${json(claims)}`);
  for (const name of ['iat', 'nbf', 'exp'] as const) {
    if (typeof claims[name] === 'number') io.stdout(`${name.padEnd(4)} ${when(claims[name] as number, now())}\n`);
  }
  if (jwks === undefined) {
    io.stdout(`${NOT_VERIFIED}\n`);
    return 0;
  }

  const wit = isWpt ? (values.wit === undefined ? undefined : await readToken(io, values.wit)) : token;
  if (wit === undefined) throw new UsageError('a WPT is verified with its WIT: add --wit <token | file>');
  const trustDomain = values['trust-domain'] ?? trustDomainOf(wit);
  const config: TrustDomainConfig = { keys: await loadKeys(io, jwks), ...(values.iss === undefined ? {} : { issuer: values.iss }) };
  const target = targetOf(values.url ?? claims.aud);
  const verifier = createVerifier({ trustDomains: { [trustDomain]: config }, audience: target.origin, now });
  try {
    if (isWpt) {
      const p = await verifier.verify({
        method: 'GET',
        path: target.path,
        headers: { authorization: `WPT ${token}`, 'workload-identity-token': wit },
      });
      io.stdout(`verified: WPT valid for ${target.origin}${target.path}, proven by ${p.workload}\n`);
    } else {
      const verified = await verifier.verifyWit(token);
      io.stdout(
        `verified: WIT valid for ${verified.id.value}, signed by ${trustDomain} key ${String(verified.header.kid ?? '(no kid)')}\n`,
      );
    }
    return 0;
  } catch (e) {
    if (!isWimseError(e)) throw e;
    io.stdout(`${failure(e)}\n`);
    return 1;
  }
}

const NOT_VERIFIED = 'NOT VERIFIED: decoded only; signature, issuer and claims unchecked (add --jwks <issuer keys> to verify)';

// The code names the rule; the draft tells where it is written.
function failure(e: WimseError): string {
  const family = e.code.split('_')[0];
  const draft = family === 'wit' ? DRAFT_VERSIONS.workloadCreds : family === 'wpt' ? DRAFT_VERSIONS.wpt : undefined;
  return `FAILED ${e.code}: ${e.message}${e.message === ERROR_CODES[e.code].title ? '' : ` (${ERROR_CODES[e.code].title})`}${draft ? ` [${draft}]` : ''}`;
}

function trustDomainOf(token: string): string {
  try {
    const r = checkWorkloadIdentifier(decodeJwt(token).sub);
    // An invalid sub gets a placeholder domain; the verifier then reports wit_sub_invalid.
    return r.ok ? r.id.trustDomain : 'invalid.invalid';
  } catch {
    return 'invalid.invalid';
  }
}

function targetOf(value: unknown): { origin: string; path: string } {
  try {
    const url = new URL(String(value));
    if (url.protocol === 'http:' || url.protocol === 'https:') return { origin: url.origin, path: url.pathname + url.search };
  } catch {
    // fall through: the verifier will report wpt_aud
  }
  return { origin: 'https://invalid.invalid', path: '/' };
}

async function loadKeys(io: CliIo, source: string): Promise<string | JSONWebKeySet> {
  if (/^https?:\/\//.test(source)) return source;
  const data = (await readJson(io, source)) as { keys?: unknown };
  const keys = Array.isArray(data.keys) ? (data.keys as JWK[]) : [data as JWK];
  // An issuer's private JWK is accepted too: only its public half is used.
  return { keys: keys.map((k) => publicJwk(k)) };
}

function when(seconds: number, nowMs: number): string {
  const delta = Math.round(seconds - nowMs / 1000);
  const span = (s: number) =>
    s >= 3600 ? `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m` : s >= 60 ? `${Math.floor(s / 60)}m${s % 60}s` : `${s}s`;
  return `${new Date(seconds * 1000).toISOString()} (${delta >= 0 ? `in ${span(delta)}` : `${span(-delta)} ago`})`;
}
