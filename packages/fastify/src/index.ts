/**
 * WIMSE workload authentication for Fastify 5: the {@link wimsePlugin} sets `request.wimse`; routes configure it with `config.wimse`.
 *
 * @packageDocumentation
 * @module @wimse/fastify
 */
export { wimsePlugin, type WimseFastifyOptions, type WimseRouteConfig } from './plugin.js';
