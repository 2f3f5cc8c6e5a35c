/** The check every conformance target's answer must pass: status, WWW-Authenticate, media type and problem code as the table says. */
import { expect } from 'vitest';
import type { Expected } from './cases.js';
import type { RawResponse } from './http.js';

export function assertResponse(res: RawResponse, c: { expect: Expected }): void {
  const e = c.expect;
  const type = (res.headers['content-type'] as string | undefined)?.split(';')[0]?.trim();
  const json = e.type !== null && type?.endsWith('json') === true ? (JSON.parse(res.text) as Record<string, unknown>) : undefined;
  expect(
    { status: res.status, www: res.headers['www-authenticate'], type: e.type === null ? null : type, code: json?.code },
    res.text,
  ).toEqual({
    status: e.status,
    www: e.www,
    type: e.type,
    code: e.code,
  });
  expect(res.status).toBeLessThan(500);
  if (e.type === 'application/problem+json')
    expect(json).toMatchObject({ status: e.status, type: `https://github.com/wimse-js/wimse-js/blob/main/docs/errors.md#${e.code}` });
  if (e.body !== undefined) expect(json).toMatchObject(e.body);
  // RFC 9110 §7.6.1: Connection is a list of options, so compared as a set (Deno's server adds its
  // own "close" to the adapter's and sends "close, close").
  if (e.connection !== undefined) expect(options(res.headers.connection)).toEqual(options(e.connection));
}

const options = (v: string | string[] | undefined) =>
  [
    ...new Set(
      String(v ?? '')
        .split(',')
        .map((o) => o.trim().toLowerCase()),
    ),
  ].sort();
