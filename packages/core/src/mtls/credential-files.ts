/**
 * Node only. Watches the credential files a SPIFFE helper (or cert-manager, or a mounted secret)
 * keeps fresh — `svid.pem`, `svid_key.pem`, `bundle.pem`, optionally a WIT and its key — and
 * hands out a consistent snapshot, swapped atomically when every file of a new set is in place.
 *
 * Writers replace files one at a time, so a reload that finds a certificate and key that do not
 * match (or a WIT whose `cnf` is not its key) keeps the previous snapshot and waits for the next
 * change. The directory is watched, not the files, so rename-into-place and symlink swaps
 * (Kubernetes `..data`) are seen too.
 */
import { createPrivateKey, createPublicKey, type JsonWebKey } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import { decodeJwt } from 'jose';
import { createWorkloadSigner, type WorkloadSigner } from '../signer.js';
import { pemCertificates } from './x509.js';

/** File names inside the watched directory. */
export interface CredentialFileNames {
  /** The workload's certificate chain (leaf first). Default `svid.pem`. */
  cert?: string;
  /** Its private key. Default `svid_key.pem`. */
  key?: string;
  /** The trust domain's CA bundle. Default `bundle.pem`. */
  bundle?: string;
  /** A WIT (compact JWT), for application-layer proofs. Not read unless named. */
  wit?: string;
  /** The private key of the WIT's `cnf.jwk`, PEM. Required with `wit`. */
  witKey?: string;
}

/** The layout SPIFFE helpers write. */
export const SPIFFE_HELPER_FILES = Object.freeze({ cert: 'svid.pem', key: 'svid_key.pem', bundle: 'bundle.pem' });

export interface CredentialFilesOptions {
  /** Directory holding the files. */
  dir: string;
  /** File names. Default {@link SPIFFE_HELPER_FILES}. */
  files?: CredentialFileNames;
  /** Quiet time after the last change before reloading, in ms. Default 50. */
  debounceMs?: number;
  /** Called when a reload fails (the previous snapshot stays in use). */
  onError?: (error: Error) => void;
}

/** One consistent set of credentials. */
export interface CredentialSnapshot {
  /** PEM chain: the workload certificate first. */
  readonly cert: string;
  readonly key: string;
  /** PEM CA bundle. */
  readonly bundle: string;
  readonly wit?: string;
  readonly witKey?: string;
  /** Increases with every swap. */
  readonly version: number;
}

/** A watched credential directory. */
export interface CredentialFiles {
  /** The snapshot in use now. */
  readonly current: CredentialSnapshot;
  /** Calls `listener` after every swap; returns an unsubscribe function. */
  onReload(listener: (snapshot: CredentialSnapshot) => void): () => void;
  /** Re-reads the files now; resolves `true` when a new, valid set was swapped in. */
  reload(): Promise<boolean>;
  /** Stops watching. */
  close(): void;
}

/**
 * Loads the files (rejecting when the first set is incomplete or inconsistent) and keeps watching them.
 *
 * @example
 * const files = await watchCredentialFiles({ dir: '/run/spire/svid' })
 * const server = https.createServer({ ...serverTlsOptions(files.current), requestCert: true }, app)
 * keepServerCredentials(server, files)
 */
export async function watchCredentialFiles(options: CredentialFilesOptions): Promise<CredentialFiles> {
  const names = { ...SPIFFE_HELPER_FILES, ...options.files };
  if ((names.wit === undefined) !== (names.witKey === undefined)) throw new TypeError('files.wit and files.witKey go together');
  const debounceMs = options.debounceMs ?? 50;
  const listeners = new Set<(s: CredentialSnapshot) => void>();
  let current = await load(options.dir, names, 1);
  let timer: NodeJS.Timeout | undefined;
  let reloading: Promise<boolean> | undefined;

  async function reload(): Promise<boolean> {
    // One reload at a time; a change during a reload schedules another.
    while (reloading !== undefined) await reloading.catch(() => undefined);
    reloading = (async () => {
      const next = await load(options.dir, names, current.version + 1);
      if (same(next, current)) return false;
      current = next;
      for (const listener of listeners) listener(current);
      return true;
    })();
    try {
      return await reloading;
    } finally {
      reloading = undefined;
    }
  }

  const watcher: FSWatcher = watch(options.dir, { persistent: false }, () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      reload().catch((e: unknown) => options.onError?.(e instanceof Error ? e : new Error(String(e))));
    }, debounceMs);
  });
  watcher.on('error', (e) => options.onError?.(e));

  return {
    get current() {
      return current;
    },
    onReload(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    reload,
    close() {
      clearTimeout(timer);
      watcher.close();
    },
  };
}

/**
 * A signer for the WIT and key in the watched files, rebuilt when they rotate
 * (for `createWimseFetch`-style callers that hold file-based WITs).
 *
 * @example
 * const signer = fileWitSigner(files)
 * const headers = await (await signer()).wptHeaders({ url })
 */
export function fileWitSigner(files: CredentialFiles): () => Promise<WorkloadSigner> {
  let cached: { version: number; signer: Promise<WorkloadSigner> } | undefined;
  return () => {
    const s = files.current;
    if (s.wit === undefined || s.witKey === undefined) return Promise.reject(new TypeError('no WIT files are watched'));
    if (cached?.version !== s.version) {
      const privateKey = createPrivateKey(s.witKey);
      cached = { version: s.version, signer: createWorkloadSigner({ wit: s.wit, privateKey }) };
    }
    return cached.signer;
  };
}

async function load(
  dir: string,
  names: Required<Pick<CredentialFileNames, 'cert' | 'key' | 'bundle'>> & CredentialFileNames,
  version: number,
): Promise<CredentialSnapshot> {
  const read = (name: string) => readFile(join(dir, name), 'utf8');
  const [cert, key, bundle, wit, witKey] = await Promise.all([
    read(names.cert),
    read(names.key),
    read(names.bundle),
    names.wit === undefined ? undefined : read(names.wit),
    names.witKey === undefined ? undefined : read(names.witKey),
  ]);
  if (pemCertificates(cert).length === 0) throw new Error(`${names.cert}: no PEM certificate`);
  if (pemCertificates(bundle).length === 0) throw new Error(`${names.bundle}: no PEM certificate`);
  // Throws when the key is not the certificate's (a half-written rotation) or anything is unreadable.
  createSecureContext({ cert, key, ca: bundle });
  if (wit !== undefined && witKey !== undefined) checkWitKey(wit.trim(), witKey);
  return Object.freeze({
    cert,
    key,
    bundle,
    version,
    ...(wit === undefined ? {} : { wit: wit.trim() }),
    ...(witKey === undefined ? {} : { witKey }),
  });
}

// The WIT's cnf.jwk must be the public half of the key file, or proofs would fail until both rotate.
function checkWitKey(wit: string, witKey: string): void {
  const cnf = (decodeJwt(wit).cnf as { jwk?: JsonWebKey } | undefined)?.jwk;
  const pub = createPublicKey(createPrivateKey(witKey)).export({ format: 'jwk' });
  if (cnf === undefined || ['crv', 'x', 'y', 'n', 'e'].some((m) => cnf[m] !== pub[m]))
    throw new Error('the WIT cnf.jwk is not the public key of the WIT key file');
}

function same(a: CredentialSnapshot, b: CredentialSnapshot): boolean {
  return a.cert === b.cert && a.key === b.key && a.bundle === b.bundle && a.wit === b.wit && a.witKey === b.witKey;
}
