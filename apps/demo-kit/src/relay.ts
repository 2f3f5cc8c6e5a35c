/**
 * `GET /relay?to=<base URL>`: call `<to>/whoami` as this service and return both identities.
 * Several `to` values make a chain: `?to=B&to=C` calls `B/relay?to=C`, which calls `C/whoami`;
 * `&path=orders` makes the last hop `GET /orders` instead. Every target must be on the allow-list
 * (no open relay). The caller's proof method and its Txn-Token, when it sent one, are carried on
 * to the next hop.
 */
import type { WimsePrincipal } from '@wimse/core';
import type { DemoConfig } from './config.js';
import { problem, type Problem } from './http.js';

const MAX_HOPS = 4;
/** What the last hop of a chain may be asked for. */
const LAST_HOP = { whoami: '/whoami', orders: '/orders' } as const;
type LastHop = keyof typeof LAST_HOP;

export interface RelayResult {
  status: number;
  body: unknown;
}

/** One outbound hop: to the first target, asking it to relay to the rest. */
export interface Forward {
  (
    to: unknown,
    path: unknown,
    carry: { proof: 'wpt' | 'http-sig'; txnToken?: string },
  ): Promise<RelayResult | { status: 200; upstream: unknown }>;
  /** The problem with `to` and `path` (what the call would refuse), before any work. */
  check(to: unknown, path: unknown): Problem | undefined;
}

/** Calls the next hop of a chain with this service's own credentials (shared by /relay and the edge). */
export function createForward(config: DemoConfig): Forward {
  const allowed = new Set(config.relayTargets.map((t) => originOf(t)).filter((o): o is string => o !== undefined));
  // This service's own credentials, shared with its response signer.
  const wimseFetch = config.client;
  const targetsOf = (to: unknown) => (Array.isArray(to) ? to : to === undefined ? [] : [to]).map(String);
  const lastOf = (path: unknown) => (path === undefined ? 'whoami' : String(path));
  const checkCall = (to: unknown, path: unknown): Problem | undefined =>
    check(targetsOf(to), allowed) ??
    (Object.hasOwn(LAST_HOP, lastOf(path))
      ? undefined
      : problem(400, 'relay_path_invalid', `path must be one of ${Object.keys(LAST_HOP).join(', ')}`));
  const forward = async (to: unknown, path: unknown, carry: { proof: 'wpt' | 'http-sig'; txnToken?: string }) => {
    const bad = checkCall(to, path);
    if (bad !== undefined) return bad;
    const targets = targetsOf(to);
    const last = lastOf(path);
    const [next, ...rest] = targets.map((t) => originOf(t)!);
    const url =
      rest.length === 0
        ? `${next}${LAST_HOP[last as LastHop]}`
        : `${next}/relay?${rest.map((r) => `to=${encodeURIComponent(r)}`).join('&')}${last === 'whoami' ? '' : `&path=${last}`}`;
    let res: Response;
    try {
      res = await wimseFetch(url, {
        signal: AbortSignal.timeout(10_000),
        wimse: { proof: carry.proof, ...(carry.txnToken === undefined ? {} : { txnToken: carry.txnToken }) },
      });
    } catch (e) {
      return problem(502, 'relay_upstream_unreachable', `Could not call ${next}: ${e instanceof Error ? e.message : String(e)}`);
    }
    const upstream = (await res.json().catch(() => null)) as { code?: unknown } | null;
    if (!res.ok)
      return problem(
        502,
        'relay_upstream_failed',
        `${next} answered ${res.status}${typeof upstream?.code === 'string' ? ` ${upstream.code}` : ''}`,
      );
    return { status: 200 as const, upstream };
  };
  return Object.assign(forward, { check: checkCall });
}

export function createRelay(config: DemoConfig): (to: unknown, caller: WimsePrincipal, path?: unknown) => Promise<RelayResult> {
  const self = `spiffe://${config.trustDomain}/${config.workload}`;
  const forward = createForward(config);
  return async (to, caller, path) => {
    const txnToken = caller.context.txnToken;
    const result = await forward(to, path, {
      proof: caller.method === 'http-sig' ? 'http-sig' : 'wpt',
      ...(txnToken === undefined ? {} : { txnToken }),
    });
    if (!('upstream' in result)) return result;
    return { status: 200, body: { service: self, caller: caller.workload, method: caller.method, upstream: result.upstream } };
  };
}

function check(targets: string[], allowed: ReadonlySet<string>): Problem | undefined {
  if (targets.length === 0) return problem(400, 'relay_target_missing', 'Give the service to call: /relay?to=<base URL>');
  if (targets.length > MAX_HOPS) return problem(400, 'relay_too_many_hops', `At most ${MAX_HOPS} hops`);
  for (const t of targets) {
    const origin = originOf(t);
    if (origin === undefined) return problem(400, 'relay_target_invalid', `${JSON.stringify(t.slice(0, 100))} is not a base URL`);
    if (!allowed.has(origin)) return problem(403, 'relay_target_not_allowed', `${origin} is not in WIMSE_RELAY_TARGETS`);
  }
  return undefined;
}

// A base URL is an http(s) origin with nothing after it but an optional '/'.
function originOf(value: string): string | undefined {
  try {
    const url = new URL(value);
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.pathname !== '/' || url.search || url.hash || url.username)
      return undefined;
    return url.origin;
  } catch {
    return undefined;
  }
}
