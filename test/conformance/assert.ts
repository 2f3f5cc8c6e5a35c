/** The check every conformance target's answer must pass: status, WWW-Authenticate, media type and problem code as the table says. */
import { expect } from 'vitest';
import type { Expected } from './cases.js';
import type { RawResponse } from './http.js';

export function assertResponse(res: RawResponse, c: { expect: Expected }): void {
  const e = c.expect;
  const type = (res.headers['content-type'] as string | undefined)?.split(';')[0]?.trim();
  const json = e.type !== null && type?.endsWith('json') === true ? (JSON.parse(res.text) as Record<string, unknown>) : undefined;
  expect({ status: res.status, www: res.headers['www-authenticate'], type: e.type === null ? null : type, code: json?.code }, res.text).toEqual({
    status: e.status,
    www: e.www,
    type: e.type,
    code: e.code,
  });
  expect(res.status).toBeLessThan(500);
  if (e.type === 'application/problem+json') expect(json).toMatchObject({ status: e.status, type: `https://wimse-js.dev/problems/${e.code}` });
  if (e.body !== undefined) expect(json).toMatchObject(e.body);
  if (e.connection !== undefined) expect(res.headers.connection).toBe(e.connection);
}
