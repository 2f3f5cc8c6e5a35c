/**
 * The synchronous path (issue 12): once a WIT is cached and the replay store answers
 * synchronously (the in-memory default), `handle` answers in the same tick — an outcome, not a
 * promise — with exactly what the asynchronous path decides. A cold WIT, a response to sign or a
 * store that answers later keep the promise.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createWimseHandler, type WimseAdapterOptions, type WimseOutcome } from './adapter.js';
import type { ReplayKey, ReplayStore } from './replay.js';
import type { WimseRequest } from './request.js';
import { createWorkloadSigner, type WorkloadSigner } from './signer.js';
import { AUDIENCE, NOW, TRUST_DOMAIN, createIssuer, createWorkload, type Issuer, type Workload } from '@wimse/test-support/factory';

let issuer: Issuer;
let client: Workload;
let signer: WorkloadSigner;

beforeAll(async () => {
  issuer = await createIssuer('ES256', 'k1');
  client = await createWorkload(issuer);
  signer = await createWorkloadSigner({ wit: client.wit, privateKey: client.privateKey });
});

const handlerWith = (o: Partial<WimseAdapterOptions> = {}) =>
  createWimseHandler({
    trustDomains: { [TRUST_DOMAIN]: { keys: { keys: [issuer.publicJwk] } } },
    audience: AUDIENCE,
    now: () => NOW,
    ...o,
  });

const wpt = async (path = '/orders'): Promise<WimseRequest> => ({
  method: 'GET',
  path,
  headers: await signer.wptHeaders({ url: `${AUDIENCE}${path}`, now: NOW }),
});
const signed = async (path = '/orders'): Promise<WimseRequest> => ({
  method: 'GET',
  path,
  headers: await signer.httpSigHeaders({ method: 'GET', url: `${AUDIENCE}${path}`, now: NOW }),
});

const codeOf = (o: WimseOutcome) => (o.ok ? `ok ${o.principal?.workload}` : o.error.code);

describe('a WPT with a cached WIT is answered in the same tick', () => {
  it('answers the first request of a WIT later (cold), the next one now', async () => {
    const handler = handlerWith();
    const cold = handler.handle(await wpt());
    expect(cold).toBeInstanceOf(Promise);
    expect(codeOf(await cold)).toBe(`ok ${client.sub}`);
    const warm = handler.handle(await wpt());
    expect(warm).not.toBeInstanceOf(Promise);
    expect(codeOf(warm as WimseOutcome)).toBe(`ok ${client.sub}`);
  });

  it('gives the same principal as the promise-returning verify()', async () => {
    const handler = handlerWith();
    await handler.handle(await wpt());
    const warm = handler.handle(await wpt()) as WimseOutcome;
    const viaVerify = await handlerWith().verifier.verify(await wpt());
    expect(warm.ok && warm.principal).toEqual(viaVerify);
  });

  it('refuses a replayed WPT now, as an outcome (not a throw)', async () => {
    const handler = handlerWith();
    const request = await wpt();
    await handler.handle(await wpt());
    expect(codeOf(handler.handle(request) as WimseOutcome)).toBe(`ok ${client.sub}`);
    const replay = handler.handle(request);
    expect(replay).not.toBeInstanceOf(Promise);
    expect(codeOf(replay as WimseOutcome)).toBe('wpt_replay');
  });

  it('refuses a WPT for another path now, as an outcome', async () => {
    const handler = handlerWith();
    await handler.handle(await wpt());
    const wrong = handler.handle({ ...(await wpt('/orders')), path: '/admin' });
    expect(wrong).not.toBeInstanceOf(Promise);
    expect(codeOf(wrong as WimseOutcome)).toBe('wpt_aud');
  });

  it('refuses a WPT whose signature was altered now, as an outcome', async () => {
    const handler = handlerWith();
    await handler.handle(await wpt());
    const request = await wpt();
    const authorization = request.headers.authorization as string;
    const flipped = authorization.slice(0, -2) + (authorization.at(-2) === 'A' ? 'B' : 'A') + authorization.at(-1)!;
    const outcome = handler.handle({ ...request, headers: { ...request.headers, authorization: flipped } });
    expect(outcome).not.toBeInstanceOf(Promise);
    expect(codeOf(outcome as WimseOutcome)).toBe('wpt_signature');
  });
});

describe('an HTTP signature with a cached WIT is answered in the same tick', () => {
  it('answers the next request of a cached WIT now', async () => {
    const handler = handlerWith();
    expect(codeOf(await handler.handle(await signed()))).toBe(`ok ${client.sub}`);
    const warm = handler.handle(await signed());
    expect(warm).not.toBeInstanceOf(Promise);
    const outcome = warm as WimseOutcome;
    expect(outcome.ok && [outcome.principal?.method, outcome.principal?.signature?.signResponse]).toEqual(['http-sig', false]);
  });

  it('refuses a replayed signature now, as an outcome', async () => {
    const handler = handlerWith();
    const request = await signed();
    await handler.handle(await signed());
    expect(codeOf(handler.handle(request) as WimseOutcome)).toBe(`ok ${client.sub}`);
    expect(codeOf(handler.handle(request) as WimseOutcome)).toBe('sig_replay');
  });
});

describe('what has to wait keeps the promise', () => {
  // A shared store (Redis and the like) answers later; its answer still decides.
  class LaterStore implements ReplayStore {
    readonly seen = new Set<string>();
    checkAndStore(key: ReplayKey): Promise<boolean> {
      const fresh = !this.seen.has(key.id);
      this.seen.add(key.id);
      return new Promise((resolve) => setTimeout(() => resolve(fresh), 1));
    }
  }

  it('answers later with a store that answers later, and still refuses a replay', async () => {
    const handler = handlerWith({ replayStore: new LaterStore() });
    await handler.handle(await wpt());
    const request = await wpt();
    const first = handler.handle(request);
    expect(first).toBeInstanceOf(Promise);
    expect(codeOf(await first)).toBe(`ok ${client.sub}`);
    expect(codeOf(await handler.handle(request))).toBe('wpt_replay');
  });

  it('refuses (503) when a store answering later fails, never accepts', async () => {
    const handler = handlerWith({ replayStore: { checkAndStore: () => Promise.reject(new Error('down')) } });
    await handler.handle(await wpt());
    const outcome = await handler.handle(await wpt());
    expect(outcome.ok ? 'accepted' : [outcome.error.code, outcome.response.status]).toEqual(['replay_unavailable', 503]);
  });

  it('answers later when the response must be signed and the signer is fetched', async () => {
    const handler = handlerWith({ responseSigner: async () => signer, signResponses: 'always' });
    await handler.handle(await signed());
    const outcome = handler.handle(await signed());
    expect(outcome).toBeInstanceOf(Promise);
    const settled = await outcome;
    expect(settled.ok && settled.responseSignature !== undefined).toBe(true);
  });
});

describe('a store failing synchronously is refused now, never accepted', () => {
  it('answers replay_unavailable when the store throws a plain error', async () => {
    const handler = handlerWith({
      replayStore: {
        checkAndStore: () => {
          throw new Error('boom');
        },
      },
    });
    await handler.handle(await wpt());
    const outcome = handler.handle(await wpt());
    expect(outcome).not.toBeInstanceOf(Promise);
    expect(codeOf(outcome as WimseOutcome)).toBe('replay_unavailable');
  });
});

describe('a bug on the synchronous path is still a reported 500', () => {
  it('answers 500 internal_error, reported, when the error hook throws on the synchronous path', async () => {
    const reported: unknown[] = [];
    const handler = handlerWith({
      onError: () => {
        throw new Error('hook');
      },
      onInternalError: (e) => void reported.push(e),
    });
    await handler.handle(await wpt());
    const request = await wpt();
    await handler.handle(request);
    const outcome = handler.handle(request);
    expect(outcome).not.toBeInstanceOf(Promise);
    expect(
      (outcome as WimseOutcome).ok ? 'accepted' : [(outcome as Extract<WimseOutcome, { ok: false }>).error.code, reported.length],
    ).toEqual(['internal_error', 1]);
  });
});
