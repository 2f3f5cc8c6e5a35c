/** The one route vocabulary on Express: `auth.route(rules)` with or without the global mount, and `requireScope`. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { WimseAdapterOptions, WorkloadSigner } from '@wimse/core';
import { adapterFixture } from '@wimse/test-support/factory';
import { requireScope, wimse } from './index.js';

const AUDIENCE = 'https://svc.example.org';
let options: WimseAdapterOptions;
let client: WorkloadSigner;

beforeAll(async () => {
  ({ options, client } = await adapterFixture(AUDIENCE));
});

let server: Server | undefined;
afterEach(() => {
  server?.close();
  server = undefined;
});

async function status(app: express.Express, path: string, headers: Record<string, string> = {}, times = 1): Promise<(string | number)[]> {
  server ??= createServer(app);
  if (!server.listening) await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  let answer: (string | number)[] = [];
  for (let i = 0; i < times; i++) {
    const r = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`, { headers });
    answer = [r.status, r.status === 200 ? await r.text() : ((await r.json()) as { code: string }).code];
  }
  return answer;
}

const wpt = async (path: string) => client.wptHeaders({ url: AUDIENCE + path });
const ok = (_req: express.Request, res: express.Response) => void res.send('ok');

describe('auth.route() behind the global mount only narrows', () => {
  it('a public route rule cannot let through what the global mount refuses', async () => {
    const auth = wimse(options);
    const app = express()
      .use(auth)
      .get('/x', auth.route({ public: true }), ok);
    expect(await status(app, '/x')).toEqual([401, 'credentials_missing']);
  });

  it('an optional route rule cannot either', async () => {
    const auth = wimse(options);
    const app = express()
      .use(auth)
      .get('/x', auth.route({ optional: true }), ok);
    expect(await status(app, '/x')).toEqual([401, 'credentials_missing']);
  });

  it('does not verify the proof twice (a WPT is single-use)', async () => {
    const auth = wimse(options);
    const app = express()
      .use(auth)
      .get('/x', auth.route({ allow: 'spiffe://example.org/client' }), ok);
    expect(await status(app, '/x', await wpt('/x'))).toEqual([200, 'ok']);
  });

  it('applies allow', async () => {
    const auth = wimse(options);
    const app = express()
      .use(auth)
      .get('/x', auth.route({ allow: 'spiffe://example.org/admin' }), ok);
    expect(await status(app, '/x', await wpt('/x'))).toEqual([403, 'forbidden']);
  });
});

describe('auth.route() without the global mount authenticates with its rules', () => {
  it('public: no authentication', async () => {
    const app = express().get('/x', wimse(options).route({ public: true }), ok);
    expect(await status(app, '/x')).toEqual([200, 'ok']);
  });

  it('optional: no credentials, no principal', async () => {
    const app = express().get('/x', wimse(options).route({ optional: true }), (req, res) => void res.send(String(req.wimse)));
    expect(await status(app, '/x')).toEqual([200, 'undefined']);
  });

  it('no rules: credentials required', async () => {
    const app = express().get('/x', wimse(options).route({}), ok);
    expect(await status(app, '/x')).toEqual([401, 'credentials_missing']);
  });

  it('refuses the same WPT twice (the one replay store)', async () => {
    const app = express().get('/x', wimse(options).route({ optional: true }), ok);
    expect(await status(app, '/x', await wpt('/x'), 2)).toEqual([401, 'wpt_replay']);
  });
});

describe('scope rules', () => {
  it('throw at start-up without the transactionTokens option', () => {
    expect(() => wimse(options).route({ scope: 'read' })).toThrow(/transactionTokens/);
  });

  it('an unknown route rule throws', () => {
    expect(() => wimse(options).route({ scopes: 'read' } as never)).toThrow(/unknown option "scopes"/);
  });

  it('requireScope without wimse() before it answers 401', async () => {
    const app = express().get('/x', requireScope('read'), ok);
    expect(await status(app, '/x')).toEqual([401, 'credentials_missing']);
  });

  it('requireScope refuses a malformed scope at start-up', () => {
    expect(() => requireScope('a b')).toThrow(/scope tokens/);
  });
});
