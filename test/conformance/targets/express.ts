import { createServer } from 'node:http';
import { Readable } from 'node:stream';
import { createServer as createHttpsServer } from 'node:https';
import express from 'express';
import express4 from 'express4';
import { requireWorkload, wimse } from '@wimse/express';
import { ADMIN, HEALTH, echoed, kibChunks, listen, summary, type Target } from './contract.js';

type ExpressFactory = typeof express;

function expressTarget(name: string, factory: ExpressFactory): Target {
  return {
    name,
    start(options, tls) {
      const app = factory();
      // Registered before wimse(): public.
      app.get('/health', (_req, res) => void res.json(HEALTH));
      app.get('/optional', wimse({ ...options, optional: true }), (req, res) => void res.json(summary(req.wimse)));
      app.use(wimse(options));
      // The app's own parser after authentication: it must still see the body.
      app.use(factory.json(), factory.text(), factory.raw({ type: 'application/octet-stream' }));
      app.get(['/whoami', '/hooked/whoami'], (req, res) => void res.json(summary(req.wimse)));
      app.post('/echo', (req, res) => void res.json({ ...summary(req.wimse), body: echoed(req.body) }));
      app.get('/admin', requireWorkload(ADMIN), (req, res) => void res.json(summary(req.wimse)));
      app.get('/stream', (req, res) => void Readable.from(kibChunks(req.query.kib)).pipe(res.type('text/plain')));
      return listen(tls === undefined ? createServer(app) : createHttpsServer(tls, app));
    },
  };
}

export const express5Target = expressTarget('express5', express);
export const express4Target = expressTarget('express4', express4);
