/**
 * What every target serves (same routes, same JSON), so one table drives them all:
 * - GET  /health          public
 * - GET  /whoami          protected → {@link summary}
 * - GET  /hooked/whoami   protected; errors reshaped by the error hook
 * - POST /echo            protected; parses the body with the framework's own parsers after authentication
 *                         and echoes it as `body`: JSON parsed, `text/plain` and `application/octet-stream` as UTF-8 text
 * - GET  /admin           protected, only {@link ADMIN} (403 otherwise)
 * - GET  /optional        optional mode: no credentials → `workload: null`
 * - GET  /stream?kib=N    protected; streams N KiB of `x` as text/plain with the framework's own stream type
 * - GET  /trade           protected, Txn-Token scope {@link TRADE_SCOPE} required (403 insufficient_scope otherwise)
 * - GET  /trade/admin     protected, only {@link ADMIN}, and scope {@link TRADE_SCOPE}
 * Each adapter says these in its own form of the one route vocabulary (public / optional / allow / scope).
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { Server as TlsServer } from 'node:tls';
import type { WimseAdapterOptions } from '@wimse/core';
export { ADMIN, HEALTH, TRADE_SCOPE, summary } from './routes.js';

export interface Running {
  url: URL;
  close(): Promise<void>;
}

export interface Target {
  name: string;
  /** With `tls`, an HTTPS server (the mTLS suite passes `requestCert` and the CAs). */
  start(options: WimseAdapterOptions, tls?: TlsOptions): Promise<Running>;
}

/** HTTPS server settings for the mTLS suite (PEM text). */
export interface TlsOptions {
  cert: string;
  key: string;
  ca: string[];
  requestCert: boolean;
  rejectUnauthorized: boolean;
}

/** The body of `/stream?kib=N`: N chunks of 1 KiB (at most 1024). */
export function* kibChunks(kib: unknown): Generator<Buffer> {
  const n = Math.min(Number(kib) || 0, 1024);
  for (let i = 0; i < n; i++) yield Buffer.alloc(1024, 'x');
}

/** Listens on 127.0.0.1 with an ephemeral port. */
export function listen(server: Server | HttpsServer): Promise<Running> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      const scheme = server instanceof TlsServer ? 'https' : 'http';
      resolve({ url: new URL(`${scheme}://127.0.0.1:${port}`), close: () => closeServer(server) });
    });
  });
}

export function closeServer(server: Server | HttpsServer): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** The echoed body: parsed JSON as is, bytes as UTF-8 text. */
export function echoed(body: unknown): unknown {
  return body instanceof Uint8Array ? Buffer.from(body).toString('utf8') : body;
}
