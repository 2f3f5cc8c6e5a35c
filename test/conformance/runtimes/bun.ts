/** Serves a fetch handler module with Bun's own server on a free loopback port, printed for launch.ts. */
// 'wimse-app': the served module, chosen when bundling (launch.ts).
import worker from 'wimse-app';

declare const Bun: {
  serve(options: { hostname: string; port: number; fetch: (request: Request) => Response | Promise<Response> }): { port: number };
};

const server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: worker.fetch });
console.log(`listening ${server.port}`);
