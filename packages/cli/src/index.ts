export { run, USAGE } from './run.js';
export { nodeIo, type CliIo } from './io.js';
