/**
 * `wimse <command>`: dispatch, usage and exit codes (0 ok, 1 failed check or request, 2 usage,
 * 22 HTTP error with `request --fail`, as curl).
 */
import { inspect, INSPECT_USAGE } from './commands/inspect.js';
import { keygen, KEYGEN_USAGE } from './commands/keygen.js';
import { request, REQUEST_USAGE } from './commands/request.js';
import { witIssue, WIT_ISSUE_USAGE } from './commands/wit-issue.js';
import { help, UsageError, type CliIo } from './io.js';
import { versionText } from './version.js';

export const USAGE = `wimse — WIMSE workload identity tools

wimse --version | wimse help [<command>] | wimse <command> --help

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
        if (rest[0] === '--help' || rest[0] === '-h') return help(io, WIT_ISSUE_USAGE);
        if (rest[0] !== 'issue') throw new UsageError('did you mean: wimse wit issue …');
        return await witIssue(rest.slice(1), io);
      case 'inspect':
        return await inspect(rest, io);
      case 'request':
        return await request(rest, io);
      case '--version':
      case '-V':
      case 'version':
        io.stdout(versionText());
        return 0;
      case 'help':
        if (rest[0] !== undefined) return help(io, usageOf(rest.join(' ')));
        io.stdout(USAGE);
        return 0;
      case undefined:
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

const COMMAND_USAGE: Readonly<Record<string, string>> = {
  keygen: KEYGEN_USAGE,
  wit: WIT_ISSUE_USAGE,
  'wit issue': WIT_ISSUE_USAGE,
  inspect: INSPECT_USAGE,
  request: REQUEST_USAGE,
};

function usageOf(command: string): string {
  const usage = COMMAND_USAGE[command];
  if (usage === undefined) throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  return usage;
}
