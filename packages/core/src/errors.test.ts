import { describe, expect, it } from 'vitest';
import { ERROR_CODES, PROBLEM_TYPE_BASE, WimseError, isWimseError, type WimseErrorCode } from './errors.js';

describe('WimseError', () => {
  it.each(Object.keys(ERROR_CODES) as WimseErrorCode[])('%s renders an RFC 9457 problem', (code) => {
    const e = new WimseError(code);
    expect(e.problem).toEqual({
      type: PROBLEM_TYPE_BASE + code,
      title: ERROR_CODES[code].title,
      status: e.status,
      detail: ERROR_CODES[code].title,
      code,
    });
    expect(e.status).toBeGreaterThanOrEqual(400);
    // wpt-02 §2.1: a 401 carries the WPT challenge; nothing else does.
    expect(e.headers['www-authenticate']).toBe(e.status === 401 ? 'WPT' : undefined);
  });

  it('keeps the cause and a custom detail', () => {
    const cause = new Error('inner');
    const e = new WimseError('wpt_aud', 'aud mismatch', { cause });
    expect(e.cause).toBe(cause);
    expect(e.problem.detail).toBe('aud mismatch');
    expect(isWimseError(e)).toBe(true);
    expect(isWimseError(e, 'wpt_aud')).toBe(true);
    expect(isWimseError(e, 'wit_typ')).toBe(false);
    expect(isWimseError(cause)).toBe(false);
  });

  it('asks to close the connection only when told part of the request is unread (RFC 9112 §9.6)', () => {
    expect(new WimseError('body_too_large', 'x', { closeConnection: true }).headers).toEqual({ connection: 'close' });
    expect(new WimseError('body_too_large').headers).toEqual({});
  });
});

describe('Txn-Token codes (txn-tokens-10 §12.2; RFC 6750 §3.1)', () => {
  it('are 400 without a challenge: the Txn-Token is request context, not the caller credential (§13.12)', () => {
    const txn = (Object.keys(ERROR_CODES) as WimseErrorCode[]).filter((c) => c.startsWith('txn_token_'));
    expect(txn.length).toBeGreaterThanOrEqual(13);
    for (const code of txn) expect([code, new WimseError(code).status, new WimseError(code).headers]).toEqual([code, 400, {}]);
  });

  it('insufficient_scope is a 403 (RFC 6750 §3.1)', () => {
    expect(new WimseError('insufficient_scope').status).toBe(403);
  });
});
