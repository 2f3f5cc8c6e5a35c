import Fastify from 'fastify';
import { wimsePlugin } from '@wimse/fastify';
import { AUD, setup } from './harness.mjs';
const { issuerJwk, signer } = await setup();
const trustDomains = { 'example.org': { keys: { keys: [issuerJwk] } } };
const N = Number(process.env.N ?? 3000); const KIND = process.env.KIND ?? 'wpt';
const auth = Fastify(); await auth.register(wimsePlugin, { trustDomains, audience: AUD }); auth.get('/bench', async (r) => ({ workload: r.wimse?.workload }));
await auth.ready();
const creds = []; for (let i = 0; i < N; i++) creds.push(KIND === 'wpt' ? await signer.wptHeaders({ url: AUD + '/bench' }) : await signer.httpSigHeaders({ method: 'GET', url: AUD + '/bench' }));
const { Session } = await import('node:inspector/promises');
const s = new Session(); s.connect(); await s.post('Profiler.enable'); await s.post('Profiler.setSamplingInterval', { interval: 100 }); await s.post('Profiler.start');
for (let i = 0; i < N; i++) { const r = await auth.inject({ method: 'GET', url: '/bench', headers: creds[i] }); if (r.statusCode !== 200) throw new Error(r.body); }
const { profile } = await s.post('Profiler.stop');
(await import('node:fs')).writeFileSync(`/tmp/perf/inject-${KIND}.cpuprofile`, JSON.stringify(profile));
