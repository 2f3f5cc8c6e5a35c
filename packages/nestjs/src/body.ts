/**
 * Reads a signed body before Nest's route pipeline, on both platforms: Express runs it after Nest's
 * own json/urlencoded parsers (whose bytes `rawBody: true` keeps), Fastify in `onRequest`, before any
 * content-type parser. The core bounds the read and hands the bytes back to the stream, so any
 * parser (text/plain, octet-stream, …) still reads them; the bytes are also kept as `rawBody`, as
 * Nest's `rawBody: true` does for the types it parses. No protocol rule lives here.
 */
import { Inject, Injectable, type NestMiddleware } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { readAndRestoreBody, type WimseHandler } from '@wimse/core/adapter';
import { WIMSE_HANDLER } from './constants.js';
import { WimseHttpException } from './exception.js';

/** Applied to every route by `WimseModule`. */
@Injectable()
export class WimseBodyMiddleware implements NestMiddleware<IncomingMessage & { rawBody?: unknown }> {
  constructor(@Inject(WIMSE_HANDLER) private readonly handler: WimseHandler) {}

  use(request: IncomingMessage & { rawBody?: unknown }, _response: unknown, next: () => void): void | Promise<void> {
    // Bytes a Nest parser kept are used as they are. Node's `headers` tells what needsBody asks as
    // `rawHeaders` would (whether Signature-Input, Transfer-Encoding or Content-Digest occur, the
    // first Content-Length), and the platform has already built it: no second header view per request.
    if (request.rawBody !== undefined || !this.handler.needsBody(request.headers)) return next();
    return this.read(request, next);
  }

  private async read(request: IncomingMessage & { rawBody?: unknown }, next: () => void): Promise<void> {
    let body: Uint8Array | undefined;
    try {
      body = await readAndRestoreBody(request, this.handler.maxBodyBytes);
    } catch (e) {
      // Bad input as itself (e.g. 413), a bug as the reported 500 internal_error problem, as in every adapter.
      throw new WimseHttpException(this.handler.fail(e).response);
    }
    if (body !== undefined) request.rawBody = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    next();
  }
}
