export { wimsePlugin, type WimseFastifyOptions, type WimseRouteConfig } from './plugin.js';
