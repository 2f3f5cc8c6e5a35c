/**
 * The operator's log: configuration and upstream failures that no response tells anyone about
 * (a JWKS that answers 404 or HTML, a replay store that is down, an audience that never matches).
 * Each kind is logged once, then at most once a minute with the count of lines held back, so a
 * flood of bad requests or a long outage cannot fill the log. No line ever holds a token: fields
 * are identifiers, codes, URLs and counts, and any string that looks like a compact JWS is redacted.
 */
import type { WimseError } from './errors.js';
import type { JwksEvent } from './remote-jwks.js';
import type { ReplayKind } from './replay.js';

/** A field value in a log line. */
export type WimseLogValue = string | number | boolean | readonly string[] | undefined;

/** The structured fields of a log line; `event` names what happened, e.g. `wimse.jwks.failed`. */
export type WimseLogFields = Readonly<Record<string, WimseLogValue>> & { readonly event: string };

/**
 * Where operator-facing lines go. Fields first, message second, as pino and bunyan take them
 * (Fastify's `app.log` fits as it is); `console` fits too. `info` and `debug` are optional.
 */
export interface WimseLogger {
  error(fields: WimseLogFields, message: string): void;
  warn(fields: WimseLogFields, message: string): void;
  info?(fields: WimseLogFields, message: string): void;
  debug?(fields: WimseLogFields, message: string): void;
}

type Level = 'error' | 'warn' | 'info' | 'debug';

/** What the verifier and the adapters report. Internal. */
export interface OperatorLog {
  /** A remote JWKS fetch outcome (remote-jwks.ts). */
  jwks(event: JwksEvent): void;
  /** A replay store that refused or failed. */
  replay(failure: {
    store: string;
    code: 'replay_unavailable' | 'replay_quota_exceeded';
    kind: ReplayKind;
    workload: string;
    error: string;
  }): void;
  /** A refusal whose expected and received values help the operator (audience, WIT issuer). */
  mismatch(error: WimseError): void;
  /** A bug answered 500 `internal_error`. */
  internal(error: unknown, request: { method: string; path: string } | undefined): void;
}

/** Lines of one kind after the first: at most one per this many ms. */
export const LOG_INTERVAL_MS = 60_000;
const MAX_STRING = 256;
const MAX_VALUES = 8;

// Compact JWS (RFC 7515 §7.1), whole or clipped: an upstream message or a claim may quote one. Its
// segments are base64url of JSON objects, so they start `ey` (`{"`, `{ `) or `ew` (`{` + line break or
// tab); a long such run and the segments after it go. Host names such as `old-name.example.org` stay.
const TOKEN_RE = /(?<![A-Za-z0-9-])e[wy][A-Za-z0-9_-]{10,}(?:\.[A-Za-z0-9_-]*){0,2}/g;

/** Removes anything token-shaped from `text` and bounds its length. */
export function redact(text: string): string {
  const clean = text.replace(TOKEN_RE, '[token]');
  return clean.length > MAX_STRING ? `${clean.slice(0, MAX_STRING)}…` : clean;
}

// The default: errors, warnings and recoveries to the console (debug is dropped), one line each, fields as JSON.
const CONSOLE: WimseLogger = {
  error: (fields, message) => console.error(`@wimse: ${message} ${JSON.stringify(fields)}`),
  warn: (fields, message) => console.warn(`@wimse: ${message} ${JSON.stringify(fields)}`),
  info: (fields, message) => console.info(`@wimse: ${message} ${JSON.stringify(fields)}`),
};

/**
 * The operator log for a `logger` option: `undefined` → the console, `false` → nothing.
 * Throws `TypeError` when `logger` lacks `error` or `warn`.
 */
export function createOperatorLog(logger: WimseLogger | false | undefined, now: () => number): OperatorLog | undefined {
  if (logger === false) return undefined;
  if (
    logger !== undefined &&
    (typeof logger !== 'object' || logger === null || typeof logger.error !== 'function' || typeof logger.warn !== 'function')
  ) {
    throw new TypeError('logger must have error(fields, message) and warn(fields, message) methods, or be false');
  }
  const sink = logger ?? CONSOLE;
  const held = new Map<string, { next: number; suppressed: number }>();
  const failingJwks = new Set<string>();

  function write(level: Level, fields: WimseLogFields, message: string): void {
    try {
      const method = sink[level];
      // Absent facts are left out, not logged as undefined.
      const present = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as WimseLogFields;
      if (typeof method === 'function') method.call(sink, present, message);
    } catch {
      // A failing logger must not change the answer to a request.
    }
  }

  // The first line of a kind goes out; then one per interval, telling how many were held back.
  function limited(key: string, level: Level, fields: WimseLogFields, message: string): void {
    const t = now();
    const state = held.get(key);
    if (state !== undefined && t < state.next) {
      state.suppressed++;
      return;
    }
    const suppressed = state?.suppressed ?? 0;
    // Keys are trust domains, error codes and store names: a bounded set.
    held.set(key, { next: t + LOG_INTERVAL_MS, suppressed: 0 });
    write(
      level,
      suppressed === 0 ? fields : { ...fields, suppressed },
      suppressed === 0 ? message : `${message} (${suppressed} similar lines held back)`,
    );
  }

  return {
    jwks(event) {
      const url = safeUrl(event.url);
      if (event.type === 'jwks_refreshed') {
        // Recovery is worth a line only after a failure was logged.
        if (failingJwks.delete(event.trustDomain)) {
          held.delete(`jwks:${event.trustDomain}`);
          write(
            'info',
            { event: 'wimse.jwks.recovered', trustDomain: event.trustDomain, url, keys: event.keys },
            `JWKS of ${event.trustDomain} fetched again from ${url}`,
          );
        }
        return;
      }
      failingJwks.add(event.trustDomain);
      const consequence = event.servingStale
        ? 'the last good key set still serves'
        : `WITs of ${event.trustDomain} are refused (503 trust_unavailable) until it can`;
      limited(
        `jwks:${event.trustDomain}`,
        event.servingStale ? 'warn' : 'error',
        {
          event: 'wimse.jwks.failed',
          trustDomain: event.trustDomain,
          url,
          reason: event.reason,
          status: event.status,
          contentType: event.contentType === undefined ? undefined : redact(event.contentType),
          error: redact(withSafeUrl(event.message, event.url)),
          failures: event.failures,
          retryInMs: event.retryInMs,
          servingStale: event.servingStale,
        },
        `JWKS of ${event.trustDomain} could not be fetched from ${url}: ${redact(withSafeUrl(event.message, event.url))}; ${consequence}`,
      );
    },
    replay(f) {
      const fields: WimseLogFields = {
        event: 'wimse.replay.failed',
        store: f.store,
        code: f.code,
        kind: f.kind,
        workload: redact(f.workload),
        error: redact(f.error),
      };
      if (f.code === 'replay_quota_exceeded') {
        limited(
          `replay:${f.code}`,
          'warn',
          fields,
          `${f.store} refused a ${f.kind} proof of ${fields.workload as string}: too many live proofs from this workload (429)`,
        );
      } else {
        limited(
          `replay:${f.code}`,
          'error',
          fields,
          `${f.store} failed, proofs are refused (503 replay_unavailable): ${fields.error as string}`,
        );
      }
    },
    mismatch(error) {
      const m = error.mismatch;
      if (m === undefined) return;
      const expected = m.expected.slice(0, MAX_VALUES).map(redact);
      const received = m.received.slice(0, MAX_VALUES).map(redact);
      limited(
        `mismatch:${error.code}`,
        'warn',
        { event: 'wimse.mismatch', code: error.code, expected, received },
        `${error.code}: expected ${expected.join(' or ')}, received ${received.length === 0 ? 'nothing' : received.join(', ')}; check the configuration if this repeats`,
      );
    },
    internal(error, request) {
      const text = error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
      write(
        'error',
        {
          event: 'wimse.internal_error',
          method: request?.method,
          path: request === undefined ? undefined : redact(request.path.split('?')[0]!),
          error: text.replace(TOKEN_RE, '[token]'),
        },
        `internal error${request === undefined ? '' : ` on ${request.method} ${redact(request.path.split('?')[0]!)}`}, answered 500 internal_error`,
      );
    },
  };
}

/** `text` with every occurrence of `href` replaced by its {@link safeUrl} (an error message may quote the URL). */
export function withSafeUrl(text: string, href: string): string {
  return text.split(href).join(safeUrl(href));
}

/** A JWKS URL for logs and messages: origin and path only (it may carry credentials or a signed query). */
export function safeUrl(href: string): string {
  try {
    const u = new URL(href);
    return redact(`${u.origin}${u.pathname}${u.search === '' ? '' : '?…'}`);
  } catch {
    return redact(href);
  }
}
