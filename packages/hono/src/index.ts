export { requireScope, requireWorkload, wimse, type WimseEnv, type WimseHonoOptions, type WimseMiddleware } from './middleware.js';
