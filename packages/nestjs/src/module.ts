import { Inject, Module, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { createWimseHandler, type WimseHandler } from '@wimse/core/adapter';
import { WimseBodyMiddleware } from './body.js';
import { WIMSE_HANDLER, WIMSE_OPTIONS } from './constants.js';
import { WimseExceptionFilter } from './exception.js';
import { WimseGuard } from './guard.js';
import { ConfigurableModuleClass, type WimseModuleOptions } from './module-definition.js';

export type { WimseModuleOptions };

/**
 * Configures WIMSE for the whole application (a global module): `forRoot(options)` or
 * `forRootAsync({ useFactory, inject })`. Options are validated when the module starts.
 *
 * @example
 * WimseModule.forRoot({ trustDomains: { 'example.org': { keys: jwksUrl } }, audience: 'https://orders.example.org' })
 */
@Module({
  providers: [
    { provide: WIMSE_HANDLER, useFactory: (options: WimseModuleOptions) => createWimseHandler(options), inject: [WIMSE_OPTIONS] },
    { provide: APP_FILTER, useClass: WimseExceptionFilter },
    WimseGuard,
  ],
  exports: [WIMSE_HANDLER, WimseGuard],
})
export class WimseModule extends ConfigurableModuleClass implements NestModule {
  constructor(@Inject(WIMSE_HANDLER) private readonly handler: WimseHandler) {
    super();
  }

  /**
   * Reads signed bodies of any content type, bounded by `maxBodyBytes`, before the route runs. Without
   * HTTP signatures no body is ever verified: no middleware then (on Fastify, none for middie to run per request).
   */
  configure(consumer: MiddlewareConsumer): void {
    if (this.handler.readsBodies) consumer.apply(WimseBodyMiddleware).forRoutes('*');
  }
}
