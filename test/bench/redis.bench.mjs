// Redis replay store benchmark (issue 10), against a redis-server this bench starts on a free port:
// checks/s of the store alone with 1 and 64 concurrent callers, and requests/s of the Express
// adapter with the Redis store against the in-memory store, alternating rounds, median ratio.
import { createServer } from 'node:http';
import { Agent, request } from 'node:http';
import express from 'express';
import { MemoryReplayStore } from '@wimse/core';
import { wimse } from '@wimse/express';
import { redisReplayStore } from '@wimse/redis';
import { redisServerVersion, startRedis } from '../support/redis-server.mjs';
import { AUD, SECONDS, fmt, setup } from './harness.mjs';

const HTTP_CONCURRENCY = 16;
let refusedRequests = 0;

export default async function run() {
  const version = await redisServerVersion();
  if (version === undefined) {
    console.log('redis: skipped (no redis-server on the PATH; apt-get install redis-server)');
    return;
  }
  const redis = await startRedis();
  try {
    await storeAlone(redis.url, version);
    await expressSideBySide(redis.url);
  } finally {
    await redis.close();
  }
}

async function storeAlone(url, version) {
  const store = redisReplayStore({ url, prefix: 'bench:alone:', maxInFlight: 1024 });
  await store.connect();
  const expiresAt = Date.now() + 600_000;
  let n = 0;
  let refused = 0;
  const callers = async (count) => {
    const deadline = performance.now() + SECONDS * 1000;
    const start = performance.now();
    let done = 0;
    await Promise.all(
      Array.from({ length: count }, async () => {
        while (performance.now() < deadline) {
          // A refusal (503: Redis slower than the store's timeout on a loaded machine) is counted, not a crash.
          const fresh = await store
            .checkAndStore({ workload: 'spiffe://example.org/client', kind: 'wpt', id: `k${n++}` }, expiresAt)
            .catch(() => undefined);
          if (fresh === true) done++;
          else refused++;
        }
      }),
    );
    return done / ((performance.now() - start) / 1000);
  };
  await callers(8); // warm-up
  const one = await callers(1);
  const many = await callers(64);
  await store.close();
  console.log(`redis replay store (redis-server ${version} on 127.0.0.1, one connection, auto-pipelined)`);
  console.log(`  checks, 1 caller                      ${fmt(one)}`);
  console.log(`  checks, 64 concurrent callers         ${fmt(many)}`);
  if (refused > 0) console.log(`  (${refused} checks refused: Redis slower than the 250 ms timeout)`);
}

async function expressSideBySide(url) {
  const { issuerJwk, signer } = await setup();
  const budget = Number(process.env.BENCH_REDIS_REQUESTS ?? 6000);
  // Pre-signed WPTs, each used once per phase: every Redis phase gets its own key prefix and every
  // memory phase a fresh store, so the same requests are fresh again.
  const requests = await Promise.all(Array.from({ length: budget }, () => signer.wptHeaders({ url: `${AUD}/orders` })));
  let phaseNo = 0;
  const phase = async (kind) => {
    const replayStore = kind === 'redis' ? redisReplayStore({ url, prefix: `bench:express:${phaseNo++}:` }) : new MemoryReplayStore();
    if (kind === 'redis') await replayStore.connect();
    const app = express();
    app.use(wimse({ trustDomains: { 'example.org': { keys: { keys: [issuerJwk] } } }, audience: AUD, replayStore }));
    app.get('/orders', (req, res) => void res.json({ workload: req.wimse.workload }));
    const server = createServer(app);
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    try {
      return await load(server.address().port, requests);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      if (kind === 'redis') await replayStore.close();
    }
  };
  await phase('memory'); // warm-up
  const rounds = [];
  // Which store goes first alternates too, so warm-up and drift favour neither.
  for (let r = 0; r < 3; r++) {
    const round = {};
    for (const kind of r % 2 === 0 ? ['memory', 'redis'] : ['redis', 'memory']) round[kind] = await phase(kind);
    rounds.push(round);
  }
  rounds.sort((a, b) => a.redis / a.memory - b.redis / b.memory);
  const { memory, redis } = rounds[1];
  console.log(`express adapter, WIT+WPT, ${HTTP_CONCURRENCY} concurrent keep-alive clients, one process, median of 3 alternating rounds`);
  console.log(`  requests, in-memory replay store      ${fmt(memory)}`);
  console.log(`  requests, redis replay store          ${fmt(redis)}`);
  if (refusedRequests > 0) console.log(`  (${refusedRequests} requests answered 503: Redis slower than the store's timeout)`);
  console.log(`  ratio redis / in-memory               ${(redis / memory).toFixed(2).padStart(12)}   (goal >= 0.80)`);
}

/** Sends `requests` (headers) to GET /orders, HTTP_CONCURRENCY at a time, for at most SECONDS; returns requests/s. */
async function load(port, requests) {
  const agent = new Agent({ keepAlive: true, maxSockets: HTTP_CONCURRENCY });
  const deadline = performance.now() + SECONDS * 1000;
  const start = performance.now();
  let next = 0;
  let done = 0;
  await Promise.all(
    Array.from({ length: HTTP_CONCURRENCY }, async () => {
      while (performance.now() < deadline && next < requests.length) {
        const status = await get(agent, port, requests[next++]);
        if (status === 200) done++;
        else if (status !== 503) throw new Error(`expected 200, got ${status}`);
        else refusedRequests++;
      }
    }),
  );
  const rate = done / ((performance.now() - start) / 1000);
  agent.destroy();
  return rate;
}

function get(agent, port, headers) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/orders', headers, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    req.end();
  });
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
