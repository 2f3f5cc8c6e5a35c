/**
 * WIMSE workload authentication for Hono: the {@link wimse} middleware sets `c.get('wimse')`; {@link requireWorkload} narrows a route.
 *
 * @packageDocumentation
 * @module @wimse/hono
 */
export { requireScope, requireWorkload, wimse, type WimseEnv, type WimseHonoOptions, type WimseMiddleware } from './middleware.js';
