/** `wimse <command>`: dispatch, usage and exit codes (0 ok, 1 failed check or request, 2 usage). */
import { inspect, INSPECT_USAGE } from './commands/inspect.js';
import { keygen, KEYGEN_USAGE } from './commands/keygen.js';
import { request, REQUEST_USAGE } from './commands/request.js';
import { witIssue, WIT_ISSUE_USAGE } from './commands/wit-issue.js';
import { UsageError, type CliIo } from './io.js';

export const USAGE = `wimse — WIMSE workload identity tools

${KEYGEN_USAGE}

${WIT_ISSUE_USAGE}

${INSPECT_USAGE}

${REQUEST_USAGE}
`;

/**
 * Runs one CLI command and resolves to its exit code.
 *
 * @example
 * process.exitCode = await run(process.argv.slice(2), nodeIo())
 */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'keygen':
        return await keygen(rest, io);
      case 'wit':
        if (rest[0] !== 'issue') throw new UsageError('did you mean: wimse wit issue …');
        return await witIssue(rest.slice(1), io);
      case 'inspect':
        return await inspect(rest, io);
      case 'request':
        return await request(rest, io);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.stdout(USAGE);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    }
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr(`wimse: ${e.message}\nRun \`wimse help\` for usage.\n`);
    return 2;
  }
}
