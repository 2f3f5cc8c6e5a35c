/** Serves the conformance app with Deno's own server on a free loopback port, printed for launch.ts. */
import worker from './worker.js';

declare const Deno: {
  serve(options: { hostname: string; port: number; onListen(address: { port: number }): void }, handler: (request: Request) => Response | Promise<Response>): unknown;
};

Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: ({ port }) => console.log(`listening ${port}`) }, worker.fetch);
