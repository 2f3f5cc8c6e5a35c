/**
 * Node only. Puts watched credentials to work on both sides of mTLS, swapping them without
 * dropping in-flight requests: a server gets a new secure context (new handshakes use it, open
 * connections keep theirs), a client a fresh `https.Agent` (the old one is closed once its
 * requests have finished).
 */
import { Agent, type AgentOptions } from 'node:https';
import { isIP } from 'node:net';
import { X509Certificate } from 'node:crypto';
import { checkServerIdentity, type PeerCertificate, type SecureContextOptions, type Server } from 'node:tls';
import { isWimseError } from '../errors.js';
import { parseWorkloadIdentifier, type IdentifierOptions } from '../identifier.js';
import type { CredentialFiles, CredentialSnapshot } from './credential-files.js';
import { parseBundle } from './trust-bundles.js';
import { checkWorkloadCertificate, workloadIdentifier } from './workload-certificate.js';

/**
 * Secure-context options for an mTLS server: its certificate chain and key, and the bundle as
 * the CAs client certificates must chain to. Pass `ca` to add federated trust domains' bundles.
 *
 * Add `requestCert: true` and `rejectUnauthorized: true` on the server (the recommended set-up):
 * OpenSSL then validates every client certificate path (RFC 5280, constraints included) and refuses
 * unknown CAs, expired or constraint-breaking chains and missing certificates with a TLS alert.
 * With `rejectUnauthorized: false`, every handshake completes and the verifier answers each of
 * those with a 4xx problem code (and routes may stay public). Either way the verifier re-checks
 * every certificate, constraints included: OpenSSL validates against the union of all bundles,
 * the verifier against the bundle of the certificate's own trust domain.
 */
export function serverTlsOptions(s: CredentialSnapshot, extra: SecureContextOptions = {}): SecureContextOptions {
  return { ...extra, cert: s.cert, key: s.key, ca: extra.ca === undefined ? s.bundle : ([s.bundle, ...[extra.ca].flat()] as string[]) };
}

/**
 * Keeps a TLS/HTTPS server on the newest credentials (`server.setSecureContext`). Returns a stop function.
 *
 * @example
 * const server = https.createServer({ ...serverTlsOptions(files.current), requestCert: true, rejectUnauthorized: true }, app)
 * keepServerCredentials(server, files)
 */
export function keepServerCredentials(server: Server, files: CredentialFiles, extra: SecureContextOptions = {}): () => void {
  return files.onReload((s) => server.setSecureContext(serverTlsOptions(s, extra)));
}

export interface RotatingAgentOptions {
  /**
   * Further `https.Agent` options (keepAlive, maxSockets, …). The server's certificate path is
   * always validated by OpenSSL against the bundle (`rejectUnauthorized` cannot be turned off).
   */
  agent?: Omit<AgentOptions, 'cert' | 'key' | 'ca' | 'checkServerIdentity' | 'rejectUnauthorized'>;
  /**
   * mutual-tls-02 §3.2.1: the server's expected Workload Identifier (exact match), or a predicate.
   * Required to reach a server by IP address; by DNS name, the host name is checked as well.
   */
  serverWorkload?: string | ((workload: string) => boolean);
  /**
   * mutual-tls-02 §3.2.1: the trust domain the server's identifier must be in (checked whatever
   * `serverWorkload` says). Default: the trust domain of a `serverWorkload` string, else this
   * workload's own (its certificate's URI SAN). Set it to call a server of a federated trust domain.
   */
  serverTrustDomain?: string;
  /** Identifier rules for the server's URI SAN. */
  identifier?: IdentifierOptions;
}

/** An `https.Agent` that follows credential rotation. */
export interface RotatingAgent {
  /** The agent to use for new requests. */
  readonly agent: Agent;
  /** Closes the current agent and stops following rotation. */
  close(): void;
}

/**
 * An mTLS client agent on the watched credentials; a rotation builds a new agent, and the previous
 * one is destroyed once its in-flight requests are done.
 *
 * @example
 * const client = createRotatingAgent(files, { serverWorkload: 'spiffe://example.org/orders' })
 * https.get('https://10.0.0.7/', { agent: client.agent })
 */
export function createRotatingAgent(files: CredentialFiles, options: RotatingAgentOptions = {}): RotatingAgent {
  const build = (s: CredentialSnapshot) =>
    new Agent({
      keepAlive: true,
      ...options.agent,
      cert: s.cert,
      key: s.key,
      ca: s.bundle,
      // checkServerIdentity below relies on it: OpenSSL validated the path against this bundle.
      rejectUnauthorized: true,
      checkServerIdentity: serverIdentityCheck(s, options),
    });
  let agent = build(files.current);
  const stop = files.onReload((s) => {
    const old = agent;
    agent = build(s);
    retire(old);
  });
  return {
    get agent() {
      return agent;
    },
    close() {
      stop();
      agent.destroy();
    },
  };
}

// Idle keep-alive sockets go now; busy ones finish their request first.
function retire(agent: Agent): void {
  const busy = () =>
    Object.values(agent.sockets).some((list) => (list?.length ?? 0) > 0) ||
    Object.values(agent.requests).some((list) => (list?.length ?? 0) > 0);
  const finish = () => {
    if (!busy()) {
      agent.off('free', finish);
      agent.destroy();
    }
  };
  agent.on('free', finish);
  queueMicrotask(finish);
}

function serverIdentityCheck(s: CredentialSnapshot, o: RotatingAgentOptions): (host: string, cert: PeerCertificate) => Error | undefined {
  const expected = o.serverWorkload;
  const matches = expected === undefined ? () => true : typeof expected === 'string' ? (w: string) => w === expected : expected;
  const trustDomain = expectedTrustDomain(s, o);
  const anchors = parseBundle('bundle', s.bundle);
  const policy = { bundleFor: () => anchors, identifier: o.identifier ?? {}, clockTolerance: 0, now: Date.now, role: 'server' as const };
  return (host, cert) => {
    // §3.2.1: by DNS name, RFC 9525 host name validation still applies; the identifier is checked on top.
    // By IP address the expected workload stands in for it; without one, the IP SAN must match.
    if (isIP(host) === 0 || expected === undefined) {
      const error = checkServerIdentity(host, cert);
      if (error !== undefined) return error;
    }
    try {
      // The whole identifier decides (§3.2.1: its host part is a trust domain, not a host name).
      // Synchronous (a TLS callback): the path constraints are OpenSSL's, with `ca` = this very bundle.
      const { id } = checkWorkloadCertificate(chainOf(cert), policy);
      // §3.2.1: TLS clients MUST validate the trust domain portion, even with no workload configured.
      if (id.trustDomain !== trustDomain)
        return new Error(`server workload ${id.value} is not in the expected trust domain ${trustDomain}`);
      return matches(id.value) ? undefined : new Error(`server workload ${id.value} is not the expected one`);
    } catch (e) {
      return new Error(`server certificate is not an acceptable workload certificate (${isWimseError(e) ? e.code : String(e)})`);
    }
  };
}

// Which trust domain a server must belong to: configured, implied by the expected workload, or our own.
function expectedTrustDomain(s: CredentialSnapshot, o: RotatingAgentOptions): string {
  if (o.serverTrustDomain !== undefined) {
    if (typeof o.serverTrustDomain !== 'string' || !/^[a-z0-9._-]+$/.test(o.serverTrustDomain))
      throw new TypeError(`serverTrustDomain: ${JSON.stringify(o.serverTrustDomain)} is not a trust domain name`);
    return o.serverTrustDomain;
  }
  if (typeof o.serverWorkload === 'string') return parseWorkloadIdentifier(o.serverWorkload, o.identifier).trustDomain;
  try {
    return workloadIdentifier(new X509Certificate(s.cert), o.identifier ?? {}).trustDomain;
  } catch (e) {
    throw new TypeError(
      `serverTrustDomain: required, since this workload's certificate names no trust domain (${isWimseError(e) ? e.message : String(e)})`,
    );
  }
}

function chainOf(cert: PeerCertificate): Uint8Array[] {
  const chain: Uint8Array[] = [];
  for (
    let c: PeerCertificate | undefined = cert;
    c?.raw !== undefined && chain.length < 10;
    c = (c as { issuerCertificate?: PeerCertificate }).issuerCertificate
  ) {
    if (chain.some((d) => Buffer.compare(d, c!.raw) === 0)) break;
    chain.push(c.raw);
  }
  return chain;
}
