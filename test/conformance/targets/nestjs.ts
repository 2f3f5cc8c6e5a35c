import 'reflect-metadata';
import { Readable } from 'node:stream';
import { Body, Controller, Get, HttpCode, Module, Post, Query, Req, StreamableFile, type INestApplication } from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { WimseAdapterOptions, WimsePrincipal } from '@wimse/core';
import { AllowWorkloads, OptionalWorkload, Public, RequireScope, WimseGuard, WimseModule, Workload } from '@wimse/nestjs';
import { ADMIN, HEALTH, TRADE_SCOPE, echoed, kibChunks, summary, type Running, type Target } from './contract.js';

@Controller()
class ConformanceController {
  @Public()
  @Get('health')
  health() {
    return HEALTH;
  }

  @OptionalWorkload()
  @Get('optional')
  optional(@Workload() workload: WimsePrincipal | undefined) {
    return summary(workload);
  }

  @Get(['whoami', 'hooked/whoami'])
  whoami(@Workload() workload: WimsePrincipal) {
    return summary(workload);
  }

  @Post('echo')
  @HttpCode(200)
  echo(
    @Workload() workload: WimsePrincipal,
    @Body() body: unknown,
    @Req() req: { headers: Record<string, unknown>; rawBody?: Buffer; raw?: { rawBody?: Buffer } },
  ) {
    if (String(req.headers['content-type']).startsWith('application/json')) return { ...summary(workload), body };
    // Text Fastify parsed; other bytes as Nest keeps them (rawBody), on the Nest request or the Node one.
    return { ...summary(workload), body: typeof body === 'string' ? body : echoed(req.rawBody ?? req.raw?.rawBody) };
  }

  @AllowWorkloads(ADMIN)
  @Get('admin')
  admin(@Workload() workload: WimsePrincipal) {
    return summary(workload);
  }

  @RequireScope(TRADE_SCOPE)
  @Get('trade')
  trade(@Workload() workload: WimsePrincipal) {
    return summary(workload);
  }

  @AllowWorkloads(ADMIN)
  @RequireScope(TRADE_SCOPE)
  @Get('trade/admin')
  tradeAdmin(@Workload() workload: WimsePrincipal) {
    return summary(workload);
  }

  @Get('stream')
  stream(@Query('kib') kib: string | undefined) {
    return new StreamableFile(Readable.from(kibChunks(kib)), { type: 'text/plain' });
  }
}

function appModule(options: WimseAdapterOptions) {
  @Module({
    imports: [WimseModule.forRootAsync({ useFactory: () => options })],
    controllers: [ConformanceController],
    providers: [{ provide: APP_GUARD, useClass: WimseGuard }],
  })
  class AppModule {}
  return AppModule;
}

async function started(app: INestApplication, secure = false): Promise<Running> {
  await app.listen(0, '127.0.0.1');
  const url = new URL((await app.getUrl()).replace('[::1]', '127.0.0.1'));
  if (secure) url.protocol = 'https:'; // getUrl() does not know the Fastify adapter's own https option
  return { url, close: () => app.close() };
}

export const nestExpressTarget: Target = {
  name: 'nestjs-express',
  async start(options, tls) {
    return started(
      await NestFactory.create(appModule(options), { rawBody: true, logger: false, ...(tls === undefined ? {} : { httpsOptions: tls }) }),
    );
  },
};

export const nestFastifyTarget: Target = {
  name: 'nestjs-fastify',
  async start(options, tls) {
    const adapter = new FastifyAdapter(tls === undefined ? {} : { https: tls });
    // Fastify parses only JSON and text by default; an app taking bytes says so.
    adapter
      .getInstance()
      .addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    return started(await NestFactory.create(appModule(options), adapter, { rawBody: true, logger: false }), tls !== undefined);
  },
};
