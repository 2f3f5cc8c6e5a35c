/**
 * Replay protection shared by every instance of a service: a {@link ReplayStore} on Redis (single
 * node, Redis Cluster, or Valkey, which speaks the same protocol).
 *
 * One atomic command per check: `SET <prefix><kind>:<digest> 1 NX PXAT <expiresAt>` answers `OK`
 * for a value never seen (now recorded until its expiry) and nil for a replay. One key per value,
 * so in a cluster each check is atomic on the one shard owning its slot; no multi-key command is
 * ever sent, and no hash tag is needed.
 *
 * Fails closed (wpt-02 §2 step 9; http-signature-07 §3): when Redis is unreachable, slow, full,
 * or configured to evict keys, a check throws `replay_unavailable` (503 + Retry-After) within a
 * bounded time, and at most `maxInFlight` checks wait on Redis at once — and at most `maxInFlight`
 * commands sent by the store wait for Redis's answer, those whose check already gave up included —
 * so an outage never piles up requests or memory, in the store or in the client's command queue.
 * The client reconnects by itself; checks succeed again once it has.
 */
import { createHash } from 'node:crypto';
import { createClient } from '@redis/client';
import { WimseError, replayKeyString, type ReplayKey, type ReplayStore } from '@wimse/core';
import { evictionProblem } from './eviction-policy.js';

/** The `SET` options the store sends: only if absent, expiring at an absolute time in ms. */
export interface SetNxPxat {
  condition: 'NX';
  expiration: { type: 'PXAT'; value: number };
}

/** A node to ask `INFO memory`: a single-node client, or a cluster's client of one master. */
export interface RedisInfoSource {
  info(section: string): Promise<unknown>;
}

/**
 * What the store needs of a node-redis client: the result of `createClient()` (single node,
 * Valkey) or of `createCluster()` (Redis Cluster), connected or not.
 */
export interface RedisConnection {
  readonly isOpen: boolean;
  readonly isReady: boolean;
  connect(): Promise<unknown>;
  set(key: string, value: string, options: SetNxPxat): Promise<unknown>;
  on(event: string, listener: () => void): unknown;
  /** Single node. */
  info?(section: string): Promise<unknown>;
  /** Cluster: the shards' masters, each reachable with {@link RedisConnection.nodeClient}. */
  readonly masters?: readonly object[];
  nodeClient?(node: never): Promise<RedisInfoSource>;
}

export interface RedisReplayStoreOptions {
  /** A Redis URL (`redis://[[user]:password@]host[:port][/db]`, `rediss://` for TLS): the store makes and owns its client. `undefined` (an unset `process.env.REDIS_URL`) is refused at start-up unless `client` is given. */
  url?: string | undefined;
  /** A client you made: `createClient(...)` or `createCluster(...)` from `redis`/`@redis/client`. Give it an `error` listener. */
  client?: RedisConnection;
  /**
   * The service's audience (the same value as the verifier's `audience`): keys are prefixed with
   * a digest of it, so services sharing one Redis never touch each other's entries.
   */
  audience?: string | readonly string[];
  /** Key prefix. Default `wimse:replay:<digest of audience>:`, or `wimse:replay:` without `audience`. */
  prefix?: string;
  /** Longest wait for Redis per check, in ms. Default 250. */
  timeoutMs?: number;
  /**
   * Most checks waiting on Redis at once, and most of the store's commands Redis has not answered
   * yet (a check that timed out leaves its command in the client's queue until Redis answers or the
   * connection drops); beyond either a check is refused at once. Default 1024.
   */
  maxInFlight?: number;
  /** Seconds sent in `Retry-After` when Redis cannot answer. Default 1. */
  retryAfterSeconds?: number;
  /**
   * Refuse every check when a Redis node's `maxmemory-policy` is not `noeviction` (it could forget
   * live entries). Default true; set false only where `INFO` is not allowed and the policy is
   * known to be `noeviction`.
   */
  requireNoEviction?: boolean;
  /** How often, in ms, the eviction policy is read again while connected (it is also read after every reconnection). Default 30 000. */
  evictionRecheckMs?: number;
}

const DEFAULT_TIMEOUT_MS = 250;
const DEFAULT_MAX_IN_FLIGHT = 1024;
// A failed start-up check is retried at most this often, not on every request.
const RECHECK_AFTER_MS = 1000;

/**
 * A {@link ReplayStore} on Redis. Make one with {@link redisReplayStore}.
 *
 * @example
 * const replayStore = redisReplayStore({ url: process.env.REDIS_URL, audience: 'https://orders.example.com' });
 * await replayStore.connect(); // optional: fail at start-up when Redis is unreachable or may evict keys
 * app.use(wimse({ trustDomains, audience: 'https://orders.example.com', replayStore }));
 */
export class RedisReplayStore implements ReplayStore {
  readonly #client: RedisConnection;
  readonly #set: RedisConnection['set'];
  readonly #owned: ReturnType<typeof createClient> | undefined;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  readonly #maxInFlight: number;
  readonly #retryAfter: number;
  readonly #requireNoEviction: boolean;
  readonly #recheckMs: number;
  #inFlight = 0;
  /** SETs sent and not yet answered (or failed) by the client, whether or not their check still waits. */
  #unanswered = 0;
  #verifiedAt = 0;
  /** Resolves once the client is connected and every node was checked; undefined: not started. */
  #verification: Promise<void> | undefined;
  #verified = false;

  constructor(options: RedisReplayStoreOptions) {
    if (options === null || typeof options !== 'object') throw new TypeError('redisReplayStore: options object required');
    const { url, client } = options;
    if ((url === undefined) === (client === undefined)) throw new TypeError('redisReplayStore: give exactly one of `url` or `client`');
    this.#timeoutMs = positive(options.timeoutMs, DEFAULT_TIMEOUT_MS, 'timeoutMs');
    this.#maxInFlight = positive(options.maxInFlight, DEFAULT_MAX_IN_FLIGHT, 'maxInFlight');
    this.#retryAfter = positive(options.retryAfterSeconds, 1, 'retryAfterSeconds');
    this.#requireNoEviction = options.requireNoEviction ?? true;
    this.#recheckMs = positive(options.evictionRecheckMs, 30_000, 'evictionRecheckMs');
    this.#prefix = options.prefix ?? defaultPrefix(options.audience);
    if (typeof this.#prefix !== 'string') throw new TypeError('redisReplayStore: prefix must be a string');
    if (url !== undefined) {
      if (typeof url !== 'string' || !/^rediss?:\/\//.test(url))
        throw new TypeError('redisReplayStore: url must start with redis:// or rediss://');
      this.#owned = createClient({
        url,
        // Fail at once while disconnected rather than queue: the outage answer is a quick 503.
        disableOfflineQueue: true,
        commandsQueueMaxLength: this.#maxInFlight * 4,
        socket: {
          connectTimeout: Math.max(this.#timeoutMs * 4, 1000),
          reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 500),
        },
      });
      // Errors are answered per check (503); an unhandled 'error' event would end the process.
      this.#owned.on('error', () => {});
      this.#client = this.#owned as unknown as RedisConnection;
    } else {
      this.#owned = undefined;
      this.#client = client as RedisConnection;
    }
    // No client-side command timeout: it would settle a command Redis has not answered while the
    // command stays in the client's queue, hiding it from the bound on unanswered commands.
    this.#set = this.#client.set.bind(this.#client);
    // After every (re)connection — a node restarted may come back with another policy — check again.
    const recheck = () => {
      this.#verified = false;
      this.#verification = undefined;
      void this.#verify().catch(() => {});
    };
    this.#client.on('ready', recheck);
    this.#client.on('node-ready', recheck);
  }

  /** The key prefix in use. */
  get prefix(): string {
    return this.#prefix;
  }

  /** Checks now waiting on Redis (never more than `maxInFlight`). */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Connects (when the store made the client or yours is not open yet) and checks every node's
   * `maxmemory-policy`. Optional: checks do this themselves; await it to fail at start-up instead.
   * Rejects when Redis is not reached within `timeoutMs` (default 5000) or may evict live entries;
   * the store keeps trying to connect in the background either way.
   */
  async connect(options: { timeoutMs?: number } = {}): Promise<void> {
    const ms = positive(options.timeoutMs, 5000, 'connect timeoutMs');
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.#verify(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`Redis was not reached within ${ms} ms`)), ms);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes the client the store made from `url`; a client you gave stays yours to close. */
  async close(): Promise<void> {
    const own = this.#owned;
    if (own === undefined || !own.isOpen) return;
    // A client still trying to reconnect has nothing to flush.
    if (own.isReady) await own.close();
    else own.destroy();
  }

  async checkAndStore(key: ReplayKey, expiresAt: number): Promise<boolean> {
    if (this.#inFlight >= this.#maxInFlight) throw this.#refuse(`${this.#inFlight} replay checks already wait on Redis`);
    if (this.#unanswered >= this.#maxInFlight) throw this.#refuse(`${this.#unanswered} replay commands are still unanswered by Redis`);
    if (this.#verified && !this.#client.isReady) throw this.#refuse('Redis is not connected');
    // A policy changed with CONFIG SET, no reconnection: noticed within evictionRecheckMs.
    if (this.#verified && this.#requireNoEviction && Date.now() - this.#verifiedAt >= this.#recheckMs) this.#recheckInBackground();
    this.#inFlight++;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      // A stalled event loop alone is no timeout: when the timer fires late (this process was busy,
      // and the command may not even have been written yet), Redis gets one more full window.
      // setImmediate: a reply that reached the socket meanwhile is read (poll phase) before the
      // refusal (check phase).
      const arm = (graced: boolean): void => {
        const armedAt = performance.now();
        timer = setTimeout(() => {
          const late = performance.now() - armedAt - this.#timeoutMs;
          if (!graced && late > this.#timeoutMs / 2) return arm(true);
          setImmediate(() => reject(this.#refuse(`Redis did not answer within ${this.#timeoutMs} ms`)));
        }, this.#timeoutMs);
      };
      arm(false);
    });
    try {
      if (!this.#verified) await Promise.race([this.#verify(), timeout]);
      const reply = await Promise.race([this.#send(this.#prefix + keyName(key), Math.ceil(expiresAt)), timeout]);
      if (reply === 'OK') return true;
      if (reply === null) return false;
      throw new Error(`unexpected SET reply ${JSON.stringify(reply)}`);
    } catch (cause) {
      throw cause instanceof WimseError ? cause : this.#refuse(describe(cause), cause);
    } finally {
      clearTimeout(timer);
      this.#inFlight--;
    }
  }

  // One SET NX PXAT, counted as unanswered until the client settles it (a reply, or the connection's failure).
  #send(name: string, expiresAt: number): Promise<unknown> {
    let sent: Promise<unknown>;
    try {
      sent = this.#set(name, '1', { condition: 'NX', expiration: { type: 'PXAT', value: expiresAt } });
    } catch (e) {
      return Promise.reject(e);
    }
    this.#unanswered++;
    const settled = () => {
      this.#unanswered--;
    };
    sent.then(settled, settled);
    return sent;
  }

  #refuse(detail: string, cause?: unknown): WimseError {
    return new WimseError('replay_unavailable', `Replay store unavailable: ${detail}`, {
      retryAfter: this.#retryAfter,
      ...(cause === undefined ? {} : { cause }),
    });
  }

  // Memoized; a failure is kept for RECHECK_AFTER_MS so a broken Redis is not asked on every request.
  #verify(): Promise<void> {
    if (this.#verification === undefined) {
      const run = this.#runVerification().then(() => {
        if (this.#verification === run) this.#passed();
      });
      this.#verification = run;
      run.catch(() => this.#forgetLater(run));
    }
    return this.#verification;
  }

  #passed(): void {
    this.#verified = true;
    this.#verifiedAt = Date.now();
  }

  #forgetLater(failed: Promise<void>): void {
    setTimeout(() => {
      if (this.#verification === failed) this.#verification = undefined;
    }, RECHECK_AFTER_MS).unref();
  }

  // Checks go on meanwhile; a failure turns the store to refusing until a check passes again.
  #recheckInBackground(): void {
    this.#verifiedAt = Date.now();
    this.#runVerification().catch((e: unknown) => {
      this.#verified = false;
      const failed = Promise.reject(e instanceof Error ? e : new Error(String(e)));
      failed.catch(() => {});
      this.#verification = failed;
      this.#forgetLater(failed);
    });
  }

  async #runVerification(): Promise<void> {
    if (!this.#client.isOpen) await this.#client.connect();
    if (!this.#requireNoEviction) return;
    const problems: string[] = [];
    for (const [name, node] of await this.#nodes()) {
      const problem = evictionProblem(String(await node.info('memory')), name);
      if (problem !== undefined) problems.push(problem);
    }
    if (problems.length > 0) throw new Error(problems.join('; '));
  }

  async #nodes(): Promise<[string, RedisInfoSource][]> {
    const c = this.#client;
    if (c.masters !== undefined && typeof c.nodeClient === 'function') {
      const nodeClient = c.nodeClient.bind(c);
      return Promise.all(c.masters.map(async (m) => [nodeName(m), await nodeClient(m as never)] as [string, RedisInfoSource]));
    }
    if (typeof c.info !== 'function')
      throw new Error('the client has neither info() nor masters: pass a node-redis createClient() or createCluster() result');
    return [['redis', c as RedisInfoSource]];
  }
}

/**
 * A replay store shared through Redis by every instance of one service.
 *
 * @example
 * wimse({ trustDomains, audience, replayStore: redisReplayStore({ url: process.env.REDIS_URL, audience }) })
 */
export function redisReplayStore(options: RedisReplayStoreOptions): RedisReplayStore {
  return new RedisReplayStore(options);
}

/** `wimse:replay:` plus, with an audience, the first 16 hex digits of SHA-256 over its sorted values. */
export function defaultPrefix(audience?: string | readonly string[]): string {
  if (audience === undefined) return 'wimse:replay:';
  const list = (typeof audience === 'string' ? [audience] : [...audience]).map((a) => a.replace(/\/+$/, '')).sort();
  return `wimse:replay:${createHash('sha256').update(list.join('\n')).digest('hex').slice(0, 16)}:`;
}

/**
 * `<kind>:<digest>`, the digest over the whole {@link replayKeyString} partition (workload, kind,
 * id): fixed length whatever the caller sent, and no client value stored in clear.
 */
export function keyName(key: ReplayKey): string {
  return `${key.kind}:${createHash('sha256').update(replayKeyString(key)).digest('base64url')}`;
}

function describe(cause: unknown): string {
  const message = cause instanceof Error ? cause.message : String(cause);
  if (/^OOM\b/.test(message)) return 'Redis is full (maxmemory reached with noeviction)';
  if (cause instanceof Error && cause.name === 'TimeoutError') return 'Redis did not answer in time';
  return `Redis error: ${message.slice(0, 200)}`;
}

function nodeName(master: object): string {
  const m = master as { host?: unknown; port?: unknown };
  return typeof m.host === 'string' ? `${m.host}:${String(m.port)}` : 'cluster node';
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
    throw new TypeError(`redisReplayStore: ${name} must be a positive number`);
  return value;
}
