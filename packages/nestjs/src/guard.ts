/**
 * Nest glue: build the core's request view (Express or Fastify platform), call the shared handler,
 * set `request.wimse` or throw the core's error response. No protocol rule lives here.
 */
import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { WimsePrincipal, WimseRequest } from '@wimse/core';
import { connectionOf, headersFromRaw, signNodeResponse, type WimseHandler, type WimseOutcome, type WimseRoute } from '@wimse/core/adapter';
import { ALLOW_KEY, OPTIONAL_KEY, PUBLIC_KEY, SCOPE_KEY, WIMSE_HANDLER } from './constants.js';
import { WimseHttpException } from './exception.js';

const PUBLIC_ROUTE: WimseRoute = Object.freeze({ public: true, optional: undefined, authorize: undefined, scope: undefined });

/** The parts of an Express request or a Fastify request the guard reads. */
export interface WimseHttpRequest {
  method: string;
  originalUrl?: string;
  /** Fastify: the Node request. */
  raw?: IncomingMessage;
  /** Set by Nest with `NestFactory.create(AppModule, { rawBody: true })`. */
  rawBody?: Buffer;
  wimse?: WimsePrincipal | undefined;
}

/**
 * Authenticates HTTP requests; use globally (`{ provide: APP_GUARD, useClass: WimseGuard }`) or
 * with `@UseGuards(WimseGuard)`. Honours `@Public()`, `@OptionalWorkload()`, `@AllowWorkloads()` and `@RequireScope()`.
 * Non-HTTP handlers are refused unless marked `@Public()`.
 *
 * @example
 * @Module({ imports: [WimseModule.forRoot(options)], providers: [{ provide: APP_GUARD, useClass: WimseGuard }] })
 */
@Injectable()
export class WimseGuard implements CanActivate {
  constructor(
    @Inject(WIMSE_HANDLER) protected readonly handler: WimseHandler,
    @Inject(Reflector) protected readonly reflector: Reflector,
  ) {}

  // The rules of each route handler, read once: the decorators' metadata is fixed when the class is defined.
  private readonly routes = new WeakMap<object, { readonly controller: unknown; readonly route: WimseRoute }>();

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const route = this.routeOf(context);
    if (route.public) return true;
    // Fail closed: other transports (RPC, WebSocket, GraphQL) carry no HTTP proof this guard can check.
    if (context.getType() !== 'http') return false;
    const request = context.switchToHttp().getRequest<WimseHttpRequest & IncomingMessage>();
    let outcome: WimseOutcome | Promise<WimseOutcome>;
    let view: WimseRequest | undefined;
    try {
      view = this.viewOf(request);
      outcome = this.handler.handle(view, route);
    } catch (e) {
      // A bug or set-up mistake on our side: the reported 500 internal_error problem, as in every adapter.
      outcome = this.handler.fail(e);
    }
    // Nothing had to wait (a cached WIT): answered without a promise.
    const signedFor = view;
    if (outcome instanceof Promise) return outcome.then((o) => this.settle(o, context, request, signedFor));
    return this.settle(outcome, context, request, signedFor);
  }

  private settle(
    outcome: WimseOutcome,
    context: ExecutionContext,
    request: WimseHttpRequest,
    signedFor: WimseRequest | undefined,
  ): boolean {
    // http-signature-07 §3.5: signed at the Node response, the one place that sees every byte sent
    // on both platforms, this guard's own 403 and the exception filters' answers included (an
    // interceptor would see neither).
    if (outcome.responseSignature !== undefined) {
      const response = context.switchToHttp().getResponse<ServerResponse | { raw: ServerResponse }>();
      signNodeResponse(
        'raw' in response ? response.raw : response,
        outcome.responseSignature,
        (e) => this.handler.reject(e, signedFor).response,
      );
    }
    if (!outcome.ok) throw new WimseHttpException(outcome.response);
    request.wimse = outcome.principal;
    return true;
  }

  /** The route rules the decorators set on this handler (a method's win over its controller's), cached per handler. */
  private routeOf(context: ExecutionContext): WimseRoute {
    const handler = context.getHandler();
    const controller = context.getClass();
    const cached = this.routes.get(handler);
    // The same method may be inherited by two controllers with different rules: the controller is part of the key.
    if (cached !== undefined && cached.controller === controller) return cached.route;
    const targets = [handler, controller];
    const isPublic = this.reflector.getAllAndOverride<boolean | undefined>(PUBLIC_KEY, targets) === true;
    const scope = isPublic ? undefined : this.reflector.getAllAndOverride<WimseRoute['scope']>(SCOPE_KEY, targets);
    const route: WimseRoute = isPublic
      ? PUBLIC_ROUTE
      : {
          public: false,
          // A scope route is never optional (as WimseHandler.route compiles it for the other adapters).
          optional: scope === undefined ? this.reflector.getAllAndOverride<boolean | undefined>(OPTIONAL_KEY, targets) : false,
          authorize: this.reflector.getAllAndOverride<WimseRoute['authorize']>(ALLOW_KEY, targets),
          scope,
        };
    if (typeof handler === 'function') this.routes.set(handler, { controller, route });
    return route;
  }

  /** The core's view of an Express request or a Fastify request. */
  protected viewOf(request: WimseHttpRequest & IncomingMessage): WimseRequest {
    const node = request.raw ?? request;
    // From rawHeaders, as every Node adapter: a repeated Authorization stays apart, no array per field.
    const headers = node.rawHeaders === undefined ? node.headers : headersFromRaw(node.rawHeaders);
    let body: Uint8Array | undefined;
    if (this.handler.needsBody(headers)) {
      // The bytes Nest's parser kept (`rawBody: true`), or those WimseModule's middleware read (on the Node request).
      body = request.rawBody ?? (node as { rawBody?: Buffer }).rawBody;
      // A set-up mistake, not bad input: say so loudly rather than fail every digest check.
      if (body === undefined)
        throw new Error('WimseGuard: a body parser consumed the body without keeping it; create the app with { rawBody: true }');
    }
    const connection = connectionOf(node.socket);
    // Fields set one by one, not spread: one object, no copy (hot path).
    return {
      method: request.method,
      path: request.originalUrl ?? node.url ?? '/',
      headers,
      body,
      peerCertificates: connection.peerCertificates,
      remoteAddress: connection.remoteAddress,
    };
  }
}
