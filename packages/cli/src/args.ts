/** Argument parsing is `node:util` parseArgs; its mistakes become usage errors. */
import { UsageError } from './io.js';

/** Runs a `parseArgs` call, turning its errors into {@link UsageError}s, and caps positionals. */
export function parsed<T extends { positionals: string[] }>(parse: () => T, maxPositionals: number): T {
  let result: T;
  try {
    result = parse();
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
  if (result.positionals.length > maxPositionals)
    throw new UsageError(`unexpected argument ${JSON.stringify(result.positionals[maxPositionals])}`);
  return result;
}
