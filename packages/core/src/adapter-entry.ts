/**
 * `@wimse/core/adapter`: what a framework adapter needs and an application does not — the request
 * handler, request-view and body helpers, and the hooks that sign outgoing responses. The adapters
 * (`@wimse/express`, `@wimse/fastify`, `@wimse/hono`, `@wimse/nestjs`) are built on it only; write
 * a new adapter against it. Applications use `@wimse/core` and an adapter.
 *
 * @packageDocumentation
 * @module @wimse/core/adapter
 */
export {
  connectionOf,
  createWimseHandler,
  headersFor,
  problemResponse,
  type ConnectionFacts,
  type WimseHandler,
  type WimseOutcome,
  type WimseRoute,
} from './adapter.js';
export { readBody, type BodySource } from './body.js';
export { readAndRestoreBody, type NodeBodyStream } from './node-body.js';
export { signNodeResponse } from './node-response-signing.js';
export { fieldValues, headersFromRaw, headersOf } from './request.js';
export { createResponseSigning, type OutgoingResponse, type ResponseSignature, type ResponseSigning } from './response-signing.js';
