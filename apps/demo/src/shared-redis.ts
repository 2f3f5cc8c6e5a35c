/**
 * The Redis `pnpm demo` shares between two instances of one service: `REDIS_URL` when set, else a
 * `redis-server` from the PATH started on a free 127.0.0.1 port (no persistence) and stopped after.
 */
import { spawn, spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { freePorts } from './stack.js';

export interface SharedRedis {
  url: string;
  /** Where it came from, for the table: `REDIS_URL` or `redis-server <version>`. */
  source: string;
  stop(): Promise<void>;
}

/** A usable Redis, or undefined when there is neither REDIS_URL nor redis-server. */
export async function sharedRedis(env: NodeJS.ProcessEnv = process.env): Promise<SharedRedis | undefined> {
  if (env.REDIS_URL) return { url: env.REDIS_URL, source: 'REDIS_URL', stop: async () => {} };
  // Looked up on env's PATH, so the caller decides where a redis-server may come from.
  const version = spawnSync('redis-server', ['--version'], { encoding: 'utf8', env });
  if (version.error !== undefined || version.status !== 0) return undefined;
  const port = (await freePorts()).identity;
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--daemonize',
      'no',
      '--maxmemory-policy',
      'noeviction',
    ],
    { stdio: 'ignore', env },
  );
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  const deadline = Date.now() + 10_000;
  while (!(await pong(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`redis-server did not start on 127.0.0.1:${port}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url: `redis://127.0.0.1:${port}`, source: `redis-server ${/v=(\S+)/.exec(version.stdout)?.[1] ?? ''}`.trim(), stop };
}

function pong(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('error', () => resolve(false));
    socket.once('data', (d) => {
      socket.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
    socket.write('PING\r\n');
  });
}
