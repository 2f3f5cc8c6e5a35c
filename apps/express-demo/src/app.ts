/**
 * The Express demo service. Everything registered after `app.use(wimse(...))` requires a
 * WIMSE-authenticated workload; `req.wimse` is the caller.
 */
import express, { type ErrorRequestHandler, type Response } from 'express';
import { PROBLEM_CONTENT_TYPE } from '@wimse/core';
import { requireScope, requireWorkload, wimse } from '@wimse/express';
import { MAX_BODY_BYTES, type DemoConfig, problem, whoami, type Problem, createEdge, createRelay, orders } from '@wimse/demo-kit';

export function createApp(config: DemoConfig): express.Express {
  const app = express();
  const relay = createRelay(config);
  const edge = createEdge(config);

  // Public: registered before the WIMSE middleware.
  app.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });

  // Public too: a user's request with an access token enters here (edge.ts), no workload proof.
  app.get('/edge/orders', async (req, res) => {
    const result = await edge(req.headers.authorization, req.query.to);
    if (result.status === 200) res.json(result.body);
    else sendProblem(res, result as Problem);
  });

  app.use(wimse(config.wimse));
  app.use(express.json({ limit: MAX_BODY_BYTES }));

  app.get('/whoami', (req, res) => {
    res.json(whoami(req.wimse!, config));
  });

  app.post('/echo', (req, res) => {
    if (!req.is('application/json')) return sendProblem(res, problem(415, 'unsupported_media_type', 'Send application/json'));
    res.json(req.body);
  });

  app.get('/admin', requireWorkload(`spiffe://${config.trustDomain}/admin`), (req, res) => {
    res.json({ admin: true, workload: req.wimse!.workload });
  });

  // Txn-Token scope rules: 403 insufficient_scope without the scope (or without a Txn-Token).
  app.get('/orders', requireScope('orders:read'), (req, res) => {
    res.json(orders(req.wimse!, config, 'read'));
  });

  app.post('/orders', requireScope('orders:write'), (req, res) => {
    res.status(201).json(orders(req.wimse!, config, 'write'));
  });

  app.get('/relay', async (req, res) => {
    const result = await relay(req.query.to, req.wimse!, req.query.path);
    if (result.status === 200) res.json(result.body);
    else sendProblem(res, result as Problem);
  });

  app.use((req, res) => sendProblem(res, problem(404, 'not_found', `No route ${req.method} ${req.path}`)));
  // Body parser errors (bad JSON, too large) are the client's: a 4xx problem, never a 500 page.
  const onError: ErrorRequestHandler = (err: { status?: unknown; type?: unknown }, _req, res, _next) => {
    const status = typeof err.status === 'number' && err.status >= 400 && err.status < 500 ? err.status : 500;
    const code =
      err.type === 'entity.too.large'
        ? 'body_too_large'
        : err.type === 'entity.parse.failed'
          ? 'json_invalid'
          : status === 500
            ? 'internal_error'
            : 'bad_request';
    sendProblem(res, problem(status, code, status === 500 ? 'Internal error' : 'The request body could not be read as JSON'));
  };
  app.use(onError);
  return app;
}

function sendProblem(res: Response, p: Problem): void {
  res.status(p.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(p.body));
}
