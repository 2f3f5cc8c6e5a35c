import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { WimseAdapterOptions } from '@wimse/core';

/** Options of `WimseModule.forRoot`: the core verifier's plus `optional`, `allow`, `onError`, `onInternalError`, `maxBodyBytes` and response signing (`responseSigner`, `signResponses`). */
export type WimseModuleOptions = WimseAdapterOptions;

export const { ConfigurableModuleClass, MODULE_OPTIONS_TOKEN } = new ConfigurableModuleBuilder<WimseModuleOptions>()
  .setClassMethodName('forRoot')
  // Global, so WimseGuard resolves in every module (APP_GUARD or @UseGuards).
  .setExtras({ isGlobal: true }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
  .build();
