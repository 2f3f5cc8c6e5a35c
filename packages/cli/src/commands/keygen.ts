/** `wimse keygen`: a key pair as JWKs, for an issuer or a workload. */
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { isSupportedAlgorithm } from '@wimse/core';
import { HELP_OPTION, help, json, UsageError, type CliIo } from '../io.js';
import { parseArgs } from 'node:util';
import { parsed } from '../args.js';

export const KEYGEN_USAGE = `wimse keygen [--alg ES256] [--kid <kid>] [--out <file.jwk>]
  Prints a private JWK (with alg and kid) to stdout, or with --out writes it to <file.jwk>
  (mode 600) and the public key as a JWKS to <file>.jwks.json.`;

export async function keygen(argv: string[], io: CliIo): Promise<number> {
  const { values } = parsed(
    () =>
      parseArgs({
        args: argv,
        options: { ...HELP_OPTION, alg: { type: 'string' }, kid: { type: 'string' }, out: { type: 'string' } },
        allowPositionals: true,
        strict: true,
      }),
    0,
  );
  if (values.help) return help(io, KEYGEN_USAGE);
  const alg = values.alg ?? 'ES256';
  if (!isSupportedAlgorithm(alg))
    throw new UsageError(`--alg ${alg} is not a supported asymmetric JWS algorithm (e.g. ES256, EdDSA, PS256)`);
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const pub = await exportJWK(publicKey);
  const kid = values.kid ?? (await calculateJwkThumbprint(pub));
  const priv = { ...(await exportJWK(privateKey)), alg, kid };
  if (values.out === undefined) {
    io.stdout(json(priv));
    return 0;
  }
  const jwksPath = `${values.out.replace(/\.jwk$/, '')}.jwks.json`;
  await io.writeFile(values.out, json(priv), true);
  await io.writeFile(jwksPath, json({ keys: [{ ...pub, alg, kid, use: 'sig' }] }));
  io.stdout(`private key: ${values.out}\npublic JWKS: ${jwksPath}\nkid: ${kid}\n`);
  return 0;
}
