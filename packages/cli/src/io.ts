/** Everything the CLI touches outside itself, so tests can run commands in-process. */
import { readFile, writeFile } from 'node:fs/promises';
import { createPublicKey, type JsonWebKey } from 'node:crypto';
import type { JWK } from 'jose';

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  readFile(path: string): Promise<string>;
  /** Writes a file; `secret` files are created readable by the owner only. */
  writeFile(path: string, data: string, secret?: boolean): Promise<void>;
  readStdin(): Promise<string>;
  fetch: typeof globalThis.fetch;
}

export function nodeIo(): CliIo {
  return {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    readFile: (p) => readFile(p, 'utf8'),
    writeFile: (p, d, secret) => writeFile(p, d, { mode: secret ? 0o600 : 0o644 }),
    async readStdin() {
      let s = '';
      for await (const chunk of process.stdin) s += String(chunk);
      return s;
    },
    fetch: globalThis.fetch,
  };
}

/** A usage mistake: printed with a hint, exit code 2. */
export class UsageError extends Error {}

/**
 * An error and its causes on one line: fetch only says "fetch failed", the reason (refused, DNS,
 * TLS, timeout) is in `cause`, and each attempt of a multi-address connect in `errors`.
 */
export function describeError(e: unknown): string {
  const parts: string[] = [];
  const seen = new Set<unknown>();
  for (let c: unknown = e; c !== undefined && c !== null && !seen.has(c) && parts.length < 8; c = (c as { cause?: unknown }).cause) {
    seen.add(c);
    if (!(c instanceof Error)) {
      parts.push(String(c));
      break;
    }
    const code = (c as { code?: unknown }).code;
    const inner = c instanceof AggregateError ? c.errors.map((x) => describeError(x)).join('; ') : '';
    const text = [c.message, inner].filter((t) => t !== '' && !parts.includes(t)).join(': ') || c.name;
    parts.push(typeof code === 'string' && !text.includes(code) ? `${text} (${code})` : text);
  }
  return parts.join(': ');
}

/** Prints a command's usage for `--help` / `-h`: exit code 0. */
export function help(io: CliIo, usage: string): number {
  io.stdout(`${usage}\n`);
  return 0;
}

/** The `--help` / `-h` option every command takes. */
export const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const;

/** Reads a JSON file, naming the file when it is not JSON. */
export async function readJson(io: CliIo, path: string): Promise<unknown> {
  let text: string;
  try {
    text = await io.readFile(path);
  } catch {
    throw new UsageError(`cannot read ${path}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError(`${path} is not JSON`);
  }
}

/** Reads a JWK file. */
export async function readJwk(io: CliIo, path: string): Promise<JWK> {
  const jwk = await readJson(io, path);
  if (typeof jwk !== 'object' || jwk === null || typeof (jwk as JWK).kty !== 'string') throw new UsageError(`${path} is not a JWK`);
  return jwk as JWK;
}

/** The public half of a JWK (public or private), keeping `alg` and `kid`. */
export function publicJwk(jwk: JWK): JWK {
  let exported: JWK;
  try {
    exported = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }).export({ format: 'jwk' }) as JWK;
  } catch {
    throw new UsageError('the JWK is not a usable asymmetric key');
  }
  return { ...exported, ...(jwk.kid === undefined ? {} : { kid: jwk.kid }), ...(jwk.alg === undefined ? {} : { alg: jwk.alg }) };
}

/** A token given inline, as a file path, or `-` for stdin. */
export async function readToken(io: CliIo, value: string): Promise<string> {
  if (value === '-') return (await io.readStdin()).trim();
  if (/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/.test(value.trim())) return value.trim();
  try {
    return (await io.readFile(value)).trim();
  } catch {
    throw new UsageError(`${value} is neither a token nor a readable file`);
  }
}

export const json = (v: unknown): string => `${JSON.stringify(v, null, 2)}\n`;
