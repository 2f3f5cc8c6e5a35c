// Web runtimes (issue 14): one ES256 WPT verified N times inside one request, on Node (in process)
// and on Bun, Deno and workerd (served, the round trip of an empty request subtracted), as a ratio
// to Node: the core verifier, the proof signature on the path core picks, and on Web Crypto. Runs test/conformance/runtimes/launch.ts,
// bundled here with esbuild as the conformance suite runs it.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { SECONDS, fmt } from './harness.mjs';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const APP = here('./runtimes/app.ts');
const KINDS = ['verifier', 'proof', 'web'];

export default async function run() {
  // launch.ts is TypeScript: bundle it (its packages stay imports, resolved from test/).
  const dir = await mkdtemp(join(here('.'), '.launch-'));
  try {
    await build({
      entryPoints: [here('../conformance/runtimes/launch.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      packages: 'external',
      outfile: join(dir, 'launch.mjs'),
      logLevel: 'silent',
    });
    const launch = await import(pathToFileURL(join(dir, 'launch.mjs')).href);
    await writeFile(join(dir, 'app.mjs'), await launch.bundle(APP));
    const nodeApp = (await import(pathToFileURL(join(dir, 'app.mjs')).href)).default;
    const timeNode = async (kind, n) => {
      const start = performance.now();
      await nodeApp.fetch(new Request(`http://node/?kind=${kind}&n=${n}`));
      return performance.now() - start;
    };
    const rows = [[`node ${process.versions.node}`, await measure(timeNode)]];
    for (const runtime of [launch.bun, launch.deno, launch.workerd(), launch.workerd(['nodejs_compat'])]) {
      let server;
      try {
        server = await runtime.start(APP);
        const timeServed = async (kind, n) => {
          const start = performance.now();
          const res = await fetch(new URL(`/?kind=${kind}&n=${n}`, server.url));
          if (res.status !== 200) throw new Error(`${runtime.name}: ${res.status} ${await res.text()}`);
          return performance.now() - start;
        };
        rows.push([runtime.name, await measure(timeServed)]);
      } catch (error) {
        rows.push([runtime.name, String(error).split('\n')[0]]);
      } finally {
        await server?.close();
      }
    }
    const base = rows[0][1];
    console.log('web runtimes (ES256 WPT, sequential, median of 3; each rate with its ratio to Node in the same column)');
    console.log('  verifier: createVerifier, WIT cached; proof: the WPT signature on the path core picks there;');
    console.log('  web: the same on Web Crypto (jose). On Node, proof / web is the gain of the node:crypto path.');
    console.log(`  ${''.padEnd(24)}${'verifier'.padStart(21)}${'proof'.padStart(21)}${'web'.padStart(21)}`);
    for (const [name, r] of rows) {
      if (typeof r === 'string') console.log(`  ${name.padEnd(24)}not run: ${r}`);
      else console.log(`  ${name.padEnd(24)}${KINDS.map((k) => `${fmt(r[k])}${(r[k] / base[k]).toFixed(2).padStart(7)}x`).join(' ')}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Operations per second of each kind: a calibration run, then the median of 3 runs of about SECONDS / 3 each. */
async function measure(time) {
  const out = {};
  for (const kind of KINDS) {
    const empty = Math.min(...(await Promise.all([0, 0, 0].map(async () => time(kind, 0)))));
    const probe = Math.max(1, (await time(kind, 300)) - empty);
    const n = Math.max(300, Math.min(100_000, Math.round(((SECONDS / 3) * 1000 * 300) / probe)));
    const runs = [];
    for (let i = 0; i < 3; i++) runs.push(n / (Math.max(0.001, (await time(kind, n)) - empty) / 1000));
    out[kind] = runs.sort((a, b) => a - b)[1];
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
