/** Serves a fetch handler module with Deno's own server on a free loopback port, printed for launch.ts. */
// 'wimse-app': the served module, chosen when bundling (launch.ts).
import worker from 'wimse-app';

declare const Deno: {
  serve(
    options: { hostname: string; port: number; onListen(address: { port: number }): void },
    handler: (request: Request) => Response | Promise<Response>,
  ): unknown;
};

Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: ({ port }) => console.log(`listening ${port}`) }, worker.fetch);
