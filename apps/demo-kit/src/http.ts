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
