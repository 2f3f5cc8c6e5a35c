/**
 * CI runs the scripted demo: the built identity server and four services as real processes on
 * 127.0.0.1 (free ports), every row of `pnpm demo` as expected, and bad input answered with a 4xx
 * problem by every service. Needs the workspace built (`pnpm test` builds first).
 */
import { createWimseFetch, identityServerWitSource, type WimseFetch } from '@wimse/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScenario, type Row } from '../src/scenario.js';
import { SERVICES, freePorts, startStack, type Stack } from '../src/stack.js';

let stack: Stack;
let client: WimseFetch;

// A relay target on the allow-list where nothing listens.
let down: string;

beforeAll(async () => {
  const ports = await freePorts();
  down = `http://127.0.0.1:${(await freePorts()).identity}`;
  const targets = [ports.express, ports.fastify, ports.hono, ports.nestjs].map((p) => `http://127.0.0.1:${p}`);
  stack = await startStack({ ports, serviceEnv: { WIMSE_RELAY_TARGETS: [...targets, down].join(',') } });
  client = createWimseFetch({ witSource: identityServerWitSource({ url: stack.identityUrl, workload: 'client' }) });
}, 60_000);
afterAll(() => stack?.stop());

describe('pnpm demo scenario', () => {
  let rows: Row[];
  beforeAll(async () => {
    rows = await runScenario(stack);
  }, 60_000);

  it.each(SERVICES)('%s: every check as expected', (service) => {
    const mine = rows.filter((r) => r.service === service);
    expect(mine.map((r) => r.check)).toEqual([
      'GET /whoami',
      'POST /echo with a JSON body',
      'same request sent twice',
      'GET /admin as client',
      'GET /admin as admin',
      'body changed after signing',
    ]);
    for (const r of mine) expect(r.got, `${service}: ${r.check}`).toBe(r.expected);
  });

  it('relay chains express → fastify → hono → nestjs, with WPTs and with signatures carrying a Txn-Token', () => {
    const chains = rows.filter((r) => r.check.startsWith('relay chain'));
    expect(chains.map((r) => r.got)).toEqual(['200 client→express→fastify→hono→nestjs', '200 client→express→fastify→hono→nestjs +txn']);
    expect(rows.every((r) => r.ok)).toBe(true);
  });
});

describe.each(SERVICES)('%s: bad input is a 4xx problem, never a crash', (service) => {
  const url = (path: string) => stack.urls[service] + path;
  const problem = async (res: Response) => {
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    return ((await res.json()) as { code: string }).code;
  };

  it('health is public, everything else needs credentials', async () => {
    expect((await fetch(url('/health'))).status).toBe(200);
    const res = await fetch(url('/whoami'));
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('WPT');
    expect(await problem(res)).toBe('credentials_missing');
  });

  it.each([
    ['a target outside the allow-list', '/relay?to=http://example.com', 403, 'relay_target_not_allowed'],
    ['a target with a path', `/relay?to=${encodeURIComponent('http://127.0.0.1:1/whoami')}`, 400, 'relay_target_invalid'],
    ['a target that is no URL', '/relay?to=nope', 400, 'relay_target_invalid'],
    ['no target', '/relay', 400, 'relay_target_missing'],
    ['an unknown route', '/nope', 404, 'not_found'],
  ])('%s', async (_name, path, status, code) => {
    const res = await client(url(path));
    expect(res.status).toBe(status);
    expect(await problem(res)).toBe(code);
  });

  it('a relay to a listed service that is down is a 502 problem', async () => {
    const res = await client(url(`/relay?to=${encodeURIComponent(down)}`));
    expect(res.status).toBe(502);
    expect(await problem(res)).toBe('relay_upstream_unreachable');
  });

  it('a relay chain longer than four hops is refused', async () => {
    const others = SERVICES.filter((s) => s !== service).map((s) => stack.urls[s]);
    // Five hops is more than the demo relays.
    const res = await client(url(`/relay?${[...others, ...others].map((o) => `to=${encodeURIComponent(o)}`).join('&')}`));
    expect(res.status).toBe(400);
    expect(await problem(res)).toBe('relay_too_many_hops');
  });

  for (const proof of ['wpt', 'http-sig'] as const) {
    it.each([
      ['invalid JSON', { 'content-type': 'application/json' }, '{"a":', 400, 'json_invalid'],
      ['a body that is not JSON', { 'content-type': 'text/plain' }, 'hello', 415, 'unsupported_media_type'],
      ['an oversized body', { 'content-type': 'application/json' }, JSON.stringify({ pad: 'x'.repeat(70_000) }), 413, 'body_too_large'],
    ])(`POST /echo with %s (${proof})`, async (_name, headers, body, status, code) => {
      const res = await client(url('/echo'), { method: 'POST', headers, body, wimse: { proof } });
      expect(res.status).toBe(status);
      expect(await problem(res)).toBe(code);
    });
  }

  it('still serves after all of that', async () => {
    expect((await client(url('/whoami'))).status).toBe(200);
  });
});
