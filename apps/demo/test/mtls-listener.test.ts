/**
 * The mTLS listener the four demo services share (@wimse/demo-kit `listenMtls`), in process: a
 * client certificate authenticates as `mtls`, and a CA rotation written to the service's SPIFFE
 * helper folder reaches both the TLS server and the verifier's trust bundle while it runs. In both
 * set-ups: the default, where OpenSSL refuses a certificate outside the bundle at the handshake, and
 * WIMSE_MTLS_REJECT_UNAUTHORIZED=false, where the verifier refuses it with a problem code.
 */
import type { RequestListener } from 'node:http';
import { join } from 'node:path';
import { connectionOf, createWimseHandler } from '@wimse/core/adapter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFromEnv } from '../../demo-kit/src/config.js';
import { listenMtls, type MtlsListener } from '../../demo-kit/src/mtls.js';
import { openMtlsClient, type MtlsClient } from '../src/mtls-client.js';
import { createCa, credentialsRoot, issueCertificate, writeSpiffeFiles, type DemoCa } from '../src/pki.js';
import { freePorts } from '../src/stack.js';

const SERVER = 'spiffe://example.org/svc';

it('without WIMSE_MTLS_DIR there is no listener', async () => {
  expect(await listenMtls(() => {}, configFromEnv({}, { workload: 'x', port: 1 }))).toBeUndefined();
});

describe.each([
  { mode: 'handshake-verified (default)', env: {}, refused: 'TLS alert' as unknown },
  {
    mode: 'WIMSE_MTLS_REJECT_UNAUTHORIZED=false',
    env: { WIMSE_MTLS_REJECT_UNAUTHORIZED: 'false' },
    refused: [400, 'mtls_untrusted'] as unknown,
  },
])('$mode', ({ env, refused }) => {
  let root: Awaited<ReturnType<typeof credentialsRoot>>;
  let ca: DemoCa;
  let listener: MtlsListener;
  let base: string;
  const clients: MtlsClient[] = [];

  beforeAll(async () => {
    root = await credentialsRoot();
    ca = await createCa('example.org');
    await writeSpiffeFiles(join(root.dir, 'svc'), await issueCertificate(ca, SERVER), ca.pem);
    const { express: port } = await freePorts();
    const config = configFromEnv(
      { WIMSE_MTLS_DIR: join(root.dir, 'svc'), WIMSE_MTLS_PORT: String(port), ...env },
      { workload: 'svc', port: 1 },
    );
    // What every adapter does: the request view with the TLS peer chain, then the core decides.
    const handler = createWimseHandler(config.wimse);
    const app: RequestListener = (req, res) => {
      // handle() answers synchronously when it can: Promise.resolve takes both.
      void Promise.resolve(
        handler.handle({ method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headersDistinct, ...connectionOf(req.socket) }),
      ).then((outcome) => {
        res.statusCode = outcome.ok ? 200 : outcome.response.status;
        res.end(
          JSON.stringify(
            outcome.ok ? { workload: outcome.principal?.workload, method: outcome.principal?.method } : { code: outcome.error.code },
          ),
        );
      });
    };
    listener = (await listenMtls(app, config, () => {}))!;
    base = config.mtls!.audience;
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await listener?.close();
    await root?.remove();
  });

  async function client(name: string, issuer: DemoCa, bundle: string): Promise<MtlsClient> {
    await writeSpiffeFiles(join(root.dir, name), await issueCertificate(issuer, `spiffe://example.org/${name}`), bundle);
    const c = await openMtlsClient(join(root.dir, name));
    clients.push(c);
    return c;
  }

  async function whoami(c: MtlsClient): Promise<unknown> {
    try {
      const { status, body } = await c.get(`${base}/whoami`, SERVER);
      return [status, body?.workload ?? body?.code];
    } catch (e) {
      if (/^(ERR_SSL_|ECONNRESET$)/.test(String((e as { code?: unknown }).code))) return 'TLS alert';
      throw e;
    }
  }

  // Resolves once the service has swapped in a set with this bundle (a writer may be seen mid-way).
  function serviceReload(bundle: string): Promise<void> {
    return new Promise((resolve) => {
      if (listener.files.current.bundle === bundle) return resolve();
      const stop = listener.files.onReload((s) => {
        if (s.bundle !== bundle) return;
        stop();
        resolve();
      });
    });
  }

  it('authenticates a client certificate of the trust domain as mtls', async () => {
    const first = await client('first', ca, ca.pem);
    const { status, body } = await first.get(`${base}/whoami`, SERVER);
    expect([status, body]).toEqual([200, { workload: 'spiffe://example.org/first', method: 'mtls' }]);
  });

  it('follows a CA rotation on disk: the new CA is trusted once in the bundle, the old one refused once retired', async () => {
    const next = await createCa('example.org');
    const both = ca.pem + next.pem;
    const old = await client('old', ca, both);
    const fresh = await client('fresh', next, both);
    expect(await whoami(fresh)).toEqual(refused);

    // Transition: the service gets a certificate of the new CA and a bundle with both.
    let reloaded = serviceReload(both);
    await writeSpiffeFiles(join(root.dir, 'svc'), await issueCertificate(next, SERVER), both);
    await reloaded;
    expect(await whoami(fresh)).toEqual([200, 'spiffe://example.org/fresh']);
    expect(await whoami(old)).toEqual([200, 'spiffe://example.org/old']);

    // The old CA leaves the bundle.
    reloaded = serviceReload(next.pem);
    await writeSpiffeFiles(join(root.dir, 'svc'), await issueCertificate(next, SERVER), next.pem);
    await reloaded;
    expect(await whoami(old)).toEqual(refused);
    expect(await whoami(fresh)).toEqual([200, 'spiffe://example.org/fresh']);
  });
});
