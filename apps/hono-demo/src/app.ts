/**
 * The Hono demo service. Routes registered after `app.use(wimse(...))` require a WIMSE-authenticated
 * workload; `c.get('wimse')` is the caller.
 */
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { PROBLEM_CONTENT_TYPE } from '@wimse/core';
import { requireScope, requireWorkload, wimse, type WimseEnv } from '@wimse/hono';
import { MAX_BODY_BYTES, type DemoConfig, problem, whoami, type Problem, createEdge, createRelay, orders } from '@wimse/demo-kit';

export function createApp(config: DemoConfig): Hono<WimseEnv> {
  const app = new Hono<WimseEnv>();
  const relay = createRelay(config);
  const edge = createEdge(config);

  // Public: registered before the WIMSE middleware.
  app.get('/health', (c) => c.json({ status: 'ok' }));
  // Public too: a user's request with an access token enters here (edge.ts), no workload proof.
  app.get('/edge/orders', async (c) => {
    const result = await edge(c.req.header('authorization'), c.req.queries('to'));
    return result.status === 200 ? c.json(result.body as object) : sendProblem(c, result as Problem);
  });

  // The body limit first, so it holds for every request (wimse() bounds only the bodies it verifies,
  // with config.wimse.maxBodyBytes); it hands wimse() a fresh copy of the bytes it read.
  app.use(
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) => sendProblem(c, problem(413, 'body_too_large', `Body larger than ${MAX_BODY_BYTES} bytes`)),
    }),
  );
  app.use(wimse(config.wimse));

  app.get('/whoami', (c) => c.json(whoami(c.get('wimse')!, config)));

  app.post('/echo', async (c) => {
    if (!(c.req.header('content-type') ?? '').startsWith('application/json'))
      return sendProblem(c, problem(415, 'unsupported_media_type', 'Send application/json'));
    try {
      return c.json(await c.req.json());
    } catch {
      return sendProblem(c, problem(400, 'json_invalid', 'The request body is not JSON'));
    }
  });

  app.get('/admin', requireWorkload(`spiffe://${config.trustDomain}/admin`), (c) =>
    c.json({ admin: true, workload: c.get('wimse')!.workload }),
  );

  // Txn-Token scope rules: 403 insufficient_scope without the scope (or without a Txn-Token).
  app.get('/orders', requireScope('orders:read'), (c) => c.json(orders(c.get('wimse')!, config, 'read')));
  app.post('/orders', requireScope('orders:write'), (c) => c.json(orders(c.get('wimse')!, config, 'write'), 201));

  app.get('/relay', async (c) => {
    const result = await relay(c.req.queries('to'), c.get('wimse')!, c.req.query('path'));
    return result.status === 200 ? c.json(result.body as object) : sendProblem(c, result as Problem);
  });

  app.notFound((c) => sendProblem(c, problem(404, 'not_found', `No route ${c.req.method} ${c.req.path}`)));
  app.onError((_error, c) => sendProblem(c, problem(500, 'internal_error', 'Internal error')));
  return app;
}

function sendProblem(c: Context, p: Problem): Response {
  return c.body(JSON.stringify(p.body), p.status as 400, { 'content-type': PROBLEM_CONTENT_TYPE });
}
