/**
 * What `npm install @wimse/<pkg>` gets: every public package packed as a release would pack it,
 * then checked with publint and arethetypeswrong, inspected file by file, installed into a
 * throw-away project and loaded from ESM, CommonJS (`require(esm)`) and TypeScript projects of
 * each module setting. The packages are ESM-only (see the README, "Module format").
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { promisify } from 'node:util';
import { checkPackage } from '@arethetypeswrong/core';
import { problemKindInfo } from '@arethetypeswrong/core/problems';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compile, identifierOf, packageDir } from './consumer.js';
import { ROOT, installPacked, packAll, publicPackages, tarballPaths, type Manifest, type PackedPackage } from './pack.js';

const run = promisify(execFile);

/** md5 of the Apache License 2.0 text as published at https://www.apache.org/licenses/LICENSE-2.0.txt */
const APACHE_2_0_MD5 = '3b83ef96387f14655fc854ddc3c6bd57';

const PACKAGES = await publicPackages();
const rootManifest = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as Manifest & { repository: { url: string } };

let work: string;
let consumer: string;
const packed = new Map<string, PackedPackage>();

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'wimse-packages-'));
  await mkdir(join(work, 'tarballs'));
  for (const p of await packAll(join(work, 'tarballs'))) packed.set(p.manifest.name, p);
  consumer = join(work, 'consumer');
  await installPacked(consumer, [...packed.values()]);
}, 180_000);

afterAll(async () => {
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

function pkg(name: string): PackedPackage {
  const p = packed.get(name);
  if (p === undefined) throw new Error(`${name} was not packed`);
  return p;
}

/** Every import specifier a consumer can use: `@wimse/core`, `@wimse/core/node`, … (from the packed `exports`). */
function entryPoints(): string[] {
  return [...packed.values()].flatMap((p) =>
    Object.keys(p.packed.exports as Record<string, unknown>)
      .filter((k) => k !== './package.json')
      .map((k) => posix.join(p.manifest.name, k)),
  );
}

describe('the packages to publish', () => {
  it('are every non-private package under packages/', () => {
    expect(PACKAGES.map((p) => p.manifest.name)).toEqual(
      expect.arrayContaining([
        '@wimse/core',
        '@wimse/express',
        '@wimse/fastify',
        '@wimse/hono',
        '@wimse/nestjs',
        '@wimse/redis',
        '@wimse/cli',
      ]),
    );
  });
});

describe('publint (strict, suggestions included) finds nothing', () => {
  for (const { manifest } of PACKAGES) {
    it(manifest.name, async () => {
      const { tarball } = pkg(manifest.name);
      const { messages, pkg: json } = await publint({
        pack: { tarball: tarball.buffer as ArrayBuffer },
        level: 'suggestion',
        strict: true,
      });
      expect(messages.map((m) => `${m.type} ${m.code}: ${formatMessage(m, json) ?? ''}`)).toEqual([]);
    });
  }
});

/**
 * arethetypeswrong over every entry point and resolution mode. The one problem allowed is the
 * ESM-only decision itself: under `node16` CommonJS, TypeScript sees an ES module (use `import()`,
 * or `module: nodenext` with TypeScript ≥ 5.8 for `require`). Nothing else — node10 included.
 */
describe('arethetypeswrong finds no problem other than "ESM-only"', () => {
  for (const { manifest } of PACKAGES) {
    it(manifest.name, async () => {
      const analysis = await checkPackage(pkg(manifest.name).files);
      if (!analysis.types) throw new Error(`${manifest.name}: no types found`);
      const problems = analysis.problems.filter((p) => !(p.kind === 'CJSResolvesToESM' && p.resolutionKind === 'node16-cjs'));
      expect(problems.map((p) => `${p.kind} ${JSON.stringify(p)}: ${problemKindInfo[p.kind].description}`)).toEqual([]);
      expect(Object.keys(analysis.entrypoints).sort()).toEqual(Object.keys(pkg(manifest.name).packed.exports as object).sort());
    });
  }
});

describe('a tarball holds package.json, README, LICENSE, CHANGELOG and built files only', () => {
  for (const { manifest } of PACKAGES) {
    it(manifest.name, () => {
      const p = pkg(manifest.name);
      const paths = tarballPaths(p);
      expect(paths.filter((f) => !/^(package\.json|README\.md|LICENSE|CHANGELOG\.md|dist\/.+\.(js|d\.ts|js\.map))$/.test(f))).toEqual([]);
      expect(paths.filter((f) => /\.test\.|test-support|__fixtures__/.test(f))).toEqual([]);
      expect(paths).toEqual(expect.arrayContaining(['package.json', 'README.md', 'LICENSE']));
      expect(p.files.readFile(`/node_modules/${manifest.name}/README.md`)).toMatch(
        new RegExp(`^# ${manifest.name.replace('/', '\\/')}\\b`),
      );
    });
  }
});

describe('each package is licensed Apache-2.0 with the full license text', () => {
  it('the repository root LICENSE is the Apache License 2.0, verbatim', async () => {
    expect(
      createHash('md5')
        .update(await readFile(join(ROOT, 'LICENSE')))
        .digest('hex'),
    ).toBe(APACHE_2_0_MD5);
  });
  for (const { manifest } of PACKAGES) {
    it(manifest.name, () => {
      const p = pkg(manifest.name);
      expect(p.packed.license).toBe('Apache-2.0');
      const text = p.files.readFile(`/node_modules/${manifest.name}/LICENSE`);
      expect(createHash('md5').update(text).digest('hex')).toBe(APACHE_2_0_MD5);
    });
  }
});

describe('source maps are shipped only with their sources (sourcesContent)', () => {
  for (const { manifest } of PACKAGES) {
    it(manifest.name, () => {
      const p = pkg(manifest.name);
      const paths = new Set(tarballPaths(p));
      const read = (f: string) => p.files.readFile(`/node_modules/${manifest.name}/${f}`);
      const broken: string[] = [];
      for (const file of paths) {
        // Every sourceMappingURL comment points at a map in the tarball …
        const url = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(read(file))?.[1];
        if (url !== undefined && !paths.has(posix.join(posix.dirname(file), url))) broken.push(`${file} → ${url} (not shipped)`);
        if (!file.endsWith('.map')) continue;
        // … and every source a map names is either in the tarball or embedded.
        const map = JSON.parse(read(file)) as { sources: string[]; sourcesContent?: (string | null)[] };
        map.sources.forEach((source, i) => {
          if (typeof map.sourcesContent?.[i] !== 'string' && !paths.has(posix.join(posix.dirname(file), source)))
            broken.push(`${file}: ${source}`);
        });
      }
      expect(broken).toEqual([]);
      expect([...paths].some((f) => f.endsWith('.js.map'))).toBe(true);
    });
  }
});

describe('package.json has what the registry page and a release need', () => {
  const repo = rootManifest.repository.url;
  for (const { manifest, path } of PACKAGES) {
    it(manifest.name, () => {
      const m = pkg(manifest.name).packed;
      expect(m.description).toEqual(expect.stringMatching(/\S/));
      expect(m.repository).toEqual({ type: 'git', url: repo, directory: path });
      expect(m.homepage).toBe(`${repo.replace(/^git\+/, '').replace(/\.git$/, '')}/tree/main/${path}#readme`);
      expect(m.bugs).toEqual({ url: `${repo.replace(/^git\+/, '').replace(/\.git$/, '')}/issues` });
      expect(m.keywords).toEqual(expect.arrayContaining(['wimse', 'workload-identity']));
      expect(m.type).toBe('module');
      expect(m.engines).toEqual({ node: '>=20.19' });
      expect(m.publishConfig).toEqual({ access: 'public' });
      // pnpm pack replaced `workspace:*`; sibling packages are pinned to the version released with them.
      const deps = { ...(m.dependencies as Record<string, string>), ...(m.peerDependencies as Record<string, string> | undefined) };
      for (const [dep, range] of Object.entries(deps)) {
        expect(range, dep).not.toMatch(/^workspace:/);
        if (packed.has(dep)) expect(range, dep).toBe(pkg(dep).packed.version);
      }
    });
  }
});

describe('ESM-only packages load with require() on Node ≥ 20.19 (require(esm), no flag)', () => {
  it('require() and import() of every entry point give the same exports', async () => {
    const script = `
      const entries = ${JSON.stringify(entryPoints())};
      (async () => {
        const out = {};
        for (const e of entries) out[e] = [Object.keys(require(e)).sort(), Object.keys(await import(e)).sort()];
        console.log(JSON.stringify(out));
      })().catch((e) => { console.error(e); process.exit(1); });`;
    await packageDir(join(consumer, 'cjs-plain'), 'commonjs');
    const { stdout } = await run(process.execPath, ['-e', script], { cwd: join(consumer, 'cjs-plain') });
    const loaded = JSON.parse(stdout) as Record<string, [string[], string[]]>;
    expect(Object.keys(loaded).sort()).toEqual(entryPoints().sort());
    for (const [entry, [required, imported]] of Object.entries(loaded)) {
      expect(required, entry).toEqual(imported.filter((k) => k !== 'default' && k !== 'module.exports'));
      expect(required.length, entry).toBeGreaterThan(0);
    }
  });

  it('the wimse bin is a Node script', () => {
    const cli = pkg('@wimse/cli');
    const bin = (cli.packed.bin as Record<string, string>).wimse;
    expect(bin).toBeDefined();
    expect(cli.files.readFile(`/node_modules/@wimse/cli/${posix.normalize(bin!)}`)).toMatch(/^#!\/usr\/bin\/env node\n/);
  });
});

/** Static imports of every entry point; `NotAny` fails to compile if a namespace lost its types. */
function staticImports(): string {
  const entries = entryPoints();
  return [
    ...entries.map((e) => `import * as ${identifierOf(e)} from '${e}';`),
    'type NotAny<T> = 0 extends 1 & T ? never : T;',
    `const loaded: Record<string, number> = {`,
    ...entries.map((e) => `  '${e}': Object.keys(${identifierOf(e)} satisfies NotAny<typeof ${identifierOf(e)}>).length,`),
    '};',
    'console.log(JSON.stringify(loaded));',
    '',
  ].join('\n');
}

function dynamicImports(): string {
  const entries = entryPoints();
  return [
    'type NotAny<T> = 0 extends 1 & T ? never : T;',
    'async function main(): Promise<void> {',
    '  const loaded: Record<string, number> = {};',
    ...entries.map(
      (e) =>
        `  const ${identifierOf(e)} = await import('${e}');\n  loaded['${e}'] = Object.keys(${identifierOf(e)} satisfies NotAny<typeof ${identifierOf(e)}>).length;`,
    ),
    '  console.log(JSON.stringify(loaded));',
    '}',
    'void main();',
    '',
  ].join('\n');
}

async function runCompiled(file: string): Promise<Record<string, number>> {
  const { stdout } = await run(process.execPath, [file], { cwd: dirname(file) });
  return JSON.parse(stdout) as Record<string, number>;
}

function everyEntryLoaded(loaded: Record<string, number>): void {
  expect(Object.keys(loaded).sort()).toEqual(entryPoints().sort());
  for (const [entry, count] of Object.entries(loaded)) expect(count, entry).toBeGreaterThan(0);
}

// Each project is a TypeScript program over @types/node and every framework's types: seconds each.
const TSC_TIMEOUT = 120_000;

describe('TypeScript projects type-check against the published types (strict, skipLibCheck false for ours)', () => {
  const nodeNext = { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, skipLibCheck: false };

  // One project, three files: ESM (.mts), CommonJS with import() (.cts), CommonJS with require (.cts).
  it(
    'module nodenext: ESM imports, CommonJS import(), and CommonJS require() (TypeScript ≥ 5.8) type-check and run',
    async () => {
      const r = await compile(join(consumer, 'nodenext'), {
        type: 'commonjs',
        files: { 'esm.mts': staticImports(), 'dynamic.cts': dynamicImports(), 'require.cts': staticImports() },
        options: nodeNext,
      });
      expect(r.diagnostics).toEqual([]);
      expect(await readFile(join(r.outDir, 'require.cjs'), 'utf8')).toMatch(/require\("@wimse\/core"\)/);
      for (const file of ['esm.mjs', 'dynamic.cjs', 'require.cjs']) everyEntryLoaded(await runCompiled(join(r.outDir, file)));
    },
    TSC_TIMEOUT,
  );

  it(
    'module node16, CommonJS: import() type-checks; a static import is TS1479 as for any ESM-only package (the documented limit)',
    async () => {
      const r = await compile(join(consumer, 'node16'), {
        type: 'commonjs',
        files: { 'dynamic.ts': dynamicImports(), 'static.ts': staticImports() },
        options: { module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16, skipLibCheck: false, noEmit: true },
      });
      expect(r.diagnostics.filter((d) => !d.startsWith('./static.ts'))).toEqual([]);
      expect(r.codes).toEqual(entryPoints().map(() => 1479));
    },
    TSC_TIMEOUT,
  );

  it(
    'bundler resolution',
    async () => {
      const r = await compile(join(consumer, 'bundler'), {
        type: 'module',
        files: { 'main.ts': staticImports() },
        options: { module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler, skipLibCheck: false, noEmit: true },
      });
      expect(r.diagnostics).toEqual([]);
    },
    TSC_TIMEOUT,
  );

  it(
    'node10 with skipLibCheck false: the one error is structured-headers, a dependency without node10 types (the documented limit)',
    async () => {
      const r = await compile(join(consumer, 'node10-libcheck'), {
        type: 'commonjs',
        files: { 'main.ts': staticImports() },
        options: {
          module: ts.ModuleKind.CommonJS,
          moduleResolution: ts.ModuleResolutionKind.Node10,
          esModuleInterop: true,
          skipLibCheck: false,
          noEmit: true,
        },
      });
      expect(r.diagnostics.filter((d) => !/TS2307 Cannot find module 'structured-headers'/.test(d))).toEqual([]);
    },
    TSC_TIMEOUT,
  );

  // The tsconfig `nest new` writes (nestjs/schematics, application template): module commonjs —
  // whose default resolution is node10, which ignores `exports` — decorators and skipLibCheck.
  it(
    'the NestJS CLI defaults (module commonjs, node10 resolution): type-checks and runs',
    async () => {
      const options: ts.CompilerOptions = {
        module: ts.ModuleKind.CommonJS,
        moduleResolution: ts.ModuleResolutionKind.Node10,
        declaration: true,
        removeComments: true,
        emitDecoratorMetadata: true,
        experimentalDecorators: true,
        allowSyntheticDefaultImports: true,
        target: ts.ScriptTarget.ES2023,
        skipLibCheck: true,
        strict: false,
        strictNullChecks: true,
        noImplicitAny: true,
      };
      const r = await compile(join(consumer, 'nest-cli'), { type: 'commonjs', files: { 'main.ts': staticImports() }, options });
      expect(r.diagnostics).toEqual([]);
      everyEntryLoaded(await runCompiled(join(r.outDir, 'main.js')));
    },
    TSC_TIMEOUT,
  );
});
