/**
 * The Fastify demo service. `wimsePlugin` authenticates every route unless its config says
 * `wimse: { public: true }`; `request.wimse` is the caller; `wimse: { allow }` narrows a route.
 */
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { PROBLEM_CONTENT_TYPE } from '@wimse/core';
import { wimsePlugin } from '@wimse/fastify';
import { MAX_BODY_BYTES, type DemoConfig, problem, whoami, type Problem, createEdge, createRelay, orders } from '@wimse/demo-kit';

export async function createApp(config: DemoConfig): Promise<FastifyInstance> {
  const app = Fastify({ bodyLimit: MAX_BODY_BYTES });
  const relay = createRelay(config);
  const edge = createEdge(config);
  // JSON only: other media types get Fastify's 415.
  app.removeContentTypeParser('text/plain');

  await app.register(wimsePlugin, config.wimse);

  app.get('/health', { config: { wimse: { public: true } } }, async () => ({ status: 'ok' }));

  // A user's request with an access token enters here (edge.ts): no workload proof.
  app.get<{ Querystring: { to?: string | string[] } }>('/edge/orders', { config: { wimse: { public: true } } }, async (request, reply) => {
    const result = await edge(request.headers.authorization, request.query.to);
    return result.status === 200 ? result.body : sendProblem(reply, result as Problem);
  });

  app.get('/whoami', async (request) => whoami(request.wimse!, config));

  // Txn-Token scope rules: 403 insufficient_scope without the scope (or without a Txn-Token).
  app.get('/orders', { config: { wimse: { scope: 'orders:read' } } }, async (request) => orders(request.wimse!, config, 'read'));

  app.post('/orders', { config: { wimse: { scope: 'orders:write' } } }, async (request, reply) =>
    reply.code(201).send(orders(request.wimse!, config, 'write')),
  );

  app.post('/echo', async (request) => request.body);

  app.get('/admin', { config: { wimse: { allow: `spiffe://${config.trustDomain}/admin` } } }, async (request) => ({
    admin: true,
    workload: request.wimse!.workload,
  }));

  app.get<{ Querystring: { to?: string | string[]; path?: string } }>('/relay', async (request, reply) => {
    const result = await relay(request.query.to, request.wimse!, request.query.path);
    return result.status === 200 ? result.body : sendProblem(reply, result as Problem);
  });

  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, problem(404, 'not_found', `No route ${request.method} ${request.url.split('?')[0]}`)),
  );
  // Fastify's own 4xx (bad JSON, too large, wrong media type) as problems; anything else is ours.
  app.setErrorHandler((error: { statusCode?: number; code?: string }, _request, reply) => {
    const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    const code =
      status === 413
        ? 'body_too_large'
        : status === 415
          ? 'unsupported_media_type'
          : error.code === 'FST_ERR_CTP_INVALID_JSON_BODY'
            ? 'json_invalid'
            : status === 500
              ? 'internal_error'
              : 'bad_request';
    return sendProblem(
      reply,
      problem(status, code, status === 500 ? 'Internal error' : `The request body was refused (${String(error.code)})`),
    );
  });
  return app;
}

function sendProblem(reply: FastifyReply, p: Problem): FastifyReply {
  return reply.code(p.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(p.body));
}
