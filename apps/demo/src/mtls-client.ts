/**
 * The demo's mTLS caller: a workload's certificate folder (SPIFFE helper layout), watched for
 * rotation, and one `https.Agent` per service that presents the certificate and accepts only that
 * service's Workload Identifier (mutual-tls-02 §3.2.1: reached by IP address, the client must know
 * the server's identifier). Agents follow rotation via core's `createRotatingAgent`.
 */
import { request } from 'node:https';
import type { TLSSocket } from 'node:tls';
import {
  createRotatingAgent,
  watchCredentialFiles,
  type CredentialFiles,
  type CredentialSnapshot,
  type RotatingAgent,
} from '@wimse/core/node';

export interface MtlsResponse {
  status: number;
  body: Record<string, unknown> | null;
  /** Serial number of the certificate the server presented, lower-case hex. */
  serverSerial: string;
}

export interface MtlsClient {
  readonly files: CredentialFiles;
  /** GET `url` from the service whose Workload Identifier is `serverWorkload` (with extra `headers`, e.g. a WPT). */
  get(url: string, serverWorkload: string, headers?: Record<string, string>): Promise<MtlsResponse>;
  /** Resolves at the next credential swap; rejects after `ms`. */
  nextReload(ms?: number): Promise<CredentialSnapshot>;
  close(): void;
}

export async function openMtlsClient(dir: string): Promise<MtlsClient> {
  const files = await watchCredentialFiles({ dir });
  const agents = new Map<string, RotatingAgent>();
  // No keep-alive: every call is a new handshake, so a rotation on either side shows at once.
  const agentFor = (serverWorkload: string) => {
    let a = agents.get(serverWorkload);
    if (a === undefined) agents.set(serverWorkload, (a = createRotatingAgent(files, { serverWorkload, agent: { keepAlive: false } })));
    return a.agent;
  };
  return {
    files,
    get(url, serverWorkload, headers = {}) {
      return new Promise((resolve, reject) => {
        let serverSerial = '';
        const req = request(url, { agent: agentFor(serverWorkload), headers, signal: AbortSignal.timeout(10_000) }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            let body: Record<string, unknown> | null = null;
            try {
              body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
            } catch {
              // not JSON: status only
            }
            resolve({ status: res.statusCode ?? 0, body, serverSerial });
          });
        });
        // Read at the handshake: by the time the response is read the server may have closed the socket.
        req.on('socket', (socket) => {
          socket.once('secureConnect', () => {
            serverSerial = String((socket as TLSSocket).getPeerCertificate().serialNumber ?? '').toLowerCase();
          });
        });
        req.on('error', reject);
        req.end();
      });
    },
    nextReload(ms = 10_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          stop();
          reject(new Error(`no credential reload within ${ms} ms`));
        }, ms);
        const stop = files.onReload((s) => {
          clearTimeout(timer);
          stop();
          resolve(s);
        });
      });
    },
    close() {
      for (const a of agents.values()) a.close();
      files.close();
    },
  };
}
