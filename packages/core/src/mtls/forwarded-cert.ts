/**
 * RFC 9440 `Client-Cert` / `Client-Cert-Chain`: a TLS-terminating proxy passes on the client
 * certificate it accepted. Opt-in, and believed only from configured proxies: from anyone else
 * the field is an attempt to assert an identity without holding its key (mutual-tls-02 §5,
 * mtls.md step 8), and is rejected rather than ignored.
 */
import { parseItem, parseList, type BareItem } from 'structured-headers';
import { WimseError } from '../errors.js';
import { fieldValues, type WimseRequest } from '../request.js';
import { MAX_CHAIN_LENGTH } from './workload-certificate.js';

/** Proxies whose `Client-Cert` is believed: peer IP addresses, or a predicate over the peer address. */
export type TrustedProxies = readonly string[] | ((remoteAddress: string) => boolean);

/** Longest accepted `Client-Cert` / `Client-Cert-Chain` field, in characters. */
export const MAX_CLIENT_CERT_FIELD = 32_768;

/** A presented certificate chain (DER, leaf first) and where it came from. */
export interface PresentedChain {
  readonly chain: readonly Uint8Array[];
  readonly forwarded: boolean;
}

/**
 * The chain that authenticates this request: from a trusted proxy's `Client-Cert` fields (the TLS
 * peer is then the proxy, whose own certificate is not the caller's), else the TLS peer's.
 */
export function presentedChain(request: WimseRequest, proxies: ((address: string) => boolean) | undefined): PresentedChain | undefined {
  const socket = request.peerCertificates;
  const direct = socket !== undefined && socket.length > 0 ? { chain: socket, forwarded: false } : undefined;
  if (proxies === undefined) return direct; // opt-in off: the fields mean nothing here
  const hasFields = request.headers['client-cert'] !== undefined || request.headers['client-cert-chain'] !== undefined;
  const address = request.remoteAddress;
  if (address !== undefined && proxies(normalizeAddress(address))) {
    const chain = forwardedChain(request);
    return chain === undefined ? undefined : { chain, forwarded: true };
  }
  if (hasFields) throw new WimseError('mtls_proxy_untrusted', 'Client-Cert is accepted only from a trusted proxy');
  return direct;
}

/** Compiles the trusted-proxy option; throws `TypeError` on a malformed address. */
export function trustedProxyMatcher(proxies: TrustedProxies): (address: string) => boolean {
  if (typeof proxies === 'function') return proxies;
  if (!Array.isArray(proxies)) throw new TypeError('mtls.trustedProxies must be a list of IP addresses or a function');
  const set = new Set<string>();
  for (const p of proxies as readonly unknown[]) {
    if (typeof p !== 'string' || !/^[0-9a-fA-F.:]+$/.test(p))
      throw new TypeError(`mtls.trustedProxies: ${JSON.stringify(p)} is not an IP address`);
    set.add(normalizeAddress(p));
  }
  return (address) => set.has(address);
}

// `::ffff:10.0.0.1` (an IPv4 peer on a dual-stack socket) is `10.0.0.1`.
function normalizeAddress(address: string): string {
  const a = address.toLowerCase();
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}

// RFC 9440 §2.2: Client-Cert is an sf-binary Item; §2.3: Client-Cert-Chain an sf-list of them.
function forwardedChain(request: WimseRequest): Uint8Array[] | undefined {
  const certs = fieldValues(request.headers, 'client-cert');
  const chainFields = fieldValues(request.headers, 'client-cert-chain');
  if (certs.length === 0) {
    if (chainFields.length > 0) throw new WimseError('mtls_proxy_header', 'Client-Cert-Chain without Client-Cert');
    return undefined;
  }
  if (certs.length > 1) throw new WimseError('mtls_proxy_header', 'More than one Client-Cert field');
  const [certField = ''] = certs;
  const chainField = chainFields.join(', ');
  if (certField.length > MAX_CLIENT_CERT_FIELD || chainField.length > MAX_CLIENT_CERT_FIELD) {
    throw new WimseError('mtls_proxy_header', 'Client-Cert fields too large');
  }
  try {
    const leaf = bytes(parseItem(certField)[0]);
    const rest =
      chainFields.length === 0
        ? []
        : parseList(chainField).map((member) => {
            if (Array.isArray(member[0])) throw new SyntaxError('inner list');
            return bytes(member[0]);
          });
    if (rest.length + 1 > MAX_CHAIN_LENGTH) throw new SyntaxError('chain too long');
    return [leaf, ...rest];
  } catch (e) {
    throw new WimseError('mtls_proxy_header', 'Client-Cert fields must be RFC 9440 byte sequences', { cause: e });
  }
}

function bytes(item: BareItem): Uint8Array {
  if (item instanceof ArrayBuffer) {
    if (item.byteLength === 0) throw new SyntaxError('empty byte sequence');
    return new Uint8Array(item);
  }
  throw new SyntaxError('not a byte sequence');
}
