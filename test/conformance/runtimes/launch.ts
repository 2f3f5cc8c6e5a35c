/**
 * Runs a fetch handler module (`export default { fetch }`, e.g. worker.ts) on Bun, Deno and
 * Cloudflare workerd: bundled with esbuild from the workspace sources, served by each runtime's own
 * server on a free 127.0.0.1 port, with the binaries the runtimes' npm packages ship (no download at
 * install or run time). Also used by `pnpm bench` (test/bench/runtimes.bench.mjs, which bundles this file).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { arch, platform, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { build } from 'esbuild';
import type { JWK } from 'jose';
import type { Running } from '../targets/contract.js';

const require = createRequire(import.meta.url);
// The workspace's packages/ folder, found from the test package's dependency (so this file can be bundled elsewhere).
const PACKAGES = dirname(dirname(require.resolve('@wimse/core/package.json')));
const HERE = join(PACKAGES, '..', 'test', 'conformance', 'runtimes');

export interface WebRuntime {
  name: string;
  /**
   * Serves `app` (the absolute path of a module whose default export has a `fetch` handler) with
   * `define`d globals; rejects with the reason when the runtime cannot run here.
   */
  start(app: string, define?: Record<string, unknown>): Promise<Running>;
}

/**
 * Bundles `entry` into one ES module, workspace packages from source; `import app from 'wimse-app'`
 * in `entry` is the module `app`.
 */
export async function bundle(entry: string, define: Record<string, unknown> = {}, app?: string): Promise<string> {
  const src = (pkg: string) => join(PACKAGES, pkg, 'src', 'index.ts');
  const out = await build({
    entryPoints: [entry],
    plugins: [{ name: 'wimse-app', setup: (b) => b.onResolve({ filter: /^wimse-app$/ }, () => ({ path: app ?? entry })) }],
    bundle: true,
    write: false,
    format: 'esm',
    // Neutral: a `node:` import anywhere on the path fails the build (nothing is marked external).
    platform: 'neutral',
    mainFields: ['module', 'main'],
    conditions: ['workerd', 'worker', 'browser'],
    target: 'es2022',
    logLevel: 'silent',
    alias: { '@wimse/core/adapter': join(PACKAGES, 'core/src/adapter-entry.ts'), '@wimse/core': src('core'), '@wimse/hono': src('hono') },
    define: Object.fromEntries(Object.entries(define).map(([k, v]) => [k, JSON.stringify(v)])),
  });
  return out.outputFiles[0]!.text;
}

/** The conformance app (worker.ts) on `runtime`, trusting the issuer key `issuerJwk`. */
export function startApp(runtime: WebRuntime, issuerJwk: JWK): Promise<Running> {
  return runtime.start(join(HERE, 'worker.ts'), { WIMSE_ISSUER_JWK: issuerJwk });
}

/** The binary inside an npm platform package that `owner` (the runtime's npm package) depends on. */
function platformBinary(owner: string, pkg: string, file: string): string {
  const from = createRequire(require.resolve(`${owner}/package.json`));
  return join(dirname(from.resolve(`${pkg}/package.json`)), file);
}

const isMusl = () =>
  platform() === 'linux' &&
  (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime === undefined;
const cpu = () => (arch() === 'arm64' ? 'aarch64' : arch());

export const bun: WebRuntime = {
  name: 'bun',
  start: (app, define = {}) =>
    withBundle(join(HERE, 'bun.ts'), app, define, 'app.js', (dir) => {
      const bin = platformBinary('bun', `@oven/bun-${platform()}-${cpu()}${isMusl() ? '-musl' : ''}`, 'bin/bun');
      return serve(
        spawn(bin, ['run', join(dir, 'app.js')], {
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, BUN_RUNTIME_TRANSPILER_CACHE_PATH: '0' },
        }),
        stdoutPort,
      );
    }),
};

export const deno: WebRuntime = {
  name: 'deno',
  start: (app, define = {}) =>
    withBundle(join(HERE, 'deno.ts'), app, define, 'app.js', (dir) => {
      const target = platform() === 'linux' ? `linux-${arch()}-${isMusl() ? 'musl' : 'glibc'}` : `${platform()}-${arch()}`;
      const bin = platformBinary('deno', `@deno/${target}`, 'deno');
      const args = ['run', '--no-config', '--no-lock', '--no-prompt', '--allow-net=127.0.0.1', join(dir, 'app.js')];
      return serve(
        spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DENO_DIR: join(dir, 'deno-dir'), NO_COLOR: '1' } }),
        stdoutPort,
      );
    }),
};

/** workerd with the given compatibility flags (e.g. `nodejs_compat`). */
export function workerd(flags: string[] = []): WebRuntime {
  return {
    name: flags.length === 0 ? 'workerd' : `workerd (${flags.join(', ')})`,
    start: (app, define = {}) =>
      withBundle(app, app, define, 'worker.js', async (dir) => {
        const { default: bin, compatibilityDate } = require('workerd') as { default: string; compatibilityDate: string };
        const config = `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = (
    modules = [(name = "worker.js", esModule = embed "worker.js")],
    compatibilityDate = ${JSON.stringify(compatibilityDate)},
    compatibilityFlags = ${JSON.stringify(flags)},
  ))],
  sockets = [(name = "http", address = "127.0.0.1:0", http = (), service = "main")],
);
`;
        await writeFile(join(dir, 'config.capnp'), config);
        // --control-fd: workerd reports the port it bound as a JSON line on fd 3.
        const child = spawn(bin, ['serve', join(dir, 'config.capnp'), '--control-fd=3'], { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
        return serve(child, controlFdPort);
      }),
  };
}

async function withBundle(
  entry: string,
  app: string,
  define: Record<string, unknown>,
  file: string,
  run: (dir: string) => Promise<Running>,
): Promise<Running> {
  const dir = await mkdtemp(join(tmpdir(), 'wimse-runtime-'));
  try {
    await writeFile(join(dir, file), await bundle(entry, define, app));
    const running = await run(dir);
    return { url: running.url, close: () => running.close().finally(() => rm(dir, { recursive: true, force: true })) };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

const stdoutPort = (child: ChildProcess) => linePort(child.stdout!, /^listening (\d+)$/);
const controlFdPort = (child: ChildProcess) => linePort(child.stdio[3] as Readable, /^\{.*"event":"listen".*"port":(\d+)/);

function linePort(stream: Readable, pattern: RegExp): Promise<number> {
  return new Promise((resolve) => {
    let buffered = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buffered += chunk;
      const match = buffered
        .split('\n')
        .map((l) => pattern.exec(l.trim()))
        .find((m) => m !== null);
      if (match) resolve(Number(match[1]));
    });
  });
}

const START_TIMEOUT_MS = 30_000;

/** Waits for `child` to report its port; rejects with its stderr when it exits or stays silent. */
function serve(child: ChildProcess, port: (child: ChildProcess) => Promise<number>): Promise<Running> {
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (c: string) => {
    if (stderr.length < 20_000) stderr += c;
  });
  // 'close' (not 'exit'): also after a failed spawn, and only once stdio is drained.
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  return new Promise((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      void close().then(() => reject(new Error(`${why}\n${stderr}`)));
    };
    const timer = setTimeout(() => fail(`no port reported within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
    child.once('error', (e) => fail(`could not start: ${e.message}`));
    const early = (code: number | null, signal: string | null) => fail(`exited (${code ?? signal}) before listening`);
    child.once('exit', early);
    void port(child).then((p) => {
      clearTimeout(timer);
      child.off('exit', early);
      resolve({ url: new URL(`http://127.0.0.1:${p}`), close });
    });
  });
}
