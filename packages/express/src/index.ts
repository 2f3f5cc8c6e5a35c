/**
 * WIMSE workload authentication for Express 4 and 5: the {@link wimse} middleware sets `req.wimse`; {@link requireWorkload} narrows a route.
 *
 * @packageDocumentation
 * @module @wimse/express
 */
export { requireScope, requireWorkload, wimse, type WimseExpressOptions, type WimseMiddleware } from './middleware.js';
export type {} from './request.js';
