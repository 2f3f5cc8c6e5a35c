import type { Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createAdaptorServer } from '@hono/node-server';
import { listen, type Target } from './contract.js';
import { honoApp } from './hono-app.js';

export const honoTarget: Target = {
  name: 'hono',
  start(options, tls) {
    const app = honoApp(options);
    const https = tls === undefined ? {} : { createServer: createHttpsServer, serverOptions: tls };
    return listen(createAdaptorServer({ fetch: app.fetch, ...https }) as Server);
  },
};
