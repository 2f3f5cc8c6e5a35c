export { requireWorkload, wimse, type WimseExpressOptions } from './middleware.js';
export type {} from './request.js';
