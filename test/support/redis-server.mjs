// Real Redis for the tests and the benchmark: `redis-server` processes on free 127.0.0.1 ports,
// each in its own temporary folder, stopped by the caller (and on exit). No persistence unless
// asked for. With WIMSE_REQUIRE_REDIS=1 (set by .ci/run) a missing redis-server is an error.
import { execFile, spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const RUN_LOG = new URL('../../.vitest-redis.log', import.meta.url);
const started = new Set();
process.once('exit', () => {
  for (const child of started) child.kill('SIGKILL');
});

/** `redis-server --version` (e.g. "7.0.15"), or undefined when there is no redis-server. */
export async function redisServerVersion() {
  try {
    const { stdout } = await run('redis-server', ['--version']);
    return /v=(\S+)/.exec(stdout)?.[1] ?? stdout.trim();
  } catch {
    return undefined;
  }
}

/**
 * The redis-server version when one can run here; undefined (tests skip, saying why) when not —
 * unless WIMSE_REQUIRE_REDIS=1, which turns a missing redis-server into a thrown error.
 */
export async function redisForTests() {
  const version = await redisServerVersion();
  if (version === undefined && process.env.WIMSE_REQUIRE_REDIS === '1') {
    throw new Error('WIMSE_REQUIRE_REDIS=1 but redis-server cannot be run: install it (apt-get install redis-server)');
  }
  if (version === undefined)
    console.warn(
      'redis-server not found: the Redis tests are skipped (install redis-server; CI sets WIMSE_REQUIRE_REDIS=1 to make this a failure)',
    );
  return version;
}

/** Notes for scripts/test-summary.mjs which Redis ran, in which mode. */
export function recordRedisRun(version, mode) {
  appendFileSync(RUN_LOG, `${JSON.stringify({ version, mode, at: Date.now() })}\n`);
}

/** Free loopback ports; with `bus`, port + 10000 (the cluster bus) is free too. */
export async function freePorts(count, { bus = false } = {}) {
  const held = [];
  const ports = [];
  try {
    while (ports.length < count) {
      const port = await listenFree(0, held);
      if (bus && (port > 55_000 || (await listenFree(port + 10_000, held).catch(() => undefined)) === undefined)) continue;
      ports.push(port);
    }
  } finally {
    await Promise.all(held.map((s) => new Promise((r) => s.close(r))));
  }
  return ports;
}

function listenFree(port, held) {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject).listen(port, '127.0.0.1', () => {
      held.push(s);
      resolve(s.address().port);
    });
  });
}

/**
 * Starts one redis-server. `args` are extra config arguments, e.g. ['--maxmemory', '2mb'].
 * Returns { port, url, dir, stop(), kill(), pause(), resume(), restart(), info(section) }.
 */
export async function startRedis({ args = [], port } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'wimse-redis-'));
  const chosen = port ?? (await freePorts(1))[0];
  const argv = [
    '--port',
    String(chosen),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
    '--daemonize',
    'no',
    '--logfile',
    '',
    '--loglevel',
    'warning',
    ...args,
  ];
  let child = await spawnRedis(argv, chosen);
  const server = {
    port: chosen,
    url: `redis://127.0.0.1:${chosen}`,
    dir,
    /** Graceful stop (SIGTERM: an AOF is flushed); the folder is kept for restart(). */
    async stop() {
      await terminate(child, 'SIGTERM');
    },
    /** SIGSTOP: the port stays open but nothing answers (a hung Redis). */
    pause() {
      child.kill('SIGSTOP');
    },
    resume() {
      child.kill('SIGCONT');
    },
    /** Starts again on the same port and folder (what persisted comes back). */
    async restart() {
      child = await spawnRedis(argv, chosen);
    },
    /** Reply of one command, over a raw RESP connection. */
    command: (...words) => rawCommand(chosen, words),
    /** Stops it for good and removes its folder. */
    async close() {
      child.kill('SIGCONT');
      await terminate(child, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}

/** A Redis Cluster of `masters` masters, no replicas, made with `redis-cli --cluster create`. */
export async function startRedisCluster({ masters = 3, args = [] } = {}) {
  const ports = await freePorts(masters, { bus: true });
  const nodes = [];
  try {
    for (const port of ports)
      nodes.push(
        await startRedis({
          port,
          args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000', ...args],
        }),
      );
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes']);
    const deadline = Date.now() + 20_000;
    for (const n of nodes) {
      while (!/cluster_state:ok/.test(await n.command('CLUSTER', 'INFO'))) {
        if (Date.now() > deadline) throw new Error(`cluster on ${ports.join(',')} not ok within 20 s`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (e) {
    await Promise.all(nodes.map((n) => n.close()));
    throw e;
  }
  return {
    nodes,
    rootNodes: nodes.map((n) => ({ url: n.url })),
    close: () => Promise.all(nodes.map((n) => n.close())).then(() => {}),
  };
}

async function spawnRedis(argv, port) {
  const child = spawn('redis-server', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  started.add(child);
  child.once('exit', () => started.delete(child));
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const spawnError = new Promise((_, reject) => child.once('error', reject));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server on ${port} exited: ${output}`);
    const pong = await Promise.race([rawCommand(port, ['PING']).catch(() => ''), spawnError]);
    if (pong === 'PONG') return child;
    if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not answer PING within 10 s: ${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function terminate(child, signal) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

// One command over a fresh socket; the reply as text (simple, error, or bulk string; integers as digits).
function rawCommand(port, words) {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    socket.setTimeout(5000, () => socket.destroy(new Error('timeout')));
    socket.on('error', reject);
    socket.on('data', (chunk) => {
      data += chunk;
      const reply = parseReply(data);
      if (reply !== undefined) {
        socket.end();
        resolve(reply);
      }
    });
    socket.write(`*${words.length}\r\n${words.map((w) => `$${Buffer.byteLength(String(w))}\r\n${w}\r\n`).join('')}`);
  });
}

function parseReply(data) {
  const eol = data.indexOf('\r\n');
  if (eol < 0) return undefined;
  const head = data.slice(1, eol);
  if (data[0] === '+' || data[0] === ':' || data[0] === '-') return data[0] === '-' ? `ERR:${head}` : head;
  if (data[0] === '$') {
    const len = Number(head);
    if (len < 0) return null;
    const body = Buffer.from(data.slice(eol + 2));
    return body.length >= len + 2 ? body.subarray(0, len).toString() : undefined;
  }
  return data;
}
