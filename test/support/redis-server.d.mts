/** A redis-server started by {@link startRedis}. */
export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  stop(): Promise<void>;
  pause(): void;
  resume(): void;
  restart(): Promise<void>;
  command(...words: (string | number)[]): Promise<string | null>;
  close(): Promise<void>;
}
export interface RedisClusterServers {
  readonly nodes: RedisServer[];
  readonly rootNodes: { url: string }[];
  close(): Promise<void>;
}
export function redisServerVersion(): Promise<string | undefined>;
export function redisForTests(): Promise<string | undefined>;
export function recordRedisRun(version: string, mode: 'single node' | 'cluster'): void;
export function freePorts(count: number, options?: { bus?: boolean }): Promise<number[]>;
export function startRedis(options?: { args?: string[]; port?: number }): Promise<RedisServer>;
export function startRedisCluster(options?: { masters?: number; args?: string[] }): Promise<RedisClusterServers>;
