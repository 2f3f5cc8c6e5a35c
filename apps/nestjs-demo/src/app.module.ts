/**
 * The NestJS demo service: `WimseModule.forRoot` + `WimseGuard` as APP_GUARD authenticate every
 * route; `@Public()` opens one, `@AllowWorkloads()` narrows one, `@Workload()` injects the caller.
 */
import { Body, Controller, Get, Headers, HttpCode, Inject, Module, Post, Query, Res, UseFilters, type DynamicModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import type { WimsePrincipal } from '@wimse/core';
import { AllowWorkloads, Public, WimseGuard, WimseModule, Workload } from '@wimse/nestjs';
import { type DemoConfig, problem, whoami, type Problem, createRelay } from '@wimse/demo-kit';
import { ProblemFilter, sendProblem, type ProblemResponse } from './problem.filter.js';

const CONFIG = Symbol('DEMO_CONFIG');
const RELAY = Symbol('RELAY');
type Relay = ReturnType<typeof createRelay>;

/** The module for one configuration (the admin pattern depends on the trust domain). */
export function createAppModule(config: DemoConfig): DynamicModule {
  @Controller()
  @UseFilters(ProblemFilter)
  class DemoController {
    constructor(
      @Inject(CONFIG) private readonly config: DemoConfig,
      @Inject(RELAY) private readonly relay: Relay,
    ) {}

    @Public()
    @Get('health')
    health() {
      return { status: 'ok' };
    }

    @Get('whoami')
    whoami(@Workload() caller: WimsePrincipal) {
      return whoami(caller, this.config);
    }

    @Post('echo')
    @HttpCode(200)
    echo(@Body() body: unknown, @Headers('content-type') type: string | undefined, @Res({ passthrough: true }) res: ProblemResponse) {
      if (!(type ?? '').startsWith('application/json')) return sendProblem(res, problem(415, 'unsupported_media_type', 'Send application/json'));
      return body;
    }

    @AllowWorkloads(`spiffe://${config.trustDomain}/admin`)
    @Get('admin')
    admin(@Workload() caller: WimsePrincipal) {
      return { admin: true, workload: caller.workload };
    }

    @Get('relay')
    async relayTo(@Query('to') to: string | string[] | undefined, @Workload() caller: WimsePrincipal, @Res({ passthrough: true }) res: ProblemResponse) {
      const result = await this.relay(to, caller);
      return result.status === 200 ? result.body : sendProblem(res, result as Problem);
    }
  }

  @Module({
    imports: [WimseModule.forRoot(config.wimse)],
    controllers: [DemoController],
    providers: [
      { provide: CONFIG, useValue: config },
      { provide: RELAY, useValue: createRelay(config) },
      { provide: APP_GUARD, useClass: WimseGuard },
    ],
  })
  class AppModule {}

  return { module: AppModule };
}
