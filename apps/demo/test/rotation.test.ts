/**
 * Key rotation while the demo services run: the identity server publishes and signs with a new
 * key; WITs of the old key keep working until it is retired, then every service rejects them;
 * clients and the services' own relay clients renew and carry on. The services run with JWKS and
 * WIT caching off (ROTATION_ENV) so the retirement is observable at once, without waiting.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ROTATION_ENV, runRotation, type Row } from '../src/scenario.js';
import { freePorts, startStack, type Stack } from '../src/stack.js';

let stack: Stack;
let rows: Row[];

beforeAll(async () => {
  stack = await startStack({ ports: await freePorts(), serviceEnv: ROTATION_ENV, mtls: false });
  rows = await runRotation(stack);
}, 90_000);
afterAll(() => stack?.stop());

it('rotates: both keys published, old and new WITs accepted', () => {
  expect(rows.slice(0, 3).map((r) => [r.check, r.got])).toEqual([
    ['rotate: publish and sign with a new key', '201, 2 keys published'],
    ['WIT of the old key, during rotation', '200 ×4'],
    ['WIT of the new key', '200 ×4'],
  ]);
});

it('after retirement every service rejects WITs of the removed key', () => {
  expect(rows.slice(3, 5).map((r) => [r.check, r.got])).toEqual([
    ['retire the old key', '200, 1 key published'],
    ['WIT of the retired key', '400 wit_key_unknown ×4'],
  ]);
});

it('calls keep succeeding for clients that renew, across the whole relay chain', () => {
  expect(rows.slice(5).map((r) => [r.check, r.got])).toEqual([
    ['client that renews when its WIT is refused', '200 ×4'],
    ['relay chain (services renew too)', '200 client→express→fastify→hono→nestjs'],
  ]);
});
