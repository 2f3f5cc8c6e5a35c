/** Carries the core's error response through Nest's exception layer, and renders it as is. */
import { Catch, HttpException, Inject, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { ServerResponse } from 'node:http';
import type { WimseErrorResponse } from '@wimse/core';
import { headersFor } from '@wimse/core/adapter';

/** Thrown by `WimseGuard`: status, headers and body exactly as the core rendered them. */
export class WimseHttpException extends HttpException {
  constructor(readonly wimseResponse: WimseErrorResponse) {
    super(wimseResponse.body, wimseResponse.status);
  }
}

/** Sends a {@link WimseHttpException} on Express or Fastify (registered globally by `WimseModule`). */
@Catch(WimseHttpException)
export class WimseExceptionFilter implements ExceptionFilter<WimseHttpException> {
  constructor(@Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost) {}

  catch(exception: WimseHttpException, host: ArgumentsHost): void {
    const { httpAdapter } = this.adapterHost;
    const response: unknown = host.switchToHttp().getResponse();
    const request = host.switchToHttp().getRequest<{ httpVersionMajor?: number; raw?: { httpVersionMajor?: number } }>();
    const { status, body } = exception.wimseResponse;
    const headers = headersFor(exception.wimseResponse, request.raw?.httpVersionMajor ?? request.httpVersionMajor);
    // From a middleware on Fastify (WimseBodyMiddleware runs in onRequest): the bare Node response.
    if (isNodeResponse(response)) {
      response.statusCode = status;
      for (const [name, value] of Object.entries(headers)) response.setHeader(name, value);
      response.end(body);
      return;
    }
    for (const [name, value] of Object.entries(headers)) httpAdapter.setHeader(response, name, value);
    // A string body keeps our content type on both platforms.
    httpAdapter.reply(response, body, status);
  }
}

// Express and Fastify responses have status(); a plain http.ServerResponse does not.
function isNodeResponse(response: unknown): response is ServerResponse {
  const r = response as Partial<ServerResponse> & { status?: unknown };
  return typeof r.status !== 'function' && typeof r.setHeader === 'function' && typeof r.end === 'function';
}
