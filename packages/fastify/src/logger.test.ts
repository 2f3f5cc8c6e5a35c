/**
 * `logger: app.log`: Fastify's own pino logger takes the operator log as it is (fields first),
 * so a misconfigured audience shows up in the service's JSON log with expected vs received.
 */
import { Writable } from 'node:stream';
import Fastify from 'fastify';
import { beforeAll, describe, expect, it } from 'vitest';
import type { WimseAdapterOptions, WorkloadSigner } from '@wimse/core';
import { adapterFixture } from '@wimse/test-support/factory';
import { wimsePlugin } from './index.js';

const AUDIENCE = 'https://svc.example.org';
let options: WimseAdapterOptions;
let client: WorkloadSigner;

beforeAll(async () => {
  ({ options, client } = await adapterFixture(AUDIENCE));
});

describe('logger: app.log (pino)', () => {
  it('an audience mismatch is one pino warn line with expected and received, and no token', async () => {
    const lines: Record<string, unknown>[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const app = Fastify({ logger: { level: 'warn', stream } });
    try {
      await app.register(wimsePlugin, { ...options, logger: app.log });
      app.get('/orders', async () => 'ok');
      await app.ready();
      const headers = await client.wptHeaders({ url: 'https://old-name.example.org/orders' });
      const res = await app.inject({ method: 'GET', url: '/orders', headers });
      expect([res.statusCode, res.json<{ code: string }>().code]).toEqual([401, 'wpt_aud']);
      const ours = lines.filter((l) => l.event === 'wimse.mismatch');
      expect(ours).toEqual([
        expect.objectContaining({
          level: 40,
          code: 'wpt_aud',
          expected: [`${AUDIENCE}/orders`],
          received: ['https://old-name.example.org/orders'],
          msg: expect.stringContaining('wpt_aud: expected'),
        }),
      ]);
      const text = JSON.stringify(lines);
      for (const part of headers['workload-identity-token']!.split('.')) expect(text).not.toContain(part);
    } finally {
      await app.close();
    }
  });
});
