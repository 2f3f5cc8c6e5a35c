// The server child of `pnpm bench:http` (pinned to one core by the parent). argv[2] = target name.
// Over IPC it receives { trustDomains, audience }, starts the plain server, the plain server whose
// route verifies one ES256 signature ("framework + one signature verification"), and the
// authenticated server, and answers the parent's questions:
//   { type: 'cpu' }           → { cpu, gc } process.cpuUsage() user+system µs so far, and the µs of
//                               garbage collection pauses so far (PerformanceObserver 'gc' entries)
//   { type: 'rawVerify', n }  → { us } CPU µs of one node:crypto ES256 verify (n verifications of a
//                               WPT-sized signing input with a cached KeyObject), measured here, now
import { createSign, generateKeyPairSync, randomBytes, verify } from 'node:crypto';
import { PerformanceObserver } from 'node:perf_hooks';
import { TARGETS } from './servers.mjs';

const target = TARGETS[process.argv[2]];
if (target === undefined) throw new Error(`unknown target ${process.argv[2]}`);

// GC pause time, for the issue's "no growth in GC time over the plain framework beyond what one
// verification costs": the parent turns it into µs per request for each kind.
let gcUs = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcUs += e.duration * 1000;
}).observe({ entryTypes: ['gc'] });

const cpuNow = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

// One raw ES256 verification, as the ideal counts it: SHA-256 + ECDSA P-256 over a WPT-sized
// signing input, with a KeyObject imported once.
const { privateKey, publicKey: rawKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rawData = Buffer.from('e'.repeat(400));
const rawSig = createSign('sha256').update(rawData).sign({ key: privateKey, dsaEncoding: 'ieee-p1363' });
function rawVerifyUs(n) {
  const start = cpuNow();
  for (let i = 0; i < n; i++)
    if (!verify('sha256', rawData, { key: rawKey, dsaEncoding: 'ieee-p1363' }, rawSig)) throw new Error('raw verify failed');
  return (cpuNow() - start) / n;
}

// The route's one verification: like a proof, a different signature over a different WPT-sized
// input each request (a cycle of 4096), with a KeyObject imported once.
const POOL = Array.from({ length: 4096 }, () => {
  const data = Buffer.from(randomBytes(300).toString('base64url'));
  return { data, sig: createSign('sha256').update(data).sign({ key: privateKey, dsaEncoding: 'ieee-p1363' }) };
});
let turn = 0;
function verifyOne() {
  const { data, sig } = POOL[turn++ & 4095];
  if (!verify('sha256', data, { key: rawKey, dsaEncoding: 'ieee-p1363' }, sig)) throw new Error('verify failed');
}

process.once('message', async ({ trustDomains, audience }) => {
  const plain = await target(undefined);
  const verifying = await target(undefined, verifyOne);
  const auth = await target({ trustDomains, audience });
  process.on('message', (m) => {
    if (m.type === 'cpu') {
      const cpu = cpuNow();
      // 'gc' entries are delivered a little after the pause: read the total once they are in.
      setTimeout(() => process.send({ cpu, gc: gcUs }), 20);
    } else if (m.type === 'rawVerify') process.send({ us: rawVerifyUs(m.n) });
    else if (m.type === 'close') Promise.all([plain.close(), verifying.close(), auth.close()]).finally(() => process.exit(0));
  });
  process.send({ ready: true, plainPort: plain.port, verifyPort: verifying.port, authPort: auth.port });
});
process.on('disconnect', () => process.exit(0));
