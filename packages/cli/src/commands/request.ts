/**
 * `wimse request`: a curl-like signed request. Credentials come from files (a WIT and its private
 * key) or from an identity server; the proof is a WPT or an HTTP signature.
 */
import {
  checkWorkloadIdentifier,
  createWimseFetch,
  identityServerWitSource,
  isWimseError,
  type OutboundProof,
  type WorkloadCredentials,
  type WptTyp,
} from '@wimse/core';
import { decodeJwt, type CryptoKey, type JSONWebKeySet, type JWK } from 'jose';
import { parseArgs } from 'node:util';
import { parsed } from '../args.js';
import { describeError, HELP_OPTION, help, publicJwk, readJson, readJwk, readToken, UsageError, type CliIo } from '../io.js';

export const REQUEST_USAGE = `wimse request <url> [-X <method>] [-H 'name: value']... [-d <body> | --data-file <file>]
               [--proof wpt|http-sig] [--txn-token <token>] [[--sign-response] --jwks <file | url> [--trust-domain <td>]]
               [--wpt01 [--access-token <token>]] [--wpt-typ wpt+jwt|application/wpt+jwt]
               (--wit <token | file> --key <private.jwk> | --identity <url> --workload <name>)
               [--expect-responder <workload pattern>] [--allow-insecure] [-i] [-v] [-f | --fail-with-body]
  Sends a request authenticated as a workload and prints the response body (-i: with status and
  headers, -v: also the request headers sent). A signed response is verified against --jwks (and
  --expect-responder), and refused without it; with --sign-response the response must be signed,
  whatever its status. Credentials go only
  over https or to loopback unless --allow-insecure. --wpt01 sends the WPT the way
  draft-ietf-wimse-wpt-01 peers expect it (Workload-Proof-Token field; an --access-token goes in
  Authorization: Bearer, bound by ath). As curl: a 4xx or 5xx answer exits 0 unless -f/--fail
  (exit 22, body not printed) or --fail-with-body (exit 22, body printed).`;

/** curl's exit code for an HTTP error under --fail. */
export const HTTP_ERROR_EXIT = 22;

export async function request(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parsed(
    () =>
      parseArgs({
        args: argv,
        options: {
          ...HELP_OPTION,
          request: { type: 'string', short: 'X' },
          header: { type: 'string', short: 'H', multiple: true },
          data: { type: 'string', short: 'd' },
          'data-file': { type: 'string' },
          proof: { type: 'string' },
          'txn-token': { type: 'string' },
          'sign-response': { type: 'boolean' },
          jwks: { type: 'string' },
          'trust-domain': { type: 'string' },
          'expect-responder': { type: 'string' },
          'allow-insecure': { type: 'boolean' },
          wpt01: { type: 'boolean' },
          'wpt-typ': { type: 'string' },
          'access-token': { type: 'string' },
          wit: { type: 'string' },
          key: { type: 'string' },
          identity: { type: 'string' },
          workload: { type: 'string' },
          include: { type: 'boolean', short: 'i' },
          verbose: { type: 'boolean', short: 'v' },
          fail: { type: 'boolean', short: 'f' },
          'fail-with-body': { type: 'boolean' },
        },
        allowPositionals: true,
        strict: true,
      }),
    1,
  );
  if (values.help) return help(io, REQUEST_USAGE);
  if (values.fail && values['fail-with-body']) throw new UsageError('--fail and --fail-with-body exclude each other');
  const url = positionals[0];
  if (url === undefined || !/^https?:\/\//.test(url)) throw new UsageError('give the http(s) URL to call');
  const proof = (values.proof ?? 'wpt') as OutboundProof;
  if (proof !== 'wpt' && proof !== 'http-sig') throw new UsageError('--proof must be wpt or http-sig');
  if (values['sign-response'] && proof !== 'http-sig') throw new UsageError('--sign-response needs --proof http-sig');
  if (values['sign-response'] && values.jwks === undefined) throw new UsageError('--sign-response needs --jwks to verify the response');
  if ((values.wpt01 || values['wpt-typ'] !== undefined) && proof !== 'wpt')
    throw new UsageError('--wpt01 and --wpt-typ apply to --proof wpt');
  if (values['access-token'] !== undefined && !values.wpt01)
    throw new UsageError('--access-token needs --wpt01 (wpt-02 has no ath: the WPT itself is the Authorization)');
  const typ = values['wpt-typ'];
  if (typ !== undefined && typ !== 'wpt+jwt' && typ !== 'application/wpt+jwt')
    throw new UsageError('--wpt-typ must be wpt+jwt or application/wpt+jwt');
  const wpt = { ...(values.wpt01 ? { version: 'wpt-01' as const } : {}), ...(typ === undefined ? {} : { typ: typ as WptTyp }) };
  const headers = new Headers();
  for (const h of values.header ?? []) {
    const i = h.indexOf(':');
    if (i <= 0) throw new UsageError(`-H ${JSON.stringify(h)}: expected "name: value"`);
    headers.append(h.slice(0, i).trim(), h.slice(i + 1).trim());
  }
  const body = values['data-file'] !== undefined ? await io.readFile(values['data-file']) : values.data;
  if (body !== undefined && !headers.has('content-type')) headers.set('content-type', 'application/json');
  const method = values.request ?? (body === undefined ? 'GET' : 'POST');

  // Record what goes on the wire, for -v.
  let sent: Headers | undefined;
  const wire = (async (input: RequestInfo | URL, init?: RequestInit) => {
    sent = new Headers(init?.headers);
    return io.fetch(input, init);
  }) as typeof fetch;
  const credentials = await credentialsFor(values, io);
  // http-signature-07 §3.5: any signed response is verified, asked for or not.
  const responseTrust =
    values.jwks !== undefined
      ? { trustDomains: { [values['trust-domain'] ?? trustDomainOf(credentials.wit)]: { keys: await jwksFor(io, values.jwks!) } } }
      : undefined;
  const wimseFetch = createWimseFetch({
    credentials: () => credentials,
    fetch: wire,
    retryOnWitRejection: false,
    allowInsecureTransport: values['allow-insecure'] === true,
    ...(responseTrust ? { responseTrust } : {}),
    ...(values['expect-responder'] === undefined ? {} : { expectResponder: values['expect-responder'] }),
  });
  let res: Response;
  try {
    res = await wimseFetch(url, {
      method,
      headers,
      ...(body === undefined ? {} : { body }),
      wimse: {
        proof,
        wpt,
        ...(values['txn-token'] === undefined ? {} : { txnToken: values['txn-token'] }),
        ...(values['access-token'] === undefined ? {} : { accessToken: values['access-token'] }),
        ...(values['sign-response'] ? { signResponse: true } : {}),
      },
    });
  } catch (e) {
    showSent(values.verbose === true);
    io.stderr(isWimseError(e) ? `response signature FAILED ${e.code}: ${e.message}\n` : `request failed: ${describeError(e)}\n`);
    return 1;
  }
  showSent(values.verbose === true);
  const httpError = res.status >= 400 && (values.fail === true || values['fail-with-body'] === true);
  if (httpError && values.fail) {
    // curl -f: no body, a one-line reason, exit 22.
    await res.body?.cancel();
    io.stderr(`wimse: the server answered HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''} (--fail)\n`);
    return HTTP_ERROR_EXIT;
  }
  const responseBody = new Uint8Array(await res.arrayBuffer());
  if (values.include || values.verbose) {
    io.stdout(`HTTP ${res.status} ${res.statusText}\n`);
    res.headers.forEach((v, k) => {
      io.stdout(`${k}: ${v}\n`);
    });
    io.stdout('\n');
  }
  io.stdout(new TextDecoder().decode(responseBody));
  if (responseBody.length > 0) io.stdout('\n');
  const responder = wimseFetch.responder(res)?.workload;
  if (responder !== undefined) io.stderr(`response signed by ${responder}\n`);
  if (httpError) {
    io.stderr(`wimse: the server answered HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''} (--fail-with-body)\n`);
    return HTTP_ERROR_EXIT;
  }
  return 0;

  function showSent(verbose: boolean): void {
    if (!verbose || sent === undefined) return;
    io.stdout(`> ${method} ${url}\n`);
    sent.forEach((v, k) => {
      io.stdout(`> ${k}: ${v}\n`);
    });
    io.stdout('>\n');
  }
}

interface CredentialArgs {
  wit?: string | undefined;
  key?: string | undefined;
  identity?: string | undefined;
  workload?: string | undefined;
}

// A one-shot command needs one WIT: from files, or obtained once from the identity server.
async function credentialsFor(values: CredentialArgs, io: CliIo): Promise<WorkloadCredentials> {
  if (values.identity !== undefined) {
    if (values.workload === undefined) throw new UsageError('--identity needs --workload <name>');
    const bootstrap = createWimseFetch({
      witSource: identityServerWitSource({ url: values.identity, workload: values.workload, fetch: io.fetch }),
    });
    const signer = await bootstrap.signer().catch((e: unknown) => {
      throw new UsageError(describeError(e));
    });
    return { wit: signer.wit, privateKey: signer.key as CryptoKey };
  }
  if (values.wit === undefined || values.key === undefined) throw new UsageError('give --wit and --key, or --identity and --workload');
  const wit = await readToken(io, values.wit);
  const privateKey = await readJwk(io, values.key);
  if (privateKey.d === undefined) throw new UsageError(`${values.key} is a public key; the WIT's private key is needed to sign`);
  return { wit, privateKey };
}

// The responder is trusted in the caller's own trust domain unless --trust-domain says otherwise.
function trustDomainOf(wit: string): string {
  let sub: unknown;
  try {
    sub = decodeJwt(wit).sub;
  } catch {
    sub = undefined;
  }
  const r = checkWorkloadIdentifier(sub);
  if (!r.ok) throw new UsageError("cannot tell the responder's trust domain: add --trust-domain");
  return r.id.trustDomain;
}

async function jwksFor(io: CliIo, source: string): Promise<string | JSONWebKeySet> {
  if (/^https?:\/\//.test(source)) return source;
  const data = (await readJson(io, source)) as { keys?: unknown };
  return { keys: (Array.isArray(data.keys) ? (data.keys as JWK[]) : [data as JWK]).map((k) => publicJwk(k)) };
}
