/**
 * Packs the publishable workspace packages exactly as `pnpm publish` would (`pnpm pack`: the
 * `files` list, `workspace:*` replaced by versions) and installs the tarballs into a throw-away
 * consumer project, without the network: each package's own dependencies are linked from the
 * workspace's node_modules.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, readdir, realpath, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createPackageFromTarballData, type Package } from '@arethetypeswrong/core';

const run = promisify(execFile);

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  [field: string]: unknown;
}

export interface WorkspacePackage {
  /** `packages/core` */
  path: string;
  manifest: Manifest;
}

export interface PackedPackage extends WorkspacePackage {
  tarball: Uint8Array;
  /** The tarball's files, read in memory (paths `/node_modules/<name>/…`). */
  files: Package;
  /** The package.json inside the tarball. */
  packed: Manifest;
}

/** Every package under packages/ that is not `private`: what a release publishes. */
export async function publicPackages(): Promise<WorkspacePackage[]> {
  const found: WorkspacePackage[] = [];
  for (const dir of (await readdir(join(ROOT, 'packages'))).sort()) {
    const file = join(ROOT, 'packages', dir, 'package.json');
    if (!existsSync(file)) continue;
    const manifest = JSON.parse(await readFile(file, 'utf8')) as Manifest;
    if (manifest.private !== true) found.push({ path: `packages/${dir}`, manifest });
  }
  return found;
}

// The pnpm that runs `pnpm test` (npm_execpath), else the one CI installs with npx.
function pnpm(): [string, string[]] {
  const execpath = process.env.npm_execpath;
  if (execpath !== undefined && /pnpm/.test(basename(execpath))) return [process.execPath, [execpath]];
  return ['npx', ['-y', 'pnpm@10']];
}

/** `pnpm pack` of every public package into `dir` (one pnpm run for all). */
export async function packAll(dir: string): Promise<PackedPackage[]> {
  const packages = await publicPackages();
  const [cmd, prefix] = pnpm();
  const filters = packages.flatMap((p) => ['--filter', p.manifest.name]);
  const { stdout } = await run(cmd, [...prefix, '-r', ...filters, 'pack', '--pack-destination', dir, '--json'], {
    cwd: ROOT,
    maxBuffer: 64 << 20,
  });
  const reported = JSON.parse(stdout) as { name: string; filename: string }[] | { name: string; filename: string };
  const byName = new Map((Array.isArray(reported) ? reported : [reported]).map((r) => [r.name, r.filename]));
  return Promise.all(
    packages.map(async (p) => {
      const filename = byName.get(p.manifest.name);
      if (filename === undefined) throw new Error(`pnpm pack did not report ${p.manifest.name}`);
      const tarball = new Uint8Array(await readFile(filename));
      const files = createPackageFromTarballData(tarball);
      const packed = JSON.parse(files.readFile(`/node_modules/${p.manifest.name}/package.json`)) as Manifest;
      return { ...p, tarball, files, packed };
    }),
  );
}

/** Paths inside the tarball, relative to the package root (`dist/index.js`). */
export function tarballPaths(p: PackedPackage): string[] {
  const prefix = `/node_modules/${p.manifest.name}/`;
  return p.files.listFiles().map((f) => f.slice(prefix.length));
}

/**
 * Writes the tarballs into `<consumer>/node_modules` and links every dependency and peer they
 * name (plus `@types/*` the workspace package uses for them) from the workspace.
 */
export async function installPacked(consumer: string, packages: readonly PackedPackage[]): Promise<void> {
  const modules = join(consumer, 'node_modules');
  for (const p of packages) {
    for (const path of tarballPaths(p)) {
      const target = join(modules, p.manifest.name, path);
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, p.files.readFile(`/node_modules/${p.manifest.name}/${path}`));
    }
  }
  const ours = new Set(packages.map((p) => p.manifest.name));
  for (const p of packages) {
    const deps = Object.keys({ ...asRecord(p.packed.dependencies), ...asRecord(p.packed.peerDependencies) }).filter((d) => !ours.has(d));
    const types = deps.map((d) => `@types/${d.replace(/^@([^/]+)\//, '$1__')}`);
    for (const dep of [...deps, ...types, '@types/node']) {
      const link = join(modules, dep);
      const source = [join(ROOT, p.path, 'node_modules', dep), join(ROOT, 'node_modules', dep)].find((s) => existsSync(s));
      if (existsSync(link) || source === undefined) continue;
      await mkdir(dirname(link), { recursive: true });
      await symlink(await realpath(source), link, 'dir');
    }
  }
}

function asRecord(value: unknown): Record<string, string> {
  return typeof value === 'object' && value !== null ? (value as Record<string, string>) : {};
}
