/** Carries the core's error response through Nest's exception layer, and renders it as is. */
import { Catch, HttpException, Inject, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { WimseErrorResponse } from '@wimse/core';

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
    for (const [name, value] of Object.entries(exception.wimseResponse.headers)) httpAdapter.setHeader(response, name, value);
    // A string body keeps our content type on both platforms.
    httpAdapter.reply(response, exception.wimseResponse.body, exception.wimseResponse.status);
  }
}
