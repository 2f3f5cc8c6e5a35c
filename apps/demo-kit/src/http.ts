/** Response bodies every demo shares: `/whoami` and RFC 9457 problems for the demo's own errors. */
import type { WimsePrincipal } from '@wimse/core';
import type { DemoConfig } from './config.js';

export interface Problem {
  status: number;
  body: { type: string; title: string; status: number; detail: string; code: string };
}

/** A problem body shaped like the core's, with a stable `code`. */
export function problem(status: number, code: string, detail: string): Problem {
  return { status, body: { type: `https://wimse-js.dev/problems/demo/${code}`, title: code.replace(/_/g, ' '), status, detail, code } };
}

/** What `/whoami` answers: the caller as authenticated, and who answered. */
export function whoami(caller: WimsePrincipal, config: DemoConfig) {
  return {
    workload: caller.workload,
    trustDomain: caller.trustDomain,
    method: caller.method,
    txnToken: caller.context.txnToken !== undefined,
    // The client certificate that authenticated (or accompanied) the call, e.g. to see a rotation.
    ...(caller.certificate === undefined ? {} : { certificateSerial: caller.certificate.serialNumber }),
    service: `spiffe://${config.trustDomain}/${config.workload}`,
  };
}

/**
 * What `GET /orders` (scope `orders:read`) and `POST /orders` (scope `orders:write`) answer: the
 * caller as `/whoami` shows it, and the transaction its verified Txn-Token describes.
 */
export function orders(caller: WimsePrincipal, config: DemoConfig, action: 'read' | 'write') {
  const t = caller.transaction;
  return {
    ...whoami(caller, config),
    transaction: t === undefined ? null : { txn: t.txn, sub: t.sub, scope: t.scope, reqWl: t.reqWl },
    ...(action === 'read'
      ? { orders: [{ id: 7, item: 'demo widget', for: t?.sub ?? null }] }
      : { created: { id: 8, for: t?.sub ?? null } }),
  };
}
