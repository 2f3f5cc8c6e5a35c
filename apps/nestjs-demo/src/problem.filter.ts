/** Nest's own HTTP errors (bad JSON, too large, not found) as RFC 9457 problems, like the core's. */
import { Catch, HttpException, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { PROBLEM_CONTENT_TYPE } from '@wimse/core';
import { WimseHttpException } from '@wimse/nestjs';
import { problem, type Problem } from '@wimse/demo-kit';

/** The Express response methods the demo uses. */
export interface ProblemResponse {
  status(code: number): ProblemResponse;
  setHeader(name: string, value: string): unknown;
  send(body: string): unknown;
}

export function sendProblem(res: ProblemResponse, p: Problem): string {
  res.status(p.status);
  res.setHeader('content-type', PROBLEM_CONTENT_TYPE);
  return JSON.stringify(p.body);
}

const CODES: Record<number, string> = { 400: 'bad_request', 404: 'not_found', 413: 'body_too_large', 415: 'unsupported_media_type' };

@Catch(HttpException)
export class ProblemFilter implements ExceptionFilter<HttpException> {
  catch(exception: HttpException, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<ProblemResponse>();
    // The guard's own errors: the core already rendered them.
    if (exception instanceof WimseHttpException) {
      const r = exception.wimseResponse;
      for (const [name, value] of Object.entries(r.headers)) res.setHeader(name, value);
      res.status(r.status).send(r.body);
      return;
    }
    const status = exception.getStatus();
    res.send(sendProblem(res, problem(status, CODES[status] ?? (status >= 500 ? 'internal_error' : 'bad_request'), exception.message)));
  }
}

/** Express error middleware for body parser failures (bad JSON 400, too large 413), which Nest's filters never see. */
export function bodyParserErrors(
  err: { status?: unknown; type?: unknown },
  _req: unknown,
  res: ProblemResponse,
  next: (err?: unknown) => void,
): void {
  if (typeof err.status !== 'number' || err.status < 400 || err.status >= 500) return next(err);
  const code =
    err.type === 'entity.too.large'
      ? 'body_too_large'
      : err.type === 'entity.parse.failed'
        ? 'json_invalid'
        : (CODES[err.status] ?? 'bad_request');
  res.send(sendProblem(res, problem(err.status, code, 'The request body could not be read')));
}
