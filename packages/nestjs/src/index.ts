/**
 * WIMSE workload authentication for NestJS on Express or Fastify: {@link WimseModule}, {@link WimseGuard} and the route decorators.
 *
 * @packageDocumentation
 * @module @wimse/nestjs
 */
export { WIMSE_HANDLER, WIMSE_OPTIONS } from './constants.js';
export { AllowWorkloads, OptionalWorkload, Public, RequireScope, Workload, workloadOf } from './decorators.js';
export { WimseExceptionFilter, WimseHttpException } from './exception.js';
export { WimseGuard, type WimseHttpRequest } from './guard.js';
export { WimseModule, type WimseModuleOptions } from './module.js';
