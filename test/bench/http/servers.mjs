// The servers `pnpm bench:http` measures: for each target, the plain framework (GET /bench, no
// authentication), the plain framework whose route does one signature verification (`work`), and
// the same framework with our adapter in front of the same route. Plain
// JavaScript importing the built packages, so the child runs on bare Node (no TypeScript loader);
// NestJS decorators are applied by hand, as the TypeScript compiler would.
import 'reflect-metadata';
import { createServer } from 'node:http';
import express from 'express';
import express4 from 'express4';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { createAdaptorServer } from '@hono/node-server';
import { Controller, Get, Module } from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { wimse as expressWimse } from '@wimse/express';
import { wimsePlugin } from '@wimse/fastify';
import { wimse as honoWimse } from '@wimse/hono';
import { WimseGuard, WimseModule, Workload } from '@wimse/nestjs';

export const PATH = '/bench';
/** What each server answers on GET /bench: the plain one `{ ok: true }`, the authenticated one the workload. */
export const plainBody = () => ({ ok: true });
export const authBody = (principal) => ({ workload: principal?.workload ?? null });

function listen(server) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve({ port: server.address().port, close: () => new Promise((r) => server.close(() => r())) }));
  });
}

const noWork = () => {};

function expressFactory(factory) {
  return (options, work = noWork) => {
    const app = factory();
    app.set('etag', false);
    if (options !== undefined) app.use(expressWimse(options));
    app.get(
      PATH,
      options === undefined ? (_req, res) => void res.json((work(), plainBody())) : (req, res) => void res.json(authBody(req.wimse)),
    );
    return listen(createServer(app));
  };
}

async function fastify(options, work = noWork) {
  const app = Fastify();
  if (options !== undefined) await app.register(wimsePlugin, options);
  app.get(PATH, options === undefined ? async () => (work(), plainBody()) : async (request) => authBody(request.wimse));
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { port: app.server.address().port, close: () => app.close() };
}

function hono(options, work = noWork) {
  const app = new Hono();
  if (options !== undefined) app.use(honoWimse(options));
  app.get(PATH, options === undefined ? (c) => c.json((work(), plainBody())) : (c) => c.json(authBody(c.get('wimse'))));
  return listen(createAdaptorServer({ fetch: app.fetch }));
}

// @Controller() class { @Get('bench') bench(@Workload() w) {} }, decorated by hand.
function nestModule(options, work) {
  class BenchController {
    bench(workload) {
      if (options === undefined) work();
      return options === undefined ? plainBody() : authBody(workload);
    }
  }
  Controller()(BenchController);
  Get(PATH.slice(1))(BenchController.prototype, 'bench', Object.getOwnPropertyDescriptor(BenchController.prototype, 'bench'));
  if (options !== undefined) Workload()(BenchController.prototype, 'bench', 0);
  class AppModule {}
  Module(
    options === undefined
      ? { controllers: [BenchController] }
      : {
          imports: [WimseModule.forRootAsync({ useFactory: () => options })],
          controllers: [BenchController],
          providers: [{ provide: APP_GUARD, useClass: WimseGuard }],
        },
  )(AppModule);
  return AppModule;
}

async function nestStarted(app) {
  await app.listen(0, '127.0.0.1');
  return { port: app.getHttpServer().address().port, close: () => app.close() };
}

/**
 * Target name → start(options | undefined, work?) → { port, close }; `undefined` options = the plain
 * framework, whose route calls `work()` before answering.
 */
export const TARGETS = {
  express4: expressFactory(express4),
  express5: expressFactory(express),
  fastify,
  hono,
  'nestjs-express': async (options, work = noWork) => nestStarted(await NestFactory.create(nestModule(options, work), { logger: false })),
  'nestjs-fastify': async (options, work = noWork) =>
    nestStarted(await NestFactory.create(nestModule(options, work), new FastifyAdapter(), { logger: false })),
};
