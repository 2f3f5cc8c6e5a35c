/**
 * The conformance Hono app as a fetch handler for Web-standard runtimes (workerd's module worker
 * shape; bun.ts and deno.ts serve it). The issuer JWK is injected when bundling (launch.ts).
 */
import type { JWK } from 'jose';
import { adapterOptionsFor } from '../fixtures.js';
import { honoApp } from '../targets/hono-app.js';

declare const WIMSE_ISSUER_JWK: JWK;

let app: ReturnType<typeof honoApp> | undefined;

export default {
  // Built on the first request: workerd refuses timers and random values in the global scope.
  fetch(request: Request): Response | Promise<Response> {
    app ??= honoApp(adapterOptionsFor(WIMSE_ISSUER_JWK));
    return app.fetch(request);
  },
};
