import { Readable } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import { wimsePlugin } from '@wimse/fastify';
import { ADMIN, HEALTH, TRADE_SCOPE, echoed, kibChunks, summary, type Running, type Target } from './contract.js';

export const fastifyTarget: Target = {
  name: 'fastify',
  async start(options, tls): Promise<Running> {
    const app: FastifyInstance = tls === undefined ? Fastify() : (Fastify({ https: tls }) as unknown as FastifyInstance);
    await app.register(wimsePlugin, options);
    app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    app.get('/health', { config: { wimse: { public: true } } }, async () => HEALTH);
    app.get('/optional', { config: { wimse: { optional: true } } }, async (request) => summary(request.wimse));
    app.get('/whoami', async (request) => summary(request.wimse));
    app.get('/hooked/whoami', async (request) => summary(request.wimse));
    app.post('/echo', async (request) => ({ ...summary(request.wimse), body: echoed(request.body) }));
    app.get('/admin', { config: { wimse: { allow: ADMIN } } }, async (request) => summary(request.wimse));
    app.get('/trade', { config: { wimse: { scope: TRADE_SCOPE } } }, async (request) => summary(request.wimse));
    app.get('/trade/admin', { config: { wimse: { allow: ADMIN, scope: [TRADE_SCOPE] } } }, async (request) => summary(request.wimse));
    app.get<{ Querystring: { kib?: string } }>('/stream', async (request, reply) =>
      reply.type('text/plain').send(Readable.from(kibChunks(request.query.kib))),
    );
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    return { url: new URL(address), close: () => app.close() };
  },
};
