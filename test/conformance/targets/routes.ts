/**
 * The route contract's values, free of Node imports so the Web-runtime bundles (runtimes/) can use
 * them too. See contract.ts for the routes.
 */
import type { WimsePrincipal } from '@wimse/core';
export { ADMIN } from '../fixtures.js';

export function summary(p: WimsePrincipal | undefined) {
  return {
    workload: p?.workload ?? null,
    trustDomain: p?.trustDomain ?? null,
    method: p?.method ?? null,
    txnToken: p?.context.txnToken ?? null,
    transaction: p?.transaction ?? null,
  };
}

/** The scope `/trade` and `/trade/admin` require. */
export const TRADE_SCOPE = 'trade.stocks';

export const HEALTH = { status: 'ok' };
