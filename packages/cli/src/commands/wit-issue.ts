/** `wimse wit issue`: a WIT signed with a local issuer key (for tests and local trust domains). */
import { isSupportedAlgorithm, issueWit, parseWorkloadIdentifier } from '@wimse/core';
import { parseArgs } from 'node:util';
import { parsed } from '../args.js';
import { HELP_OPTION, help, publicJwk, readJwk, UsageError, type CliIo } from '../io.js';

export const WIT_ISSUE_USAGE = `wimse wit issue --issuer-key <issuer.jwk> --sub <workload id> --key <workload.jwk>
                [--lifetime 3600] [--iss <issuer>]
  Prints a WIT for <workload id> whose cnf.jwk is the public half of <workload.jwk>
  (a private or public JWK with alg), signed by <issuer.jwk> (its kid goes in the header).`;

export async function witIssue(argv: string[], io: CliIo): Promise<number> {
  const { values } = parsed(
    () =>
      parseArgs({
        args: argv,
        options: {
          ...HELP_OPTION,
          'issuer-key': { type: 'string' },
          sub: { type: 'string' },
          key: { type: 'string' },
          lifetime: { type: 'string' },
          iss: { type: 'string' },
        },
        allowPositionals: true,
        strict: true,
      }),
    0,
  );
  if (values.help) return help(io, WIT_ISSUE_USAGE);
  const issuerPath = values['issuer-key'];
  if (issuerPath === undefined || values.sub === undefined || values.key === undefined)
    throw new UsageError('--issuer-key, --sub and --key are required');
  try {
    parseWorkloadIdentifier(values.sub);
  } catch (e) {
    throw new UsageError(`--sub: ${(e as Error).message}`);
  }
  const issuer = await readJwk(io, issuerPath);
  if (!isSupportedAlgorithm(issuer.alg)) throw new UsageError(`${issuerPath} needs an "alg" naming an asymmetric algorithm`);
  if (issuer.d === undefined) throw new UsageError(`${issuerPath} is a public key; the issuer key must be private`);
  const cnf = publicJwk(await readJwk(io, values.key));
  if (!isSupportedAlgorithm(cnf.alg)) throw new UsageError(`${values.key} needs an "alg" naming an asymmetric algorithm`);
  const { kid: _kid, ...cnfJwk } = cnf;
  const lifetime = values.lifetime === undefined ? 3600 : Number(values.lifetime);
  if (!Number.isInteger(lifetime) || lifetime <= 0) throw new UsageError('--lifetime must be a positive number of seconds');
  let wit: string;
  try {
    wit = await issueWit({
      sub: values.sub,
      cnfJwk: { ...cnfJwk, alg: cnf.alg },
      issuerKey: issuer,
      alg: issuer.alg,
      ...(issuer.kid === undefined ? {} : { kid: issuer.kid }),
      ...(values.iss === undefined ? {} : { iss: values.iss }),
      lifetime,
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  io.stdout(`${wit}\n`);
  return 0;
}
