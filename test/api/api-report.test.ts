/**
 * API reports (issue #14): the public surface of every published entry point, as built, equals the
 * checked-in etc/<name>.api.md. A deliberate change is recorded with `pnpm api:update`; an
 * accidental one fails here. Reads packages/*\/dist, which `pnpm test` builds first.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiReports, entryPoints, type ApiReportResult } from '../../scripts/api-report.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ENTRIES = entryPoints();
let results: ApiReportResult[];

beforeAll(() => {
  results = apiReports();
}, 120_000);

describe('every published entry point has a checked-in API report', () => {
  it('lists the entry points of every public package, subpaths included', () => {
    expect(ENTRIES.map((e) => e.specifier)).toEqual(
      expect.arrayContaining([
        '@wimse/core',
        '@wimse/core/node',
        '@wimse/core/adapter',
        '@wimse/express',
        '@wimse/fastify',
        '@wimse/hono',
        '@wimse/nestjs',
        '@wimse/redis',
        '@wimse/cli',
      ]),
    );
  });

  it('has a report file for each, and none for an entry point that no longer exists', async () => {
    const files = (await readdir(join(ROOT, 'etc'))).filter((f) => f.endsWith('.api.md')).sort();
    expect(files).toEqual(ENTRIES.map((e) => `${e.name}.api.md`).sort());
  });
});

describe('the built public API equals the checked-in report (else review, then `pnpm api:update`)', () => {
  for (const entry of ENTRIES) {
    it(entry.specifier, () => {
      const r = results.find((x) => x.specifier === entry.specifier);
      expect(r?.errors).toEqual([]);
      expect(r?.changed, `${entry.specifier}: public API differs from etc/${entry.name}.api.md`).toBe(false);
    });
  }
});

// The check itself, on a throw-away package: a changed signature is caught and the report left alone.
describe('a changed signature fails the check until the report is updated', () => {
  let root: string;
  const dts = (param: string) => `/** Greets. */\nexport declare function greet(name: ${param}): string;\n`;

  beforeAll(async () => {
    // Inside the repository, so @types/node resolves as for the real packages.
    root = await mkdtemp(join(ROOT, 'test/api/.fixture-'));
    await mkdir(join(root, 'packages/demo/dist'), { recursive: true });
    await writeFile(
      join(root, 'packages/demo/package.json'),
      JSON.stringify({
        name: '@fixture/demo',
        version: '1.0.0',
        type: 'module',
        exports: { '.': { types: './dist/index.d.ts', default: './dist/index.js' } },
      }),
    );
    await writeFile(join(root, 'packages/demo/dist/index.d.ts'), dts('string'));
    await mkdir(join(root, 'etc'));
    expect(apiReports({ root, update: true })[0]?.errors).toEqual([]);
  }, 60_000);

  afterAll(async () => {
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  });

  it('passes while the surface is unchanged', () => {
    expect(apiReports({ root }).map((r) => r.changed)).toEqual([false]);
  });

  it('fails when a parameter type changes, and leaves the checked-in report as it was', async () => {
    const before = await readFile(join(root, 'etc/demo.api.md'), 'utf8');
    expect(before).toContain('export function greet(name: string): string;');
    await writeFile(join(root, 'packages/demo/dist/index.d.ts'), dts('number'));
    expect(apiReports({ root }).map((r) => r.changed)).toEqual([true]);
    expect(await readFile(join(root, 'etc/demo.api.md'), 'utf8')).toBe(before);
  });
});
