/**
 * The edge of the demo's call chain (txn-tokens-10 §2, Figure 1): a user's request enters with an
 * OAuth access token (`Authorization: Bearer`, RFC 6750 §2.1); the edge service exchanges it at the
 * trust domain's Txn-Token service for a Txn-Token scoped to this transaction (`orders:read`, less
 * than the user's token may allow: §13.6), and the Txn-Token — never the access token (§13.4) —
 * travels with every call down the chain, each authenticated by the calling workload's own WIT.
 *
 * `GET /edge/orders?to=B&to=C` (public: the user is no workload) calls `B/relay?to=C&path=orders`,
 * so the last service answers `GET /orders`, which needs `orders:read` in the Txn-Token.
 */
import { TOKEN_TYPES, TokenExchangeError, createTxnTokenClient, type TxnTokenClient } from '@wimse/core';
import type { DemoConfig } from './config.js';
import { problem } from './http.js';
import { createForward, type RelayResult } from './relay.js';

/** The scope the edge asks for: what this transaction needs, no more. */
export const EDGE_SCOPE = 'orders:read';

// RFC 6750 §2.1: b64token.
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;
const MAX_TOKEN = 8192;

export function createEdge(config: DemoConfig): (authorization: unknown, to: unknown) => Promise<RelayResult> {
  const self = `spiffe://${config.trustDomain}/${config.workload}`;
  const forward = createForward(config);
  let tts: TxnTokenClient | undefined;
  const client = () =>
    (tts ??= createTxnTokenClient({ fetch: config.client, tts: `${config.tts}/token`, trustDomain: config.trustDomain }));

  return async (authorization, to) => {
    const match = typeof authorization === 'string' && authorization.length <= MAX_TOKEN ? BEARER.exec(authorization) : null;
    if (match === null) return problem(401, 'access_token_missing', "Send the user's access token: Authorization: Bearer <token>");
    const bad = forward.check(to, 'orders');
    if (bad !== undefined) return bad;
    let txnToken: string;
    try {
      ({ txnToken } = await client().fetchTxnToken({
        scope: EDGE_SCOPE,
        subjectToken: match[1]!,
        subjectTokenType: TOKEN_TYPES.access_token,
      }));
    } catch (e) {
      // The TTS judged the access token (RFC 8693 §2.2.2 invalid_request): the user's problem.
      if (e instanceof TokenExchangeError && e.error === 'invalid_request')
        return problem(401, 'access_token_invalid', 'The Txn-Token service refused the access token');
      if (e instanceof TokenExchangeError && e.error === 'invalid_scope')
        return problem(403, 'insufficient_scope', `The access token does not grant ${EDGE_SCOPE}`);
      return problem(502, 'txn_token_unavailable', `No Txn-Token from ${config.tts}: ${e instanceof Error ? e.message : String(e)}`);
    }
    const result = await forward(to, 'orders', { proof: 'wpt', txnToken });
    if (!('upstream' in result)) return result;
    return { status: 200, body: { service: self, caller: 'user', method: 'bearer', upstream: result.upstream } };
  };
}
