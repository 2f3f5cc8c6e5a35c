/**
 * The `wimse` command line (keys, WITs, inspecting tokens, signed requests) as a library: {@link run}.
 *
 * @packageDocumentation
 * @module @wimse/cli
 */
export { run, USAGE } from './run.js';
export { nodeIo, type CliIo } from './io.js';
