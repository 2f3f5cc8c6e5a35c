/**
 * The conformance table (cases.ts) against the same Hono app on Bun, Deno and Cloudflare workerd
 * (with and without `nodejs_compat`): bundled with esbuild, served by each runtime's own server on
 * 127.0.0.1 (runtimes/launch.ts). Every case applies; the only differences are the documented ones
 * below. A runtime that cannot start here fails its tests: none is ever skipped.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertResponse } from './assert.js';
import { cases, type Case, type Expected } from './cases.js';
import { createFixtures, type Fixtures } from './fixtures.js';
import { send } from './http.js';
import { bun, deno, startApp, workerd, type WebRuntime } from './runtimes/launch.js';
import type { Running } from './targets/contract.js';

const runtimes: WebRuntime[] = [bun, deno, workerd(), workerd(['nodejs_compat'])];

const problem = (status: number, code: string): Expected => ({
  status,
  code,
  type: 'application/problem+json',
  ...(status === 401 ? { www: 'WPT' } : {}),
});

/**
 * Fetch `Headers` join a repeated field into one value with ", " (Fetch standard, "combine"), and
 * these runtimes give the app nothing else (the Hono README says so). The request is still refused,
 * by the next rule it breaks: "a, b" is no compact JWS (RFC 7515 §7.1 has no comma), and
 * "WPT a, WPT b" is no `WPT token68` credential (RFC 9110 §11.4), so the WIT comes without a proof.
 */
const FOLDED: Record<string, Expected> = {
  'WIT sent twice': problem(400, 'wit_malformed'),
  'Authorization sent twice': problem(401, 'wpt_missing'),
  // "txn.a, txn.b" is one Txn-Token value here, which the WPT does not bind.
  'Txn-Token sent twice': problem(401, 'wpt_tth'),
};

/**
 * The 20 kB header block: Bun's server refuses it (431, over its 16 kB limit); Deno's and workerd's
 * limits are higher, so the adapter sees it: a WIT without a proof.
 */
const HEADER_LIMIT_CASE = 'header block beyond the server limit';
const HEADER_LIMIT: Record<string, Expected> = {
  bun: { status: 431, type: null },
  deno: problem(401, 'wpt_missing'),
  workerd: problem(401, 'wpt_missing'),
  'workerd (nodejs_compat)': problem(401, 'wpt_missing'),
};

function expected(runtime: WebRuntime, c: Case): Expected {
  if (c.name === HEADER_LIMIT_CASE) return HEADER_LIMIT[runtime.name]!;
  return FOLDED[c.name] ?? c.expect;
}

let fixtures: Fixtures;
beforeAll(async () => {
  fixtures = await createFixtures();
});

it('names only cases that exist, and every runtime for the header limit', () => {
  const names = new Set(cases.map((c) => c.name));
  expect([...Object.keys(FOLDED), HEADER_LIMIT_CASE].filter((n) => !names.has(n))).toEqual([]);
  expect(Object.keys(HEADER_LIMIT).sort()).toEqual(runtimes.map((r) => r.name).sort());
});

describe.each(runtimes)('$name', (runtime) => {
  // Awaited by each test, so a runtime that cannot start here fails every case with the reason
  // (a failing beforeAll would only mark them skipped).
  let server: Promise<Running>;
  beforeAll(() => {
    server = startApp(runtime, fixtures.issuerJwk);
    server.catch(() => undefined);
  });
  afterAll(() =>
    server.then(
      (s) => s.close(),
      () => undefined,
    ),
  );

  it.each(cases)('$name', async (c: Case) => {
    const { url } = await server;
    const request = await c.request(fixtures);
    for (let i = 0; i < (c.repeat ?? 0); i++) expect((await send(url, request)).status).toBe(200);
    assertResponse(await send(url, request), { expect: expected(runtime, c) });
  });
});
