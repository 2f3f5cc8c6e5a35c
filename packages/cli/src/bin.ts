#!/usr/bin/env node
import { describeError, nodeIo } from './io.js';
import { run } from './run.js';

// A closed pipe (`wimse … | head`) ends output quietly.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

try {
  process.exitCode = await run(process.argv.slice(2), nodeIo());
} catch (e) {
  process.stderr.write(`wimse: ${describeError(e)}\n`);
  process.exitCode = 1;
}
