import { createServer } from 'node:http';
import { Readable } from 'node:stream';
import { createServer as createHttpsServer } from 'node:https';
import express from 'express';
import express4 from 'express4';
import { requireScope, requireWorkload, wimse } from '@wimse/express';
import { ADMIN, HEALTH, TRADE_SCOPE, echoed, kibChunks, listen, summary, type Target } from './contract.js';

type ExpressFactory = typeof express;

function expressTarget(name: string, factory: ExpressFactory): Target {
  return {
    name,
    start(options, tls) {
      const app = factory();
      // One wimse(): its route rules before the global mount, then the mount for everything after.
      const auth = wimse(options);
      app.get('/health', auth.route({ public: true }), (_req, res) => void res.json(HEALTH));
      app.get('/optional', auth.route({ optional: true }), (req, res) => void res.json(summary(req.wimse)));
      app.use(auth);
      // The app's own parser after authentication: it must still see the body.
      app.use(factory.json(), factory.text(), factory.raw({ type: 'application/octet-stream' }));
      app.get(['/whoami', '/hooked/whoami'], (req, res) => void res.json(summary(req.wimse)));
      app.post('/echo', (req, res) => void res.json({ ...summary(req.wimse), body: echoed(req.body) }));
      app.get('/admin', requireWorkload(ADMIN), (req, res) => void res.json(summary(req.wimse)));
      // Behind the global mount, route rules narrow; requireWorkload/requireScope say the same.
      app.get('/trade', auth.route({ scope: TRADE_SCOPE }), (req, res) => void res.json(summary(req.wimse)));
      app.get('/trade/admin', requireWorkload(ADMIN), requireScope(TRADE_SCOPE), (req, res) => void res.json(summary(req.wimse)));
      app.get('/stream', (req, res) => void Readable.from(kibChunks(req.query.kib)).pipe(res.type('text/plain')));
      return listen(tls === undefined ? createServer(app) : createHttpsServer(tls, app));
    },
  };
}

export const express5Target = expressTarget('express5', express);
export const express4Target = expressTarget('express4', express4);
