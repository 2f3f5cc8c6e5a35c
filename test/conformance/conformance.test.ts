/**
 * The cross-adapter conformance suite: one table (cases.ts), six real servers on 127.0.0.1,
 * the same expected answer from each.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cases, type Case } from './cases.js';
import { adapterOptions, createFixtures, type Fixtures } from './fixtures.js';
import { assertResponse } from './assert.js';
import { send } from './http.js';
import type { Running, Target } from './targets/contract.js';
import { express4Target, express5Target } from './targets/express.js';
import { fastifyTarget } from './targets/fastify.js';
import { honoTarget } from './targets/hono.js';
import { nestExpressTarget, nestFastifyTarget } from './targets/nestjs.js';

const targets: Target[] = [express4Target, express5Target, fastifyTarget, honoTarget, nestExpressTarget, nestFastifyTarget];

let fixtures: Fixtures;
beforeAll(async () => {
  fixtures = await createFixtures();
});

it('has at least 40 cases, each named once', () => {
  expect(cases.length).toBeGreaterThanOrEqual(40);
  expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
});

describe.each(targets)('$name', (target) => {
  let server: Running;
  beforeAll(async () => {
    server = await target.start(adapterOptions(fixtures));
  });
  afterAll(() => server.close());

  it.each(cases)('$name', async (c: Case) => {
    const request = await c.request(fixtures);
    for (let i = 0; i < (c.repeat ?? 0); i++) expect((await send(server.url, request)).status).toBe(200);
    assertResponse(await send(server.url, request), c);
  });
});
