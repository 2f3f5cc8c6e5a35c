import 'reflect-metadata';
import { Body, Controller, Get, HttpCode, Module, Post, type INestApplication } from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { WimseAdapterOptions, WimsePrincipal } from '@wimse/core';
import { AllowWorkloads, OptionalWorkload, Public, WimseGuard, WimseModule, Workload } from '@wimse/nestjs';
import { ADMIN, HEALTH, summary, type Running, type Target } from './contract.js';

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
  echo(@Workload() workload: WimsePrincipal, @Body() body: unknown) {
    return { ...summary(workload), body };
  }

  @AllowWorkloads(ADMIN)
  @Get('admin')
  admin(@Workload() workload: WimsePrincipal) {
    return summary(workload);
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
    return started(await NestFactory.create(appModule(options), { rawBody: true, logger: false, ...(tls === undefined ? {} : { httpsOptions: tls }) }));
  },
};

export const nestFastifyTarget: Target = {
  name: 'nestjs-fastify',
  async start(options, tls) {
    return started(await NestFactory.create(appModule(options), new FastifyAdapter(tls === undefined ? {} : { https: tls }), { rawBody: true, logger: false }), tls !== undefined);
  },
};
