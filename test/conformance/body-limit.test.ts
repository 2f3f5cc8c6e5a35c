/**
 * maxBodyBytes under load, on every target: a body far over the limit is refused with 413 after the
 * server read at most about the limit (it stops reading and closes), so an unauthenticated flood
 * cannot grow the server. Bytes are counted at the client, which writes only as fast as the server
 * reads; no timing or RSS is asserted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUDIENCE, CLIENT, adapterOptions, createFixtures, type Fixtures } from './fixtures.js';
import { flood, sendH2 } from './http.js';
import type { Running, Target } from './targets/contract.js';
import { express4Target, express5Target } from './targets/express.js';
import { fastifyTarget } from './targets/fastify.js';
import { honoTarget } from './targets/hono.js';
import { fastifyH2Target, honoH2Target } from './targets/http2.js';
import { nestExpressTarget, nestFastifyTarget } from './targets/nestjs.js';

const targets: Target[] = [express4Target, express5Target, fastifyTarget, honoTarget, nestExpressTarget, nestFastifyTarget];
const MiB = 1024 * 1024;
const SENT = 64 * MiB;
// The limit, plus what socket and stream buffers on both sides hold (a few MiB on loopback): far below SENT.
const READ_AT_MOST = 16 * MiB;

let fixtures: Fixtures;
beforeAll(async () => {
  fixtures = await createFixtures();
});

describe.each(targets)('$name: chunked flood under a Signature-Input, maxBodyBytes 1 MiB', (target) => {
  let server: Running;
  beforeAll(async () => {
    server = await target.start({ ...adapterOptions(fixtures), maxBodyBytes: MiB });
  });
  afterAll(() => server.close());

  it('answers 413 body_too_large and stops reading long before 64 MiB', async () => {
    const headers = { 'content-type': 'application/octet-stream', 'signature-input': 'x=()', 'transfer-encoding': 'chunked' };
    const res = await flood(server.url, { method: 'POST', path: '/echo', headers }, SENT);
    expect([res.status, (JSON.parse(res.text) as { code: string }).code, res.headers.connection]).toEqual([413, 'body_too_large', 'close']);
    expect(res.bytesAccepted).toBeLessThan(READ_AT_MOST);
  });

  it('still answers on a new connection afterwards', async () => {
    const res = await flood(server.url, { method: 'GET', path: '/health', headers: {} }, 0);
    expect(res.status).toBe(200);
  });
});

// RFC 9113 §8.1: over HTTP/2 a body needs no Content-Length; a Content-Digest says there is one.
describe.each([honoH2Target, fastifyH2Target])('$name', (target) => {
  let server: Running;
  beforeAll(async () => {
    server = await target.start({ ...adapterOptions(fixtures), maxBodyBytes: MiB });
  });
  afterAll(() => server.close());

  it('verifies a signed body sent in DATA frames without a Content-Length', async () => {
    const body = 'streamed bytes';
    const headers = { 'content-type': 'application/octet-stream' };
    const signed = await fixtures.client.signer.httpSigHeaders({ method: 'POST', url: `${AUDIENCE}/echo`, headers, body });
    const res = await sendH2(
      server.url,
      { method: 'POST', path: '/echo', headers: { ...headers, ...signed } },
      { chunks: ['streamed ', 'bytes'] },
    );
    expect([res.status, JSON.parse(res.text)]).toEqual([200, expect.objectContaining({ workload: CLIENT, method: 'http-sig', body })]);
  });

  it('answers 413 body_too_large to a 64 MiB stream and stops reading long before its end', async () => {
    const headers = { 'content-type': 'application/octet-stream', 'signature-input': 'x=()', 'content-digest': 'sha-256=:AAAA:' };
    const res = await sendH2(server.url, { method: 'POST', path: '/echo', headers }, { total: SENT });
    expect([res.status, (JSON.parse(res.text) as { code: string }).code]).toEqual([413, 'body_too_large']);
    expect(res.bytesAccepted).toBeLessThan(READ_AT_MOST);
  });
});
