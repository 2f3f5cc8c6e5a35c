/**
 * `pnpm demo`: start the identity server and the four services, run the scripted client, print
 * the table, stop everything; exit 0 only when every row is as expected.
 * `pnpm demo --serve`: the same, then leave the services running for trying by hand.
 */
import { runMtlsRotation, runRotation, runScenario, ROTATION_ENV, type Row } from './scenario.js';
import { DEFAULT_PORTS, startStack, stopAllStarted, type Stack } from './stack.js';
import { renderTable } from './table.js';
import { SHARED_REPLAY_HINT, runSharedReplay } from './shared-replay.js';

const serve = process.argv.includes('--serve');
const verbose = process.argv.includes('--verbose');

let stack: Stack | undefined;
let failed = 0;
// Ctrl-C at any point stops whatever was started.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    console.log('\nStopping …');
    void stopAllStarted().then(() => process.exit(signal === 'SIGINT' && !serve ? 130 : failed === 0 ? 0 : 1));
  });
}

console.log('Starting the identity server, the Txn-Token service and the four services (HTTP and mTLS) …');
try {
  // The CLI commands printed for --serve register by name: development mode for them only.
  stack = await startStack({
    ports: DEFAULT_PORTS,
    serviceEnv: ROTATION_ENV,
    devRegistration: serve,
    ...(verbose ? { log: (l) => console.log(`  ${l}`) } : {}),
  });
} catch (e) {
  console.error(`Could not start the demo: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}

// Labelled where it runs: it hands an access token to anyone who asks.
console.log(`(user access tokens come from a STAND-IN authorization server, demo only: ${stack.userIssuer.issuer})`);

let rows: Row[] = [];
let shared: Row[] | undefined;
try {
  rows = [...(await runScenario(stack)), ...(await runMtlsRotation(stack)), ...(await runRotation(stack))];
  // Two instances of one service on one Redis (REDIS_URL, or redis-server from the PATH).
  shared = await runSharedReplay(stack, verbose ? (l) => console.log(`  ${l}`) : undefined);
  rows.push(...(shared ?? []));
} finally {
  if (!serve || rows.length === 0) await stack.stop();
}

console.log(`\n${renderTable(rows)}\n`);
if (shared === undefined) console.log(`${SHARED_REPLAY_HINT}\n`);
failed = rows.filter((r) => !r.ok).length;
console.log(failed === 0 ? `All ${rows.length} checks as expected.` : `${failed} of ${rows.length} checks NOT as expected.`);

if (!serve) process.exit(failed === 0 ? 0 : 1);

const cli = 'node packages/cli/dist/bin.js';
const as = (workload: string) => `${cli} request --identity ${stack.identityUrl} --workload ${workload}`;
const { express, fastify, hono, nestjs } = stack.urls;
console.log(`
The services keep running (Ctrl-C stops them). Try, from the repository root:

  # no credentials: 401 with WWW-Authenticate: WPT
  curl -i ${express}/whoami
  # as the workload "client", with a WPT, then with an HTTP signature over a body
  ${as('client')} ${express}/whoami
  ${as('client')} --proof http-sig -d '{"hello":"wimse"}' ${fastify}/echo
  # /admin: 403 for client, 200 for admin
  ${as('client')} -i ${hono}/admin
  ${as('admin')} ${nestjs}/admin
  # a relay chain, then one with HTTP signatures, showing the signed request (-v)
  ${as('client')} "${express}/relay?to=${fastify}&to=${hono}&to=${nestjs}"
  ${as('client')} --proof http-sig -v "${nestjs}/relay?to=${express}"
  # a user's access token (from the STAND-IN user issuer) enters at the edge, which exchanges it at
  # the Txn-Token service (${stack.ttsUrl}) for a Txn-Token (orders:read) that travels to GET /orders
  token=$(curl -s -d '{"sub":"alice","scope":"orders:read orders:write"}' ${stack.userIssuer.issuer}/token | sed 's/.*"access_token":"\\([^"]*\\)".*/\\1/')
  curl -s -H "authorization: Bearer $token" "${express}/edge/orders?to=${fastify}&to=${nestjs}"
  # the trust domain's keys, and a WIT checked against them
  curl -s ${stack.identityUrl}/.well-known/jwks.json
  ${as('client')} -v ${express}/whoami 2>&1 | sed -n 's/^> workload-identity-token: //p' > /tmp/client.wit
  ${cli} inspect /tmp/client.wit --jwks ${stack.identityUrl}/.well-known/jwks.json
  # rotate the issuer key; the old one stays published until retired
  curl -s -X POST -H 'authorization: Bearer ${stack.adminToken}' ${stack.identityUrl}/admin/keys
  curl -s -X DELETE -H 'authorization: Bearer ${stack.adminToken}' ${stack.identityUrl}/admin/keys/<old kid>
${stack.mtls === undefined ? '' : mtlsHelp(stack.mtls)}`);

function mtlsHelp(mtls: NonNullable<Stack['mtls']>): string {
  const tls = (workload: string) => {
    const dir = mtls.dir(workload);
    return `curl --cacert ${mtls.dir('client')}/bundle.pem --cert ${dir}/svid.pem --key ${dir}/svid_key.pem`;
  };
  return `
  # mTLS: the same services over HTTPS, with the client's certificate (SPIFFE helper files)
  ${tls('client')} ${mtls.urls.express}/whoami
  ${tls('client')} ${mtls.urls.fastify}/admin
  # a certificate from another trust domain's CA
  ${tls('other-client')} ${mtls.urls.hono}/whoami
  # the client certificate, as the services check it
  openssl x509 -in ${mtls.dir('client')}/svid.pem -noout -subject -ext subjectAltName,extendedKeyUsage
`;
}
