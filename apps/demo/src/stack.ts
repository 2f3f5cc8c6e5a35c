/**
 * Starts the demo trust domain as child processes: the identity server, the Txn-Token service and
 * the four framework services, each the built app run exactly as `pnpm --dir apps/<name> start`
 * would, on 127.0.0.1; and, in this process, the STAND-IN user authorization server whose access
 * tokens enter at the edge.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { get } from 'node:https';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SPIFFE_HELPER_FILES } from '@wimse/core/node';
import { createCa, credentialsRoot, issueCertificate, writeSpiffeFiles, type DemoCa, type DemoCertificate } from './pki.js';
import { ORDERS_API, startStandInUserIssuer, type StandInUserIssuer } from './stand-in-user-issuer.js';

export const SERVICES = ['express', 'fastify', 'hono', 'nestjs'] as const;
export type ServiceName = (typeof SERVICES)[number];

export interface Ports {
  identity: number;
  express: number;
  fastify: number;
  hono: number;
  nestjs: number;
  /** The Txn-Token service. */
  tts: number;
  /** The stand-in user authorization server. */
  users: number;
}

/** The ports of the demo contract (DESIGN.md), the Txn-Token service's default, and the stand-in user issuer's. */
export const DEFAULT_PORTS: Ports = { identity: 3000, express: 3001, fastify: 3002, hono: 3003, nestjs: 3004, tts: 3010, users: 3011 };

/** The scopes of the demo's Txn-Tokens. */
export const ORDERS_SCOPES = ['orders:read', 'orders:write'] as const;

export interface Stack {
  readonly identityUrl: string;
  /** The identity server's STAND-IN Kubernetes service account issuer (demo only), where workloads get platform tokens. */
  readonly platformUrl: string;
  readonly urls: Readonly<Record<ServiceName, string>>;
  /** The Txn-Token service's base URL (`/token`, `/.well-known/jwks.json`). */
  readonly ttsUrl: string;
  /** The STAND-IN user authorization server (demo only) whose access tokens the Txn-Token service accepts. */
  readonly userIssuer: StandInUserIssuer;
  /** Bearer token of the identity server's admin endpoints. */
  readonly adminToken: string;
  readonly trustDomain: string;
  /** The mTLS side, unless started with `mtls: false`. */
  readonly mtls?: MtlsStack;
  /** Stops every process it started (and removes the demo's certificates). */
  stop(): Promise<void>;
}

/** The demo PKI and the services' HTTPS listeners that ask for client certificates. */
export interface MtlsStack {
  /** `https://127.0.0.1:<mTLS port>` per service. */
  readonly urls: Readonly<Record<ServiceName, string>>;
  /** The trust domain's CA, and a CA of another trust domain (`other.example`). */
  readonly ca: DemoCa;
  readonly otherCa: DemoCa;
  /** The credential folder (SPIFFE helper layout) of a workload: `client`, `<service>-demo`, `other-client`, `impostor`. */
  dir(workload: string): string;
  /** Issues a new certificate (new key) for a workload of the trust domain and writes it into its folder. */
  reissue(workload: string): Promise<DemoCertificate>;
}

export interface StackOptions {
  ports?: Ports;
  /** Extra environment for the four services (e.g. cache settings). */
  serviceEnv?: Record<string, string>;
  /** Give every service an mTLS listener and a certificate. Default true. */
  mtls?: boolean;
  /** Their HTTPS ports. Default each service's port + 100. */
  mtlsPorts?: Readonly<Record<ServiceName, number>>;
  /** Receives each line the processes print. */
  log?: (line: string) => void;
  /**
   * Also let workloads register by name alone (`POST /wit`, the identity server's development mode),
   * for tools that do (the CLI's `--identity … --workload …`). The stack's own workloads always get
   * their WITs by attested token exchange. Default false.
   */
  devRegistration?: boolean;
}

const APPS = fileURLToPath(new URL('../../', import.meta.url));
// Every process started and not yet exited, so an interrupted start can still clean up.
const running = new Set<ChildProcess>();
// Certificate folders not yet removed.
const folders = new Set<() => Promise<void>>();

/** Stops every process this module started that is still running (e.g. on Ctrl-C mid-start), and removes the demo's certificates. */
export async function stopAllStarted(): Promise<void> {
  await Promise.all([...running].map(terminate));
  await Promise.all([...folders].map((remove) => remove()));
}

/** Picks free loopback ports (for tests that run beside a live demo). */
export async function freePorts(): Promise<Ports> {
  const [identity, express, fastify, hono, nestjs, tts, users] = (await pickPorts(7)) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  return { identity, express, fastify, hono, nestjs, tts, users };
}

/** Picks free loopback ports for the services' mTLS listeners, none of them in `avoid` (e.g. the stack's other ports). */
export async function freeMtlsPorts(avoid: readonly number[] = []): Promise<Record<ServiceName, number>> {
  const [express, fastify, hono, nestjs] = (await pickPorts(4, avoid)) as [number, number, number, number];
  return { express, fastify, hono, nestjs };
}

// Every socket stays bound until all are picked, so the ports differ from each other.
async function pickPorts(count: number, avoid: readonly number[] = []): Promise<number[]> {
  const servers: ReturnType<typeof createServer>[] = [];
  const ports: number[] = [];
  try {
    while (ports.length < count) {
      const s = createServer();
      servers.push(s);
      const port = await new Promise<number>((resolve, reject) => {
        s.once('error', reject).listen(0, '127.0.0.1', () => resolve((s.address() as { port: number }).port));
      });
      if (!avoid.includes(port)) ports.push(port);
    }
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
  return ports;
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const ports = options.ports ?? DEFAULT_PORTS;
  const log = options.log ?? (() => {});
  const trustDomain = 'example.org';
  const adminToken = randomBytes(16).toString('base64url');
  const identityUrl = `http://127.0.0.1:${ports.identity}`;
  const platformUrl = `${identityUrl}/stand-in-platform`;
  const urls = Object.fromEntries(SERVICES.map((s) => [s, `http://127.0.0.1:${ports[s]}`])) as Record<ServiceName, string>;
  const ttsUrl = `http://127.0.0.1:${ports.tts}`;
  const children: ChildProcess[] = [];
  let userIssuer: StandInUserIssuer | undefined;
  const mtlsPorts =
    options.mtls === false
      ? undefined
      : (options.mtlsPorts ?? (Object.fromEntries(SERVICES.map((s) => [s, ports[s] + 100])) as Record<ServiceName, number>));
  let removeCredentials = async () => {};
  const stop = async () => {
    await Promise.all(children.map(terminate));
    await userIssuer?.close();
    await removeCredentials();
  };
  await assertFree({ ...ports, ...Object.fromEntries(Object.entries(mtlsPorts ?? {}).map(([s, p]) => [`${s} mTLS`, p])) });
  let mtls: MtlsStack | undefined;
  try {
    if (mtlsPorts !== undefined) {
      const root = await credentialsRoot();
      folders.add(root.remove);
      removeCredentials = async () => {
        folders.delete(root.remove);
        await root.remove();
      };
      mtls = await createPki(root.dir, trustDomain, mtlsPorts);
    }
    children.push(
      start(
        'identity-server',
        {
          PORT: String(ports.identity),
          WIMSE_TRUST_DOMAIN: trustDomain,
          IDENTITY_ADMIN_TOKEN: adminToken,
          IDENTITY_STAND_IN_PLATFORM: '1',
          ...(options.devRegistration === true ? { WIMSE_DEV_REGISTRATION: '1' } : {}),
        },
        log,
      ),
    );
    await healthy(identityUrl, children[0]!);
    userIssuer = await startStandInUserIssuer(ports.users);
    const tts = start('txn-token-service', ttsEnv(ports.tts, trustDomain, identityUrl, userIssuer), log);
    children.push(tts);
    await healthy(ttsUrl, tts);
    for (const s of SERVICES) {
      const env = {
        PORT: String(ports[s]),
        WIMSE_TRUST_DOMAIN: trustDomain,
        WIMSE_IDENTITY_URL: identityUrl,
        // Attested WITs: a (stand-in) service account token exchanged at the identity server.
        WIMSE_PLATFORM_URL: platformUrl,
        WIMSE_RELAY_TARGETS: Object.values(urls).join(','),
        // Txn-Tokens: verified with this service's keys, and fetched there by the edge route.
        WIMSE_TTS_URL: ttsUrl,
        ...(mtls === undefined || mtlsPorts === undefined
          ? {}
          : { WIMSE_MTLS_DIR: mtls.dir(`${s}-demo`), WIMSE_MTLS_PORT: String(mtlsPorts[s]) }),
        ...options.serviceEnv,
      };
      children.push(start(`${s}-demo`, env, log));
    }
    await Promise.all(SERVICES.map((s, i) => healthy(urls[s], children[i + 2]!)));
    const tls = mtls;
    if (tls !== undefined) {
      // The listeners validate client certificates at the handshake: the check presents the client's.
      const client = {
        ca: tls.ca.pem,
        cert: readFileSync(join(tls.dir('client'), SPIFFE_HELPER_FILES.cert), 'utf8'),
        key: readFileSync(join(tls.dir('client'), SPIFFE_HELPER_FILES.key), 'utf8'),
      };
      await Promise.all(SERVICES.map((s, i) => healthy(tls.urls[s], children[i + 2]!, client)));
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    identityUrl,
    platformUrl,
    urls,
    ttsUrl,
    userIssuer: userIssuer!,
    adminToken,
    trustDomain,
    ...(mtls === undefined ? {} : { mtls }),
    stop,
  };
}

/**
 * The Txn-Token service of the demo trust domain (txn-tokens-10 §10: one per trust domain): WITs
 * from the identity server authenticate requesters; the four services (each may be the edge) and
 * the scripted `client` may ask for the orders scopes; subject tokens are the stand-in user
 * issuer's access tokens for the orders API. Signing keys in memory: the demo is one run.
 */
function ttsEnv(port: number, trustDomain: string, identityUrl: string, users: StandInUserIssuer): Record<string, string> {
  const requesters = Object.fromEntries(
    [...SERVICES.map((s) => `${s}-demo`), 'client'].map((w) => [`spiffe://${trustDomain}/${w}`, { scopes: ORDERS_SCOPES }]),
  );
  return {
    PORT: String(port),
    HOST: '127.0.0.1',
    WIMSE_TRUST_DOMAIN: trustDomain,
    WIMSE_IDENTITY_JWKS: `${identityUrl}/.well-known/jwks.json`,
    TTS_REQUESTERS: JSON.stringify(requesters),
    TTS_SUBJECT_ISSUERS: JSON.stringify([{ issuer: users.issuer, audience: ORDERS_API, keys: users.jwksUrl }]),
    // Nothing else in the demo may hold on to its keys.
    TTS_DATA_DIR: '',
    TTS_KEY_FILE: '',
  };
}

/**
 * Starts one more instance of a built app (e.g. a second `express-demo`) with `env`, waits until
 * `<base>/health` answers, and returns how to stop it.
 */
export async function startInstance(
  app: string,
  env: Record<string, string>,
  base: string,
  log: (line: string) => void = () => {},
): Promise<() => Promise<void>> {
  const child = start(app, env, log);
  try {
    await healthy(base, child);
  } catch (e) {
    await terminate(child);
    throw e;
  }
  return () => terminate(child);
}

// The CAs, and a certificate folder per workload: the services and `client` in the trust domain;
// `other-client` (spiffe://other.example/client, from the other domain's CA) and `impostor`
// (an example.org identity, but from the other domain's CA) to show what is refused. The last
// two trust example.org's CA as well, so they can reach the services at all.
async function createPki(root: string, trustDomain: string, ports: Record<ServiceName, number>): Promise<MtlsStack> {
  const [ca, otherCa] = await Promise.all([createCa(trustDomain), createCa('other.example')]);
  const dir = (workload: string) => join(root, workload);
  const reissue = async (workload: string) => {
    const service = (SERVICES as readonly string[]).includes(workload.replace(/-demo$/, ''));
    const certificate = await issueCertificate(ca, `spiffe://${trustDomain}/${workload}`, service ? { ip: '127.0.0.1' } : {});
    await writeSpiffeFiles(dir(workload), certificate, ca.pem);
    return certificate;
  };
  await Promise.all([...SERVICES.map((s) => reissue(`${s}-demo`)), reissue('client')]);
  await writeSpiffeFiles(dir('other-client'), await issueCertificate(otherCa, 'spiffe://other.example/client'), otherCa.pem + ca.pem);
  await writeSpiffeFiles(dir('impostor'), await issueCertificate(otherCa, `spiffe://${trustDomain}/client`), otherCa.pem + ca.pem);
  const urls = Object.fromEntries(SERVICES.map((s) => [s, `https://127.0.0.1:${ports[s]}`])) as Record<ServiceName, string>;
  return { urls, ca, otherCa, dir, reissue };
}

// A port already taken (say, by a demo left running with --serve) would answer our health checks.
async function assertFree(ports: Record<string, number>): Promise<void> {
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

// Polls /health until it answers 200, failing fast if the process exits. An https base is
// checked against `tls.ca`, so the service must already present its certificate.
async function healthy(base: string, child: ChildProcess, tls?: TlsClient): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      const { app, output } = child as ChildProcess & { app: string; output: string[] };
      throw new Error(`${app} exited with code ${child.exitCode}:\n${output.join('\n')}`);
    }
    const ok =
      tls === undefined
        ? await fetch(`${base}/health`).then(
            (r) => r.ok,
            () => false,
          )
        : await httpsHealthy(`${base}/health`, tls);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${base}/health did not answer within 30 s`);
}

/** CA bundle, and the client certificate chain and key (PEM) to present. */
interface TlsClient {
  ca: string;
  cert: string;
  key: string;
}

function httpsHealthy(url: string, tls: TlsClient): Promise<boolean> {
  return new Promise((resolve) => {
    get(url, { ...tls, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    }).on('error', () => resolve(false));
  });
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
