/**
 * Issue 9 on every target: a workload flooding the replay store with 2× its capacity of valid
 * proofs never makes another workload's used proof acceptable again. The store is tiny (50
 * entries, 30 per workload), so the flood is 100 requests.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryReplayStore } from '@wimse/core';
import { AUDIENCE, adapterOptions, createFixtures, type Fixtures, type Workload } from './fixtures.js';
import { send, type RawRequest, type RawResponse } from './http.js';
import type { Running, Target } from './targets/contract.js';
import { express4Target, express5Target } from './targets/express.js';
import { fastifyTarget } from './targets/fastify.js';
import { honoTarget } from './targets/hono.js';
import { nestExpressTarget, nestFastifyTarget } from './targets/nestjs.js';

const targets: Target[] = [express4Target, express5Target, fastifyTarget, honoTarget, nestExpressTarget, nestFastifyTarget];
const CAPACITY = 50;
const PER_WORKLOAD = 30;
// Entries live until the proof's expiry plus the verifier's clock tolerance: signer default 60 s + 30 s.
const LONGEST_ENTRY_SECONDS = 60 + 30;

let fixtures: Fixtures;
beforeAll(async () => {
  fixtures = await createFixtures();
});

/** A fresh proof by `w` for GET `path`: a WPT or an HTTP message signature. */
async function proof(w: Workload, path: string, kind: 'wpt' | 'sig'): Promise<RawRequest> {
  const url = AUDIENCE + path;
  const headers = kind === 'wpt' ? await w.signer.wptHeaders({ url }) : await w.signer.httpSigHeaders({ method: 'GET', url });
  return { method: 'GET', path, headers };
}

const code = (res: RawResponse): unknown => (JSON.parse(res.text) as { code?: unknown }).code;

function retryAfter(res: RawResponse): number {
  const value = res.headers['retry-after'];
  expect(value, 'Retry-After').toMatch(/^\d+$/);
  return Number(value);
}

describe.each(targets)('$name: replay store flood', (target) => {
  let server: Running;
  const captured: RawRequest[] = [];
  beforeAll(async () => {
    const replayStore = new MemoryReplayStore({ maxEntries: CAPACITY, maxEntriesPerWorkload: PER_WORKLOAD });
    server = await target.start({ ...adapterOptions(fixtures), replayStore });
    // The admin's proofs an attacker has captured: both kinds, both used once.
    for (const kind of ['wpt', 'sig'] as const) {
      const request = await proof(fixtures.admin, '/admin', kind);
      expect((await send(server.url, request)).status).toBe(200);
      captured.push(request);
    }
  });
  afterAll(() => server.close());

  it('a workload flooding 2× capacity is refused with 429 replay_quota_exceeded once over its share', async () => {
    const statuses: Record<string, number> = {};
    let last: RawResponse | undefined;
    for (let i = 0; i < 2 * CAPACITY; i++) {
      last = await send(server.url, await proof(fixtures.client, '/whoami', i % 2 === 0 ? 'wpt' : 'sig'));
      const key = last.status === 200 ? '200' : `${last.status} ${String(code(last))}`;
      statuses[key] = (statuses[key] ?? 0) + 1;
    }
    expect(statuses).toEqual({ 200: PER_WORKLOAD, '429 replay_quota_exceeded': 2 * CAPACITY - PER_WORKLOAD });
    expect(last!.headers['content-type']).toMatch(/^application\/problem\+json/);
    const seconds = retryAfter(last!);
    expect(seconds).toBeGreaterThanOrEqual(1);
    expect(seconds).toBeLessThanOrEqual(LONGEST_ENTRY_SECONDS + 1);
  });

  it('after the flood, the captured admin WPT is still a replay (401 wpt_replay)', async () => {
    const res = await send(server.url, captured[0]!);
    expect({ status: res.status, code: code(res) }).toEqual({ status: 401, code: 'wpt_replay' });
  });

  it('after the flood, the captured admin signature is still a replay (400 sig_replay)', async () => {
    const res = await send(server.url, captured[1]!);
    expect({ status: res.status, code: code(res) }).toEqual({ status: 400, code: 'sig_replay' });
  });

  it('the other workload still has room beside the flooder', async () => {
    expect((await send(server.url, await proof(fixtures.admin, '/admin', 'wpt'))).status).toBe(200);
  });

  it('a store full of live entries refuses with 503 replay_unavailable and Retry-After, through the error hook', async () => {
    // 30 (client) + 3 (admin) held: the admin may fill the remaining 17, then the store is full.
    for (let i = 0; i < CAPACITY - PER_WORKLOAD - 3; i++)
      expect((await send(server.url, await proof(fixtures.admin, '/admin', 'sig'))).status).toBe(200);
    const plain = await send(server.url, await proof(fixtures.admin, '/admin', 'wpt'));
    expect({ status: plain.status, code: code(plain), type: plain.headers['content-type'] }).toEqual({
      status: 503,
      code: 'replay_unavailable',
      type: expect.stringMatching(/^application\/problem\+json/),
    });
    const seconds = retryAfter(plain);
    expect(seconds).toBeGreaterThanOrEqual(1);
    expect(seconds).toBeLessThanOrEqual(LONGEST_ENTRY_SECONDS + 1);
    // /hooked/* routes go through the adapter's onError hook (fixtures.ts), which keeps the headers.
    const hooked = await send(server.url, await proof(fixtures.admin, '/hooked/whoami', 'wpt'));
    expect({ status: hooked.status, body: JSON.parse(hooked.text) as unknown }).toEqual({
      status: 503,
      body: { hooked: true, code: 'replay_unavailable' },
    });
    expect(retryAfter(hooked)).toBeGreaterThanOrEqual(1);
  });

  it('a full store still recognises both captured proofs as replays', async () => {
    const [wpt, sig] = [await send(server.url, captured[0]!), await send(server.url, captured[1]!)];
    expect([wpt.status, code(wpt), sig.status, code(sig)]).toEqual([401, 'wpt_replay', 400, 'sig_replay']);
  });
});
