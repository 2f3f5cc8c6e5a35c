/**
 * The trust domain's issuer keys. One key signs new WITs; older keys stay published in the JWKS
 * until they are retired, so verifiers keep accepting WITs issued before a rotation
 * (workload-creds-02 §3: verifiers select the issuer key by `kid`).
 *
 * Three modes:
 * - `memory` (no `dataDir`, no `keyFile`): keys live in this process only; a restart is a new trust
 *   anchor and every WIT issued before it stops verifying.
 * - `persistent` (`dataDir`): keys and rotation state live in a directory (see {@link KeyRingOptions.dataDir}),
 *   so a restart (or a second instance on the same directory) signs with and publishes the same keys.
 * - `static` (`keyFile`): an operator-supplied key (or JWK Set); rotation is the operator's job.
 *
 * @example
 * const keys = await createKeyRing({ dataDir: '/var/lib/wimse-identity' });
 * const { kid, privateKey, alg } = keys.current();
 */
import { createPrivateKey, createPublicKey, KeyObject, randomBytes, type JsonWebKey } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { calculateJwkThumbprint, generateKeyPair, type JSONWebKeySet, type JWK } from 'jose';
import { isSupportedAlgorithm, keyMismatch, type WimseAlgorithm } from '@wimse/core';

/** Where the keys come from; see the module comment. */
export type KeyRingMode = 'memory' | 'persistent' | 'static';

export interface KeyRingOptions {
  /** Algorithm of keys this ring creates. Default `ES256` (mandatory to implement, creds-02 §5.1). */
  alg?: WimseAlgorithm;
  /**
   * Directory holding the keys (`keys/<kid>.jwk`, mode 0600) and the rotation state
   * (`keyring.json`); created with mode 0700 when missing. Files are written atomically
   * (temporary file, fsync, rename), so a crash never leaves a half-written key or state.
   */
  dataDir?: string | undefined;
  /**
   * An operator-supplied key file instead: a PKCS#8 PEM private key, a private JWK, or a JWK Set
   * whose first key (which must be private) signs and whose other keys are only published.
   */
  keyFile?: string | undefined;
}

/** Why a key ring refused to start or to change; the message says what to do. */
export class KeyRingError extends Error {
  constructor(
    readonly code: 'key_file_mode' | 'data_dir_mode' | 'state_corrupt' | 'key_file_invalid' | 'static_keys',
    message: string,
  ) {
    super(message);
    this.name = 'KeyRingError';
  }
}

export interface KeyRing {
  /** Where the keys live. */
  readonly mode: KeyRingMode;
  /** The key that signs new WITs. */
  current(): { kid: string; privateKey: KeyObject; alg: WimseAlgorithm };
  /** The published JWKS: every key not yet retired, the current (signing) one first. */
  jwks(): JSONWebKeySet;
  /**
   * Creates a new key and publishes it. With `activate` (the default) it signs new WITs from now
   * on; without, it is only published, so verifiers can fetch it before the first WIT uses it.
   * A `static` ring throws {@link KeyRingError} `static_keys`.
   */
  rotate(activate?: boolean): Promise<string>;
  /** Makes a published key the one that signs new WITs. */
  activate(kid: string): Promise<'activated' | 'unknown'>;
  /** Removes a key from the JWKS (and, when persistent, deletes its private key). The current key cannot be retired (rotate first). */
  retire(kid: string): Promise<'retired' | 'unknown' | 'current'>;
  /** Re-reads the state another process on the same `dataDir` may have changed (no-op otherwise). */
  reload(): Promise<void>;
}

interface RingKey {
  readonly kid: string;
  readonly alg: WimseAlgorithm;
  /** Absent for a published-only key of a static JWK Set. */
  readonly privateKey: KeyObject | undefined;
  readonly publicJwk: JWK;
}

/** The persisted rotation state: `keys[0]` signs, the rest are published; retired kids are kept for the record. */
interface State {
  version: 1;
  keys: { kid: string; alg: WimseAlgorithm }[];
  retired: { kid: string; retiredAt: string }[];
}

const STATE_FILE = 'keyring.json';
const KEYS_DIR = 'keys';
// A kid is an RFC 7638 SHA-256 thumbprint: 43 base64url characters, so it is a safe file name.
const KID_RE = /^[A-Za-z0-9_-]{43}$/;
const CHECK_MODES = process.platform !== 'win32';

/** Creates the key ring; see {@link KeyRingOptions} for where keys live. */
export async function createKeyRing(options: KeyRingOptions | WimseAlgorithm = {}): Promise<KeyRing> {
  const o = typeof options === 'string' ? { alg: options } : options;
  const alg = o.alg ?? 'ES256';
  if (o.keyFile !== undefined && o.dataDir !== undefined)
    throw new KeyRingError('key_file_invalid', 'Configure either a key file or a data directory, not both');
  if (o.keyFile !== undefined) return staticRing(await loadKeyFile(o.keyFile));
  if (o.dataDir !== undefined) return persistentRing(o.dataDir, alg);
  return memoryRing([await newKey(alg)], alg);
}

function publicSet(keys: readonly RingKey[]): JSONWebKeySet {
  return { keys: keys.map((k) => ({ ...k.publicJwk })) };
}

function signing(keys: readonly RingKey[]) {
  const k = keys[0]!;
  return { kid: k.kid, privateKey: k.privateKey!, alg: k.alg };
}

function memoryRing(keys: RingKey[], alg: WimseAlgorithm): KeyRing {
  return {
    mode: 'memory',
    current: () => signing(keys),
    jwks: () => publicSet(keys),
    async rotate(activate = true) {
      const k = await newKey(alg);
      if (activate) keys.unshift(k);
      else keys.push(k);
      return k.kid;
    },
    async activate(kid) {
      const i = keys.findIndex((k) => k.kid === kid);
      if (i === -1) return 'unknown';
      keys.unshift(...keys.splice(i, 1));
      return 'activated';
    },
    async retire(kid) {
      const i = keys.findIndex((k) => k.kid === kid);
      if (i === -1) return 'unknown';
      if (i === 0) return 'current';
      keys.splice(i, 1);
      return 'retired';
    },
    async reload() {},
  };
}

function staticRing(keys: RingKey[]): KeyRing {
  const refuse = () => {
    throw new KeyRingError(
      'static_keys',
      'The issuer keys come from an operator-supplied key file; rotate by replacing that file and restarting',
    );
  };
  return {
    mode: 'static',
    current: () => signing(keys),
    jwks: () => publicSet(keys),
    rotate: async () => refuse(),
    activate: async () => refuse(),
    retire: async () => refuse(),
    async reload() {},
  };
}

async function persistentRing(dataDir: string, alg: WimseAlgorithm): Promise<KeyRing> {
  const keysDir = join(dataDir, KEYS_DIR);
  await ensureDir(dataDir);
  await ensureDir(keysDir);
  let state: State;
  let keys: RingKey[];

  async function load(): Promise<void> {
    const raw = await readFile(join(dataDir, STATE_FILE), 'utf8').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    });
    if (raw === undefined) {
      // No state: a fresh directory gets its first key. Keys without state mean the state was lost:
      // starting afresh would silently replace the trust anchor, so refuse.
      const existing = (await readdir(keysDir)).filter((f) => f.endsWith('.jwk'));
      if (existing.length > 0)
        throw new KeyRingError(
          'state_corrupt',
          `${join(dataDir, STATE_FILE)} is missing but ${keysDir} holds keys; restore the state file or move the keys away`,
        );
      const k = await newKey(alg);
      await writeKey(keysDir, k);
      state = { version: 1, keys: [{ kid: k.kid, alg: k.alg }], retired: [] };
      await writeAtomic(join(dataDir, STATE_FILE), JSON.stringify(state, null, 2));
      keys = [k];
      return;
    }
    const next = parseState(raw, join(dataDir, STATE_FILE));
    keys = await Promise.all(next.keys.map((entry) => readKey(join(keysDir, `${entry.kid}.jwk`), entry)));
    state = next;
  }

  async function save(next: State): Promise<void> {
    await writeAtomic(join(dataDir, STATE_FILE), JSON.stringify(next, null, 2));
    state = next;
  }

  await load();
  return {
    mode: 'persistent',
    current: () => signing(keys),
    jwks: () => publicSet(keys),
    async rotate(activate = true) {
      // Read first, so a change another instance made is kept rather than overwritten.
      await load();
      const k = await newKey(alg);
      await writeKey(keysDir, k); // the key before the state that names it: a crash leaves only an unused file
      const entry = { kid: k.kid, alg: k.alg };
      await save({ ...state, keys: activate ? [entry, ...state.keys] : [...state.keys, entry] });
      keys = activate ? [k, ...keys] : [...keys, k];
      return k.kid;
    },
    async activate(kid) {
      await load();
      const i = keys.findIndex((k) => k.kid === kid);
      if (i === -1) return 'unknown';
      const order = [keys[i]!, ...keys.filter((_, j) => j !== i)];
      await save({ ...state, keys: order.map((k) => ({ kid: k.kid, alg: k.alg })) });
      keys = order;
      return 'activated';
    },
    async retire(kid) {
      await load();
      const i = keys.findIndex((k) => k.kid === kid);
      if (i === -1) return 'unknown';
      if (i === 0) return 'current';
      const rest = keys.filter((_, j) => j !== i);
      await save({
        ...state,
        keys: rest.map((k) => ({ kid: k.kid, alg: k.alg })),
        retired: [...state.retired, { kid, retiredAt: new Date().toISOString() }],
      });
      keys = rest;
      // The state no longer names it; a retired private key has no further use, so it goes.
      await unlink(join(keysDir, `${kid}.jwk`)).catch(() => {});
      return 'retired';
    },
    reload: load,
  };
}

function parseState(raw: string, path: string): State {
  const bad = (why: string) => new KeyRingError('state_corrupt', `${path} is corrupt (${why}); restore it from a backup`);
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw bad('not JSON');
  }
  const s = value as Partial<State> | null;
  if (typeof s !== 'object' || s === null || s.version !== 1) throw bad('expected {"version": 1, ...}');
  if (!Array.isArray(s.keys) || s.keys.length === 0) throw bad('no keys');
  if (!Array.isArray(s.retired)) throw bad('no retired list');
  const seen = new Set<string>();
  for (const k of s.keys as unknown[]) {
    const { kid, alg } = (k ?? {}) as { kid?: unknown; alg?: unknown };
    if (typeof kid !== 'string' || !KID_RE.test(kid)) throw bad('a kid is not a key thumbprint');
    if (!isSupportedAlgorithm(alg)) throw bad(`key ${kid} has no supported alg`);
    if (seen.has(kid)) throw bad(`key ${kid} is listed twice`);
    seen.add(kid);
  }
  return { version: 1, keys: s.keys, retired: s.retired };
}

async function readKey(path: string, expected: { kid: string; alg: WimseAlgorithm }): Promise<RingKey> {
  const text = await readPrivateFile(path).catch((e: unknown) => {
    if (e instanceof KeyRingError) throw e;
    throw new KeyRingError('state_corrupt', `The state names key ${expected.kid} but ${path} cannot be read (${(e as Error).message})`);
  });
  let jwk: JWK;
  try {
    jwk = JSON.parse(text) as JWK;
  } catch {
    throw new KeyRingError('state_corrupt', `${path} is not a JSON Web Key`);
  }
  const k = await fromPrivateJwk(jwk, path, expected.alg);
  if (k.kid !== expected.kid) throw new KeyRingError('state_corrupt', `${path} holds a different key than its name says`);
  return k;
}

/** Reads a file that holds private key material, refusing one that others may read. */
async function readPrivateFile(path: string): Promise<string> {
  const fh = await open(path, 'r');
  try {
    const { mode } = await fh.stat();
    if (CHECK_MODES && (mode & 0o077) !== 0) {
      throw new KeyRingError(
        'key_file_mode',
        `${path} is readable by other users (mode ${(mode & 0o777).toString(8)}); run chmod 600 on it, and replace the key if others may have read it`,
      );
    }
    return await fh.readFile('utf8');
  } finally {
    await fh.close();
  }
}

async function ensureDir(path: string): Promise<void> {
  await mkdir(path, { recursive: true, mode: 0o700 });
  const { mode } = await stat(path);
  // Others who can write here could swap the keys or the state.
  if (CHECK_MODES && (mode & 0o022) !== 0)
    throw new KeyRingError('data_dir_mode', `${path} is writable by other users (mode ${(mode & 0o777).toString(8)}); run chmod 700 on it`);
}

async function writeKey(keysDir: string, k: RingKey): Promise<void> {
  const jwk = { ...(k.privateKey!.export({ format: 'jwk' }) as JWK), kid: k.kid, alg: k.alg };
  await writeAtomic(join(keysDir, `${k.kid}.jwk`), JSON.stringify(jwk));
}

/** Write to a temporary file (mode 0600), fsync, rename over the target, fsync the directory. */
async function writeAtomic(path: string, data: string): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } catch {
    // Some file systems cannot fsync a directory; the rename is still atomic.
  } finally {
    await dir.close();
  }
}

async function loadKeyFile(path: string): Promise<RingKey[]> {
  const text = await readPrivateFile(path).catch((e: unknown) => {
    if (e instanceof KeyRingError) throw e;
    throw new KeyRingError('key_file_invalid', `Cannot read the key file ${path} (${(e as Error).message})`);
  });
  if (text.trimStart().startsWith('-----BEGIN')) {
    let key: KeyObject;
    try {
      key = createPrivateKey(text);
    } catch {
      throw new KeyRingError('key_file_invalid', `${path} is not a PEM private key`);
    }
    return [await fromPrivateJwk(key.export({ format: 'jwk' }) as JWK, path)];
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new KeyRingError('key_file_invalid', `${path} is neither PEM nor JSON`);
  }
  const list = (value as { keys?: unknown }).keys;
  const jwks = Array.isArray(list) ? (list as JWK[]) : [value as JWK];
  if (jwks.length === 0) throw new KeyRingError('key_file_invalid', `${path} holds no key`);
  const keys: RingKey[] = [];
  for (const [i, jwk] of jwks.entries()) {
    if (typeof jwk !== 'object' || jwk === null) throw new KeyRingError('key_file_invalid', `${path}: key ${i} is not a JWK`);
    if (i === 0 || jwk.d !== undefined) keys.push(await fromPrivateJwk(jwk, `${path} key ${i}`));
    else keys.push(await fromPublicJwk(jwk, `${path} key ${i}`));
  }
  return keys;
}

async function fromPrivateJwk(jwk: JWK, where: string, expectedAlg?: WimseAlgorithm): Promise<RingKey> {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' });
  } catch {
    throw new KeyRingError(expectedAlg === undefined ? 'key_file_invalid' : 'state_corrupt', `${where} is not a private key`);
  }
  const k = await fromPublicJwk(
    { ...(createPublicKey(privateKey).export({ format: 'jwk' }) as JWK), ...(jwk.alg === undefined ? {} : { alg: jwk.alg }) },
    where,
    expectedAlg,
  );
  return { ...k, privateKey };
}

async function fromPublicJwk(jwk: JWK, where: string, expectedAlg?: WimseAlgorithm): Promise<RingKey> {
  const code = expectedAlg === undefined ? 'key_file_invalid' : 'state_corrupt';
  let exported: JWK;
  try {
    exported = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }).export({ format: 'jwk' }) as JWK;
  } catch {
    throw new KeyRingError(code, `${where} is not a public key`);
  }
  const alg = expectedAlg ?? (jwk.alg === undefined ? defaultAlg(exported) : jwk.alg);
  if (!isSupportedAlgorithm(alg))
    throw new KeyRingError(code, `${where}: alg must be an asymmetric JWS algorithm, e.g. ES256 (got ${String(alg)})`);
  if (jwk.alg !== undefined && jwk.alg !== alg) throw new KeyRingError(code, `${where}: alg ${jwk.alg} differs from the recorded ${alg}`);
  const mismatch = keyMismatch(exported, alg);
  if (mismatch !== undefined) throw new KeyRingError(code, `${where}: ${mismatch}`);
  const kid = await calculateJwkThumbprint(exported);
  return { kid, alg, privateKey: undefined, publicJwk: { ...exported, kid, alg, use: 'sig' } };
}

function defaultAlg(jwk: JWK): string | undefined {
  if (jwk.kty === 'EC') return { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' }[jwk.crv ?? ''];
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return 'EdDSA';
  if (jwk.kty === 'RSA') return 'RS256';
  return undefined;
}

// kid = RFC 7638 thumbprint: stable, unique per key, and reveals nothing.
async function newKey(alg: WimseAlgorithm): Promise<RingKey> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  const key = KeyObject.from(privateKey);
  const k = await fromPublicJwk(createPublicKey(key).export({ format: 'jwk' }) as JWK, 'new key', alg);
  return { ...k, privateKey: key };
}
