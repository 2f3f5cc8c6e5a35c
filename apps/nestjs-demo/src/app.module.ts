/**
 * The NestJS demo service: `WimseModule.forRoot` + `WimseGuard` as APP_GUARD authenticate every
 * route; `@Public()` opens one, `@AllowWorkloads()` narrows one, `@Workload()` injects the caller.
 */
import { Body, Controller, Get, Headers, HttpCode, Inject, Module, Post, Query, Res, UseFilters, type DynamicModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import type { WimsePrincipal } from '@wimse/core';
import { AllowWorkloads, Public, RequireScope, WimseGuard, WimseModule, Workload } from '@wimse/nestjs';
import { type DemoConfig, problem, whoami, type Problem, createEdge, createRelay, orders } from '@wimse/demo-kit';
import { ProblemFilter, sendProblem, type ProblemResponse } from './problem.filter.js';

const CONFIG = Symbol('DEMO_CONFIG');
const RELAY = Symbol('RELAY');
const EDGE = Symbol('EDGE');
type Relay = ReturnType<typeof createRelay>;
type Edge = ReturnType<typeof createEdge>;

/** The module for one configuration (the admin pattern depends on the trust domain). */
export function createAppModule(config: DemoConfig): DynamicModule {
  @Controller()
  @UseFilters(ProblemFilter)
  class DemoController {
    constructor(
      @Inject(CONFIG) private readonly config: DemoConfig,
      @Inject(RELAY) private readonly relay: Relay,
      @Inject(EDGE) private readonly edge: Edge,
    ) {}

    @Public()
    @Get('health')
    health() {
      return { status: 'ok' };
    }

    // A user's request with an access token enters here (edge.ts): no workload proof.
    @Public()
    @Get('edge/orders')
    async edgeOrders(
      @Headers('authorization') authorization: string | undefined,
      @Query('to') to: string | string[] | undefined,
      @Res({ passthrough: true }) res: ProblemResponse,
    ) {
      const result = await this.edge(authorization, to);
      return result.status === 200 ? result.body : sendProblem(res, result as Problem);
    }

    @Get('whoami')
    whoami(@Workload() caller: WimsePrincipal) {
      return whoami(caller, this.config);
    }

    @Post('echo')
    @HttpCode(200)
    echo(@Body() body: unknown, @Headers('content-type') type: string | undefined, @Res({ passthrough: true }) res: ProblemResponse) {
      if (!(type ?? '').startsWith('application/json'))
        return sendProblem(res, problem(415, 'unsupported_media_type', 'Send application/json'));
      return body;
    }

    @AllowWorkloads(`spiffe://${config.trustDomain}/admin`)
    @Get('admin')
    admin(@Workload() caller: WimsePrincipal) {
      return { admin: true, workload: caller.workload };
    }

    // Txn-Token scope rules: 403 insufficient_scope without the scope (or without a Txn-Token).
    @RequireScope('orders:read')
    @Get('orders')
    listOrders(@Workload() caller: WimsePrincipal) {
      return orders(caller, this.config, 'read');
    }

    @RequireScope('orders:write')
    @Post('orders')
    createOrder(@Workload() caller: WimsePrincipal) {
      return orders(caller, this.config, 'write');
    }

    @Get('relay')
    async relayTo(
      @Query('to') to: string | string[] | undefined,
      @Query('path') path: string | undefined,
      @Workload() caller: WimsePrincipal,
      @Res({ passthrough: true }) res: ProblemResponse,
    ) {
      const result = await this.relay(to, caller, path);
      return result.status === 200 ? result.body : sendProblem(res, result as Problem);
    }
  }

  @Module({
    imports: [WimseModule.forRoot(config.wimse)],
    controllers: [DemoController],
    providers: [
      { provide: CONFIG, useValue: config },
      { provide: RELAY, useValue: createRelay(config) },
      { provide: EDGE, useValue: createEdge(config) },
      { provide: APP_GUARD, useClass: WimseGuard },
    ],
  })
  class AppModule {}

  return { module: AppModule };
}
