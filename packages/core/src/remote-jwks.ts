/**
 * A remote JWKS of one trust domain (workload-creds-02 §3: the trust anchors of a domain may be
 * fetched from its issuer). jose's `createRemoteJWKSet` refetches on every request while the
 * endpoint fails and has no size cap or stale-if-error, so this small state machine owns the
 * fetching and hands each good set to jose's `createLocalJWKSet` for key selection:
 * - one fetch in flight; a timeout covering the body; a streamed size cap;
 * - exponential backoff after failures (no fetch at all until it expires);
 * - the last good set keeps serving past its max age while fetches fail (RFC 5861 stale-if-error),
 *   for a bounded time;
 * - an unknown `kid` refetches at once, at most once per cooldown; it is the token's fault (jose's
 *   no-matching-key error, 400 upstream) only once a set fetched after it was first asked for
 *   lacks it, and `trust_unavailable` (503, Retry-After) while that is pending or failing.
 * Web-standard only (`fetch`, `AbortSignal`, streams).
 */
import { createLocalJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { jwksChannel, type WimseJwksMessage } from './diagnostics.js';
import { WimseError } from './errors.js';
import { ExpiringMap } from './expiring-map.js';
import { safeUrl, withSafeUrl } from './logger.js';

/** Why a JWKS fetch failed. */
export type JwksFailureReason = 'network' | 'timeout' | 'status' | 'too_large' | 'invalid';

/** What happened to a remote JWKS; for logs and metrics. Never carries a token. */
export type JwksEvent =
  | { type: 'jwks_refreshed'; trustDomain: string; url: string; keys: number; status: number; contentType?: string; durationMs: number }
  | {
      type: 'jwks_refresh_failed';
      trustDomain: string;
      url: string;
      reason: JwksFailureReason;
      /** The HTTP status, when a response arrived (e.g. 404, or 200 with an HTML body). */
      status?: number;
      /** The response's `content-type`, when a response arrived. */
      contentType?: string;
      /** Time from request to failure, in ms. */
      durationMs: number;
      /** Human-readable cause, e.g. `HTTP 500` or a JSON parse error. */
      message: string;
      /** Failures in a row, this one included. */
      failures: number;
      /** No fetch before this many ms from now. */
      retryInMs: number;
      /** Whether an older key set still serves (stale-if-error). */
      servingStale: boolean;
    };

/** Resolved settings of one remote JWKS (validated by the caller). */
export interface RemoteJwksSettings {
  url: URL;
  trustDomain: string;
  timeoutMs: number;
  maxBytes: number;
  cacheMaxAgeMs: number;
  cooldownMs: number;
  staleIfErrorMs: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  /** Checks a parsed body and returns the key set; throws when it is not an acceptable JWKS. */
  keySet: (json: unknown) => JSONWebKeySet;
  /** Told of every fetch outcome: the `onEvent` option, the operator log. */
  listeners: readonly ((event: JwksEvent) => void)[];
  now: () => number;
}

type VerificationKey = Awaited<ReturnType<JWTVerifyGetKey>>;

interface KeySet {
  readonly select: JWTVerifyGetKey;
  /** When the fetch that produced it started / finished (ms). */
  readonly startedAt: number;
  readonly receivedAt: number;
}

class JwksFetchError extends Error {
  /** What the response said, when one arrived. */
  response: ResponseFacts | undefined;
  constructor(
    readonly reason: JwksFailureReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

interface ResponseFacts {
  readonly status: number;
  readonly contentType: string | undefined;
}

// Remembered unknown kids, so the verdict (pending or unknown) stays stable; bounded.
const MISSING_KIDS = 1024;
const MAX_REMEMBERED_KID = 256;

/** Builds a jose key resolver over a remote JWKS with the policy above. */
export function createRemoteJwks(s: RemoteJwksSettings): JWTVerifyGetKey {
  let current: KeySet | undefined;
  let inflight: Promise<KeySet | undefined> | undefined;
  let failures = 0;
  let retryAt = -Infinity;
  let kidRefreshAt = -Infinity;
  const firstAsked = new ExpiringMap<string, number>(MISSING_KIDS);

  const failing = (): boolean => failures > 0;
  const age = (set: KeySet, now: number): number => now - set.receivedAt;
  // RFC 5861 §4 stale-if-error, bounded: past max age a set serves only while fetches fail.
  const usable = (set: KeySet, now: number): boolean => age(set, now) <= s.cacheMaxAgeMs + s.staleIfErrorMs;

  function refresh(): Promise<KeySet | undefined> {
    inflight ??= load().finally(() => {
      inflight = undefined;
    });
    return inflight;
  }

  async function load(): Promise<KeySet | undefined> {
    const startedAt = s.now();
    const started = performance.now();
    let response: ResponseFacts | undefined;
    try {
      const fetched = await fetchJwks(s);
      response = fetched.response;
      const jwks = s.keySet(fetched.json);
      const select = createLocalJWKSet(jwks);
      const set: KeySet = { select, startedAt, receivedAt: s.now() };
      current = set;
      failures = 0;
      retryAt = -Infinity;
      emit({
        type: 'jwks_refreshed',
        trustDomain: s.trustDomain,
        url: s.url.href,
        keys: jwks.keys.length,
        ...facts(response),
        durationMs: performance.now() - started,
      });
      return set;
    } catch (e) {
      const now = s.now();
      failures++;
      // Exponential backoff, capped: a bounded number of fetches per minute while failing.
      const wait = Math.min(s.backoffMaxMs, s.backoffMinMs * 2 ** Math.min(failures - 1, 30));
      retryAt = now + wait;
      const err = e instanceof JwksFetchError ? e : new JwksFetchError('invalid', e instanceof Error ? e.message : String(e));
      emit({
        type: 'jwks_refresh_failed',
        trustDomain: s.trustDomain,
        url: s.url.href,
        reason: err.reason,
        ...facts(err.response ?? response),
        durationMs: performance.now() - started,
        message: err.message,
        failures,
        retryInMs: wait,
        servingStale: current !== undefined && usable(current, now),
      });
      return undefined;
    }
  }

  function emit(event: JwksEvent): void {
    if (jwksChannel.hasSubscribers) jwksChannel.publish(jwksMessage(event));
    for (const listener of s.listeners) {
      try {
        listener(event);
      } catch {
        // A failing logger must not change trust decisions.
      }
    }
  }

  function unavailable(untilMs: number, detail: string): WimseError {
    return new WimseError('trust_unavailable', `Issuer keys of ${s.trustDomain} ${detail}; retry later`, {
      retryAfter: Math.max(1, (untilMs - s.now()) / 1000),
    });
  }

  // The set to look in: fresh, refreshed, or stale while fetching fails.
  async function keySetFor(now: number): Promise<KeySet> {
    const set = current !== undefined && usable(current, now) ? current : undefined;
    if (set === undefined) {
      if (inflight === undefined && now < retryAt) throw unavailable(retryAt, 'could not be fetched');
      const fetched = await refresh();
      if (fetched === undefined) throw unavailable(retryAt, 'could not be fetched');
      return fetched;
    }
    if (age(set, now) <= s.cacheMaxAgeMs) return set;
    // Past max age. Healthy: wait for the refresh (a removed key stops working now). Failing:
    // keep serving the stale set without waiting; retry in the background once backoff allows.
    if (failing()) {
      if (inflight === undefined && now >= retryAt) void refresh();
      return set;
    }
    return (await refresh()) ?? set;
  }

  return async (...args) => {
    const now = s.now();
    const set = await keySetFor(now);
    try {
      return await set.select(...args);
    } catch (e) {
      if (!isNoMatchingKey(e)) throw e;
      return unknownKey(args, set, now, e);
    }
  };

  async function unknownKey(args: Parameters<JWTVerifyGetKey>, set: KeySet, asked: number, notFound: unknown): Promise<VerificationKey> {
    const id = kidId(args[0]);
    // The set was fetched for this very request: a fresh set lacks the key.
    if (set.startedAt >= asked) throw remember(id, set, notFound);
    const now = s.now();
    if (inflight === undefined) {
      if (failing() && now < retryAt) throw unavailable(retryAt, 'could not be refreshed');
      if (now < kidRefreshAt + s.cooldownMs) {
        const first = id === undefined ? undefined : firstAsked.get(id, now);
        if (first !== undefined && set.startedAt >= first) throw notFound;
        if (id !== undefined && first === undefined) firstAsked.set(id, asked, now + s.cooldownMs + s.cacheMaxAgeMs, now);
        throw unavailable(kidRefreshAt + s.cooldownMs, 'are being refreshed for a new key');
      }
      kidRefreshAt = now;
    }
    const fresh = await refresh();
    if (fresh === undefined) throw unavailable(retryAt, 'could not be refreshed');
    try {
      return await fresh.select(...args);
    } catch (e) {
      if (!isNoMatchingKey(e)) throw e;
      // A fetch already in flight when the kid was first asked for may predate the key: no verdict yet.
      if (fresh.startedAt < firstAskedAt(id, asked)) throw pending(id, asked);
      throw remember(id, fresh, e);
    }
  }

  function firstAskedAt(id: string | undefined, asked: number): number {
    const first = id === undefined ? undefined : firstAsked.get(id, s.now());
    return first === undefined ? asked : Math.min(first, asked);
  }

  // Still pending: the next refetch the cooldown allows decides (remembered so that it does).
  function pending(id: string | undefined, asked: number): WimseError {
    const now = s.now();
    if (id !== undefined && firstAsked.get(id, now) === undefined) firstAsked.set(id, asked, now + s.cooldownMs + s.cacheMaxAgeMs, now);
    return unavailable(kidRefreshAt + s.cooldownMs, 'are being refreshed for a new key');
  }

  // A set fetched after the kid was first asked for lacks it: answer so until the next set.
  function remember(id: string | undefined, set: KeySet, notFound: unknown): unknown {
    if (id !== undefined) {
      const now = s.now();
      const asked = firstAsked.get(id, now);
      firstAsked.set(id, Math.min(asked ?? Infinity, set.startedAt), now + s.cooldownMs + s.cacheMaxAgeMs, now);
    }
    return notFound;
  }
}

function isNoMatchingKey(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === 'ERR_JWKS_NO_MATCHING_KEY';
}

function kidId(header: { alg?: string; kid?: string }): string | undefined {
  const kid = header.kid ?? '';
  if (typeof kid !== 'string' || kid.length > MAX_REMEMBERED_KID) return undefined;
  return `${String(header.alg)} ${kid}`;
}

function facts(response: ResponseFacts): { status: number; contentType?: string };
function facts(response: ResponseFacts | undefined): { status?: number; contentType?: string };
function facts(response: ResponseFacts | undefined): { status?: number; contentType?: string } {
  if (response === undefined) return {};
  return response.contentType === undefined ? { status: response.status } : { status: response.status, contentType: response.contentType };
}

// The channel message: the URL without credentials or query, as the operator log has it.
function jwksMessage(e: JwksEvent): WimseJwksMessage {
  const common = {
    trustDomain: e.trustDomain,
    url: safeUrl(e.url),
    ...(e.status === undefined ? {} : { status: e.status }),
    ...(e.contentType === undefined ? {} : { contentType: e.contentType }),
    durationMs: e.durationMs,
  };
  return e.type === 'jwks_refreshed'
    ? { outcome: 'ok', ...common, keys: e.keys }
    : { outcome: 'error', ...common, reason: e.reason, error: withSafeUrl(e.message, e.url) };
}

/** GETs the JWKS: 200 only, no redirects, within the timeout (body included) and the size cap. */
async function fetchJwks(s: RemoteJwksSettings): Promise<{ json: unknown; response: ResponseFacts }> {
  const signal = AbortSignal.timeout(s.timeoutMs);
  let response: Response;
  try {
    response = await fetch(s.url, {
      method: 'GET',
      signal,
      redirect: 'manual',
      headers: { accept: 'application/jwk-set+json, application/json' },
    });
  } catch (cause) {
    throw fetchFailure(cause, signal);
  }
  const seen: ResponseFacts = { status: response.status, contentType: response.headers.get('content-type') ?? undefined };
  try {
    if (response.status !== 200) {
      await response.body?.cancel().catch(() => undefined);
      throw new JwksFetchError('status', `HTTP ${response.status}`);
    }
    const text = await readCapped(response, s.maxBytes, signal);
    try {
      return { json: JSON.parse(text) as unknown, response: seen };
    } catch (cause) {
      throw new JwksFetchError('invalid', `not JSON: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    }
  } catch (e) {
    if (e instanceof JwksFetchError) e.response = seen;
    throw e;
  }
}

// Reads at most maxBytes, then gives up on the body (closing the connection) instead of buffering it.
async function readCapped(response: Response, maxBytes: number, signal: AbortSignal): Promise<string> {
  const body = response.body;
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (declared > maxBytes) {
    await body?.cancel().catch(() => undefined);
    throw new JwksFetchError('too_large', `body of ${declared} bytes exceeds ${maxBytes}`);
  }
  if (body === null) throw new JwksFetchError('invalid', 'empty body');
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw new JwksFetchError('too_large', `body exceeds ${maxBytes} bytes`);
      }
      chunks.push(value);
    }
  } catch (cause) {
    if (cause instanceof JwksFetchError) throw cause;
    throw fetchFailure(cause, signal);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    bytes.set(c, offset);
    offset += c.byteLength;
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (cause) {
    throw new JwksFetchError('invalid', 'body is not UTF-8', { cause });
  }
}

function fetchFailure(cause: unknown, signal: AbortSignal): JwksFetchError {
  if (signal.aborted) return new JwksFetchError('timeout', 'timed out', { cause });
  const detail = cause instanceof Error ? (cause.cause instanceof Error ? cause.cause.message : cause.message) : String(cause);
  return new JwksFetchError('network', detail, { cause });
}
