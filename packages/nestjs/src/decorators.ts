/** Parameter and route metadata decorators. */
import { SetMetadata, createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { createAuthorizer, createScopeCheck, type WimsePrincipal } from '@wimse/core';
import { ALLOW_KEY, OPTIONAL_KEY, PUBLIC_KEY, SCOPE_KEY } from './constants.js';

/** The principal `WimseGuard` set on the current request. */
export function workloadOf(context: ExecutionContext): WimsePrincipal | undefined {
  return context.switchToHttp().getRequest<{ wimse?: WimsePrincipal }>().wimse;
}

/**
 * Injects the authenticated workload (`WimsePrincipal`; `undefined` on public/optional routes without credentials).
 *
 * @example
 * @Get('whoami') whoami(@Workload() workload: WimsePrincipal) { return workload.workload }
 */
export const Workload = createParamDecorator((_data: unknown, context: ExecutionContext) => workloadOf(context));

/**
 * Allows only these workloads on a route or controller (403 otherwise). Patterns are compiled now,
 * so a bad one fails at start-up.
 *
 * @example
 * @AllowWorkloads('spiffe://example.org/admin') @Get('admin') admin() {}
 */
export const AllowWorkloads = (...patterns: string[]) => SetMetadata(ALLOW_KEY, createAuthorizer(patterns));

/**
 * Skips WIMSE authentication on a route or controller.
 *
 * @example
 * @Public() @Get('health') health() { return 'ok' }
 */
export const Public = () => SetMetadata(PUBLIC_KEY, true);

/**
 * Lets requests without credentials through with no principal (invalid credentials are still rejected).
 *
 * @example
 * @OptionalWorkload() @Get('feed') feed(@Workload() workload?: WimsePrincipal) {}
 */
export const OptionalWorkload = () => SetMetadata(OPTIONAL_KEY, true);

/**
 * Requires every given scope in the request's verified Txn-Token on a route or controller (403
 * `insufficient_scope` otherwise); needs the `transactionTokens` option. Such a route is never
 * optional. Scopes are checked now, so a malformed one fails at start-up.
 *
 * @example
 * @RequireScope('trade.stocks') @Post('trades') trade(@Workload() workload: WimsePrincipal) { return workload.transaction }
 */
export const RequireScope = (...scopes: string[]) => SetMetadata(SCOPE_KEY, createScopeCheck(scopes));
