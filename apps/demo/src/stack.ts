/**
 * Starts the demo trust domain as child processes: the identity server and the four framework
 * services, each the built app run exactly as `pnpm --dir apps/<name> start` would, on 127.0.0.1.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const SERVICES = ['express', 'fastify', 'hono', 'nestjs'] as const;
export type ServiceName = (typeof SERVICES)[number];

export interface Ports {
  identity: number;
  express: number;
  fastify: number;
  hono: number;
  nestjs: number;
}

/** The ports of the demo contract (DESIGN.md). */
export const DEFAULT_PORTS: Ports = { identity: 3000, express: 3001, fastify: 3002, hono: 3003, nestjs: 3004 };

export interface Stack {
  readonly identityUrl: string;
  readonly urls: Readonly<Record<ServiceName, string>>;
  /** Bearer token of the identity server's admin endpoints. */
  readonly adminToken: string;
  readonly trustDomain: string;
  /** Stops every process it started. */
  stop(): Promise<void>;
}

export interface StackOptions {
  ports?: Ports;
  /** Extra environment for the four services (e.g. cache settings). */
  serviceEnv?: Record<string, string>;
  /** Receives each line the processes print. */
  log?: (line: string) => void;
}

const APPS = fileURLToPath(new URL('../../', import.meta.url));
// Every process started and not yet exited, so an interrupted start can still clean up.
const running = new Set<ChildProcess>();

/** Stops every process this module started that is still running (e.g. on Ctrl-C mid-start). */
export function stopAllStarted(): Promise<void> {
  return Promise.all([...running].map(terminate)).then(() => undefined);
}

/** Picks free loopback ports (for tests that run beside a live demo). */
export async function freePorts(): Promise<Ports> {
  const one = () =>
    new Promise<number>((resolve, reject) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as { port: number };
        s.close(() => resolve(port));
      });
      s.on('error', reject);
    });
  return { identity: await one(), express: await one(), fastify: await one(), hono: await one(), nestjs: await one() };
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const ports = options.ports ?? DEFAULT_PORTS;
  const log = options.log ?? (() => {});
  const trustDomain = 'example.org';
  const adminToken = randomBytes(16).toString('base64url');
  const identityUrl = `http://127.0.0.1:${ports.identity}`;
  const urls = Object.fromEntries(SERVICES.map((s) => [s, `http://127.0.0.1:${ports[s]}`])) as Record<ServiceName, string>;
  const children: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(children.map(terminate));
  };
  await assertFree(ports);
  try {
    children.push(start('identity-server', { PORT: String(ports.identity), WIMSE_TRUST_DOMAIN: trustDomain, IDENTITY_ADMIN_TOKEN: adminToken }, log));
    await healthy(identityUrl, children[0]!);
    for (const s of SERVICES) {
      const env = {
        PORT: String(ports[s]),
        WIMSE_TRUST_DOMAIN: trustDomain,
        WIMSE_IDENTITY_URL: identityUrl,
        WIMSE_RELAY_TARGETS: Object.values(urls).join(','),
        ...options.serviceEnv,
      };
      children.push(start(`${s}-demo`, env, log));
    }
    await Promise.all(SERVICES.map((s, i) => healthy(urls[s], children[i + 1]!)));
  } catch (e) {
    await stop();
    throw e;
  }
  return { identityUrl, urls, adminToken, trustDomain, stop };
}

// A port already taken (say, by a demo left running with --serve) would answer our health checks.
async function assertFree(ports: Ports): Promise<void> {
  for (const [name, port] of Object.entries(ports)) {
    const free = await new Promise<boolean>((resolve) => {
      const s = createServer()
        .once('error', () => resolve(false))
        .listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (!free) throw new Error(`port ${port} (${name}) is in use on 127.0.0.1: is a demo already running (pnpm demo --serve)?`);
  }
}

function start(app: string, env: Record<string, string>, log: (line: string) => void): ChildProcess {
  const main = `${APPS}${app}/dist/main.js`;
  if (!existsSync(main)) throw new Error(`${main} is missing: build the workspace first (pnpm build)`);
  const child = spawn(process.execPath, [main], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  child.once('exit', () => running.delete(child));
  const output: string[] = [];
  for (const stream of [child.stdout!, child.stderr!]) {
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      for (const line of chunk.split('\n').filter(Boolean)) {
        output.push(line);
        log(line);
      }
    });
  }
  Object.assign(child, { output, app });
  return child;
}

// Polls /health until it answers 200, failing fast if the process exits.
async function healthy(base: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      const { app, output } = child as ChildProcess & { app: string; output: string[] };
      throw new Error(`${app} exited with code ${child.exitCode}:\n${output.join('\n')}`);
    }
    const ok = await fetch(`${base}/health`).then((r) => r.ok, () => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${base}/health did not answer within 30 s`);
}

function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
