import { createSign, generateKeyPairSync, verify } from 'node:crypto';
import Fastify from 'fastify';
import { wimsePlugin } from '@wimse/fastify';
import { AUD, setup } from './harness.mjs';
const { issuerJwk, signer } = await setup();
const trustDomains = { 'example.org': { keys: { keys: [issuerJwk] } } };
const N = Number(process.env.N ?? 3000);
const plain = Fastify(); plain.get('/bench', async () => ({ ok: true }));
const auth = Fastify(); await auth.register(wimsePlugin, { trustDomains, audience: AUD }); auth.get('/bench', async (r) => ({ workload: r.wimse?.workload }));
await plain.ready(); await auth.ready();
const cpu = () => { const u = process.cpuUsage(); return u.user + u.system; };
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const data = Buffer.from('e'.repeat(400)); const sig = createSign('sha256').update(data).sign({ key: privateKey, dsaEncoding: 'ieee-p1363' });
async function run(app, kind) {
  const creds = []; for (let i = 0; i < N; i++) creds.push(kind === 'plain' ? {} : kind === 'wpt' ? await signer.wptHeaders({ url: AUD + '/bench' }) : await signer.httpSigHeaders({ method: 'GET', url: AUD + '/bench' }));
  const t = cpu(); let bad = 0;
  for (let i = 0; i < N; i++) { const r = await app.inject({ method: 'GET', url: '/bench', headers: creds[i] }); if (r.statusCode !== 200) bad++; }
  return [(cpu() - t) / N, bad];
}
function raw(n) { const t = cpu(); for (let i = 0; i < n; i++) verify('sha256', data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, sig); return (cpu() - t) / n; }
for (let r = 0; r < 3; r++) {
  const p = await run(plain, 'plain'), w = await run(auth, 'wpt'), s = await run(auth, 'sig'), rv = raw(2000);
  console.log(`plain ${p[0].toFixed(1)} wpt ${w[0].toFixed(1)} sig ${s[0].toFixed(1)} raw ${rv.toFixed(1)}  wpt-plain ${(w[0] - p[0]).toFixed(1)} sig-plain ${(s[0] - p[0]).toFixed(1)} bad ${w[1]}/${s[1]}`);
}
