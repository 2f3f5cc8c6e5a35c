/**
 * Observability events on `node:diagnostics_channel`: verification outcomes, remote JWKS fetches
 * and replay store failures. A message carries codes, workload identifiers, URLs and timings,
 * never a token, a proof or a nonce.
 *
 * Publishing costs one `hasSubscribers` check when nobody listens: no message, no clock read.
 * Off Node (no `process.getBuiltinModule`) every channel is silent, so the core still loads on
 * Web-standard runtimes.
 */
import { WimseError, type WimseErrorCode } from './errors.js';
import type { MaybePromise } from './maybe-async.js';
import type { ProofMethod, WimsePrincipal } from './principal.js';
import type { JwksFailureReason } from './remote-jwks.js';
import type { ReplayKind } from './replay.js';
import { fieldValues, type WimseRequest } from './request.js';

/** The channel names, for `diagnostics_channel.subscribe(name, listener)`. */
export const WIMSE_CHANNELS = {
  /** One {@link WimseVerifyMessage} per `verify` call. */
  verify: 'wimse:verify',
  /** One {@link WimseJwksMessage} per remote JWKS fetch. */
  jwks: 'wimse:jwks',
  /** One {@link WimseReplayMessage} per replay store failure. */
  replay: 'wimse:replay',
} as const;

/** Published on `wimse:verify` when a verification ends. */
export interface WimseVerifyMessage {
  readonly outcome: 'ok' | 'error';
  /** The error code (`internal_error` for a bug); absent when `ok`. */
  readonly code?: WimseErrorCode;
  /** The HTTP status the error answers; absent when `ok`. */
  readonly status?: number;
  /** The authenticated Workload Identifier; absent on error (nothing was authenticated). */
  readonly workload?: string;
  /** Its trust domain; absent on error. */
  readonly trustDomain?: string;
  /** The proof that authenticated the request, or on error the one presented (absent when none was). */
  readonly method?: ProofMethod;
  /** Time spent in `verify`, in ms. */
  readonly durationMs: number;
}

/** Published on `wimse:jwks` when a fetch of a trust domain's JWKS ends. */
export interface WimseJwksMessage {
  readonly outcome: 'ok' | 'error';
  readonly trustDomain: string;
  readonly url: string;
  /** The HTTP status, when a response arrived. */
  readonly status?: number;
  /** The response's `content-type`, when a response arrived. */
  readonly contentType?: string;
  /** Keys in the fetched set; only when `ok`. */
  readonly keys?: number;
  /** Why the fetch failed; only on error. */
  readonly reason?: JwksFailureReason;
  /** What failed, e.g. `HTTP 404` or a JSON parse error; only on error. */
  readonly error?: string;
  /** Time from request to parsed key set (or failure), in ms. */
  readonly durationMs: number;
}

/** Published on `wimse:replay` when a replay store refuses or fails (the request is answered 429/503). */
export interface WimseReplayMessage {
  /** The store's class name, e.g. `MemoryReplayStore`. */
  readonly store: string;
  readonly code: 'replay_unavailable' | 'replay_quota_exceeded';
  readonly kind: ReplayKind;
  /** The workload whose proof was being recorded. */
  readonly workload: string;
  /** The store's error message. */
  readonly error: string;
}

interface Channel {
  readonly hasSubscribers: boolean;
  publish(message: unknown): void;
}

type DiagnosticsChannel = typeof import('node:diagnostics_channel');

const SILENT: Channel = { hasSubscribers: false, publish: () => undefined };

function nodeChannels(): DiagnosticsChannel | undefined {
  try {
    const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
    return proc?.getBuiltinModule?.('node:diagnostics_channel') as DiagnosticsChannel | undefined;
  } catch {
    return undefined;
  }
}

const dc = nodeChannels();
const open = (name: string): Channel => dc?.channel(name) ?? SILENT;

/** The channels, held here so they live as long as the core (Node keeps unused channels weakly). */
export const verifyChannel = open(WIMSE_CHANNELS.verify);
export const jwksChannel = open(WIMSE_CHANNELS.jwks);
export const replayChannel = open(WIMSE_CHANNELS.replay);

/**
 * Subscribes to a channel and returns the unsubscribe function; off Node, a no-op. For the
 * OpenTelemetry entry and tests.
 */
export function subscribe(name: string, listener: (message: unknown) => void): () => void {
  if (dc === undefined) return () => undefined;
  const fn = (message: unknown): void => listener(message);
  dc.subscribe(name, fn);
  return () => void dc.unsubscribe(name, fn);
}

/**
 * Wraps `verify` so its outcome is published on `wimse:verify`; a direct call when nobody listens.
 * A synchronous answer (verifier.ts `authenticate`) stays synchronous.
 */
export function observeVerify(
  verify: (request: WimseRequest) => MaybePromise<WimsePrincipal>,
): (request: WimseRequest) => MaybePromise<WimsePrincipal> {
  return (request) => {
    if (!verifyChannel.hasSubscribers) return verify(request);
    const start = performance.now();
    let pending: MaybePromise<WimsePrincipal>;
    try {
      pending = verify(request);
    } catch (e) {
      verifyChannel.publish(failed(e, request, start));
      throw e;
    }
    if (!(pending instanceof Promise)) {
      verifyChannel.publish(verified(pending, start));
      return pending;
    }
    return pending.then(
      (principal) => {
        verifyChannel.publish(verified(principal, start));
        return principal;
      },
      (e: unknown) => {
        verifyChannel.publish(failed(e, request, start));
        throw e;
      },
    );
  };
}

function verified(p: WimsePrincipal, start: number): WimseVerifyMessage {
  return { outcome: 'ok', workload: p.workload, trustDomain: p.trustDomain, method: p.method, durationMs: performance.now() - start };
}

function failed(e: unknown, request: WimseRequest, start: number): WimseVerifyMessage {
  const code: WimseErrorCode = e instanceof WimseError ? e.code : 'internal_error';
  const method = presentedMethod(request);
  return {
    outcome: 'error',
    code,
    status: e instanceof WimseError ? e.status : 500,
    ...(method === undefined ? {} : { method }),
    durationMs: performance.now() - start,
  };
}

// The proof a failed request presented, judged by which fields it sent (nothing is parsed).
function presentedMethod(request: WimseRequest): ProofMethod | undefined {
  const h = request.headers;
  if (fieldValues(h, 'signature-input').length > 0 || fieldValues(h, 'signature').length > 0) return 'http-sig';
  if (fieldValues(h, 'authorization').some((v) => /^\s*wpt\s/i.test(v)) || fieldValues(h, 'workload-proof-token').length > 0) return 'wpt';
  if (request.peerCertificates !== undefined || fieldValues(h, 'client-cert').length > 0) return 'mtls';
  return undefined;
}

/** A store's name for messages and logs: its class name. */
export function storeName(store: object): string {
  const name = (store as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === 'string' && name !== '' && name !== 'Object' ? name : 'ReplayStore';
}
