export { requireWorkload, wimse, type WimseEnv, type WimseHonoOptions } from './middleware.js';
