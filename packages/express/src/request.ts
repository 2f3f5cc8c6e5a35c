/** Types only: `req.wimse` on every Express request. */
import type { WimsePrincipal } from '@wimse/core';

declare global {
  // Express types are augmented through this namespace.
  namespace Express {
    interface Request {
      /** The authenticated workload, set by `wimse()`; `undefined` on public routes and in optional mode without credentials. */
      wimse?: WimsePrincipal;
    }
  }
}
