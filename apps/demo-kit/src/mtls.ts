/**
 * The mTLS listener every demo service shares (mutual-tls-02 §3.2): HTTPS on 127.0.0.1 that asks
 * for a client certificate, serving the same app as the plain HTTP port. Certificate, key and
 * bundle come from a SPIFFE helper folder and are hot-reloaded: new handshakes get the new
 * credentials, open connections keep theirs.
 */
import type { RequestListener } from 'node:http';
import { createServer, type Server } from 'node:https';
import { keepServerCredentials, serverTlsOptions, watchCredentialFiles, type CredentialFiles } from '@wimse/core/node';
import type { DemoConfig } from './config.js';

/** A running mTLS listener. */
export interface MtlsListener {
  readonly server: Server;
  /** The watched credential folder. */
  readonly files: CredentialFiles;
  /** Stops watching the files and closes the server and its connections. */
  close(): Promise<void>;
}

/**
 * Starts the HTTPS listener when the config has `mtls` (WIMSE_MTLS_DIR); resolves `undefined` otherwise.
 *
 * By default (`rejectUnauthorized: true`) OpenSSL validates every client certificate path against
 * the bundle at the handshake (RFC 5280, CA constraints included) and refuses an unknown CA, an
 * expired or constraint-breaking chain, or no certificate, with a TLS alert; the WIMSE verifier then
 * checks what passed against the bundle of the certificate's own trust domain. With
 * `WIMSE_MTLS_REJECT_UNAUTHORIZED=false` every handshake completes and the verifier answers each
 * refusal with a 4xx problem and a stable code (it applies the same RFC 5280 constraints).
 *
 * @example
 * const tls = await listenMtls(app, config) // Express app, `fastify.routing`, `getRequestListener(app.fetch)`, …
 */
export async function listenMtls(
  listener: RequestListener,
  config: DemoConfig,
  log: (line: string) => void = console.log,
): Promise<MtlsListener | undefined> {
  const mtls = config.mtls;
  if (mtls === undefined) return undefined;
  const name = `[${config.workload}]`;
  const files = await watchCredentialFiles({
    dir: mtls.dir,
    onError: (e) => log(`${name} credential reload failed, keeping the current ones: ${e.message}`),
  });
  mtls.bundle.pem = files.current.bundle;
  const server = createServer(
    { ...serverTlsOptions(files.current), requestCert: true, rejectUnauthorized: mtls.rejectUnauthorized },
    listener,
  );
  const stopFollowing = keepServerCredentials(server, files);
  const stopBundle = files.onReload((s) => {
    mtls.bundle.pem = s.bundle;
    log(`${name} mTLS credentials reloaded (version ${s.version})`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(mtls.port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  log(`${name} ${mtls.audience} (mTLS, credentials from ${mtls.dir})`);
  return {
    server,
    files,
    close() {
      stopFollowing();
      stopBundle();
      files.close();
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
