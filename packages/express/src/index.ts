export { requireScope, requireWorkload, wimse, type WimseExpressOptions, type WimseMiddleware } from './middleware.js';
export type {} from './request.js';
