/**
 * RFC 9457 problem responses of the identity server, shaped like the core's so one client
 * reads both. Every rejection goes through here: bad input is a 4xx, never a crash.
 */
import type { ServerResponse } from 'node:http';
import { PROBLEM_CONTENT_TYPE } from '@wimse/core';

const TITLES = {
  not_found: [404, 'No such endpoint'],
  method_not_allowed: [405, 'Method not allowed'],
  unsupported_media_type: [415, 'Send application/json'],
  body_too_large: [413, 'Request body too large'],
  json_invalid: [400, 'Body is not a JSON object'],
  workload_invalid: [400, 'workload must be a workload name'],
  workload_unknown: [403, 'Workload not registered'],
  jwk_invalid: [400, 'jwk is not a usable public key'],
  jwk_private: [400, 'jwk contains private key material'],
  jwk_alg: [400, 'jwk.alg must name an asymmetric JWS algorithm'],
  admin_unauthorized: [401, 'Admin token required'],
  admin_disabled: [404, 'Admin endpoints are disabled'],
  key_unknown: [404, 'No such issuer key'],
  key_current: [409, 'The current signing key cannot be retired'],
  keys_static: [409, 'The issuer keys are operator-supplied'],
  dev_registration_disabled: [404, 'Registration by name is a development mode; use the token exchange at POST /token'],
} as const satisfies Record<string, readonly [number, string]>;

export type ProblemCode = keyof typeof TITLES;

/** A rejection with a stable code; thrown by handlers, rendered by the server. */
export class Problem extends Error {
  readonly status: number;
  constructor(
    readonly code: ProblemCode,
    detail?: string,
  ) {
    super(detail ?? TITLES[code][1]);
    this.status = TITLES[code][0];
  }
}

export function sendProblem(res: ServerResponse, p: Problem): void {
  const headers: Record<string, string> = { 'content-type': PROBLEM_CONTENT_TYPE, 'cache-control': 'no-store' };
  if (p.code === 'admin_unauthorized') headers['www-authenticate'] = 'Bearer';
  res.writeHead(p.status, headers).end(
    JSON.stringify({
      type: `https://wimse-js.dev/problems/identity/${p.code}`,
      title: TITLES[p.code][1],
      status: p.status,
      detail: p.message,
      code: p.code,
    }),
  );
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers }).end(JSON.stringify(body));
}
