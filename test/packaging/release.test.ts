/**
 * Releases go through Changesets (.changeset/): the public packages are versioned together and
 * published publicly; private workspace packages (apps, tests) are never versioned. `changeset
 * version` is run on a copy of the workspace's manifests to show what a release would write.
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, publicPackages, type Manifest } from './pack.js';

const run = promisify(execFile);

interface ChangesetConfig {
  access: string;
  baseBranch: string;
  fixed: string[][];
  linked: string[][];
  privatePackages?: { version: boolean; tag: boolean };
}

const config = JSON.parse(await readFile(join(ROOT, '.changeset/config.json'), 'utf8')) as ChangesetConfig;
const PUBLIC = (await publicPackages()).map((p) => p.manifest.name).sort();

describe('Changesets configuration', () => {
  it('publishes the scoped packages publicly', () => {
    expect(config.access).toBe('public');
  });

  it('versions every public package together (one fixed group holding exactly them)', () => {
    expect(config.fixed.map((g) => [...g].sort())).toEqual([PUBLIC]);
    expect(config.linked).toEqual([]);
  });

  it('never versions or tags private workspace packages', () => {
    expect(config.privatePackages).toEqual({ version: false, tag: false });
  });

  it('pending changesets name only public packages', async () => {
    const named = new Set<string>();
    for (const file of (await readdir(join(ROOT, '.changeset'))).filter((f) => f.endsWith('.md') && f !== 'README.md')) {
      const front = /^---\n([\s\S]*?)\n---/.exec(await readFile(join(ROOT, '.changeset', file), 'utf8'))?.[1] ?? '';
      for (const m of front.matchAll(/^["']?([^"':]+)["']?\s*:\s*(major|minor|patch)\s*$/gm)) named.add(m[1]!);
    }
    expect([...named].filter((n) => !PUBLIC.includes(n))).toEqual([]);
  });
});

describe('changeset version (on a copy of the workspace manifests)', () => {
  let copy: string | undefined;
  afterAll(async () => {
    if (copy !== undefined) await rm(copy, { recursive: true, force: true });
  });

  it('gives every public package the same new version and a CHANGELOG entry, and leaves private packages alone', async () => {
    copy = await mkdtemp(join(tmpdir(), 'wimse-changeset-'));
    for (const f of ['package.json', 'pnpm-workspace.yaml']) await cp(join(ROOT, f), join(copy, f));
    await cp(join(ROOT, '.changeset'), join(copy, '.changeset'), { recursive: true });
    const manifests = await workspaceManifests();
    for (const [dir, m] of manifests) {
      await mkdir(join(copy, dir), { recursive: true });
      await writeFile(join(copy, dir, 'package.json'), JSON.stringify(m, null, 2));
    }
    await symlink(join(ROOT, 'node_modules'), join(copy, 'node_modules'), 'dir');
    // A change to core alone: the fixed group carries every public package along.
    await writeFile(join(copy, '.changeset', 'packaging-test.md'), '---\n"@wimse/core": patch\n---\n\nPackaging test: a core-only fix.\n');

    await run(process.execPath, [join(ROOT, 'node_modules/@changesets/cli/bin.js'), 'version'], { cwd: copy });

    const after = new Map<string, Manifest>();
    for (const [dir] of manifests) after.set(dir, JSON.parse(await readFile(join(copy, dir, 'package.json'), 'utf8')) as Manifest);
    const versions = new Set<string>();
    for (const [dir, before] of manifests) {
      const now = after.get(dir)!;
      if (before.private === true) {
        expect(now.version, dir).toBe(before.version);
        expect(existsSync(join(copy, dir, 'CHANGELOG.md')), dir).toBe(false);
        continue;
      }
      expect(greater(now.version, before.version), `${dir}: ${before.version} → ${now.version}`).toBe(true);
      versions.add(now.version);
      expect(await readFile(join(copy, dir, 'CHANGELOG.md'), 'utf8')).toContain(`## ${now.version}`);
    }
    expect(versions.size).toBe(1);
    expect(await readFile(join(copy, 'packages/core/CHANGELOG.md'), 'utf8')).toContain('Packaging test: a core-only fix.');
    // Consumed changesets are removed; the config stays.
    expect((await readdir(join(copy, '.changeset'))).filter((f) => f.endsWith('.md') && f !== 'README.md')).toEqual([]);
  });
});

// Every workspace package's manifest, by directory (packages/*, apps/*, test).
async function workspaceManifests(): Promise<Map<string, Manifest>> {
  const found = new Map<string, Manifest>();
  for (const parent of ['packages', 'apps']) {
    for (const dir of await readdir(join(ROOT, parent))) {
      const file = join(ROOT, parent, dir, 'package.json');
      if (existsSync(file)) found.set(`${parent}/${dir}`, JSON.parse(await readFile(file, 'utf8')) as Manifest);
    }
  }
  found.set('test', JSON.parse(await readFile(join(ROOT, 'test/package.json'), 'utf8')) as Manifest);
  return found;
}

function greater(a: string, b: string): boolean {
  const [x, y] = [a, b].map((v) => v.split(/[.-]/).slice(0, 3).map(Number));
  for (let i = 0; i < 3; i++) if (x![i] !== y![i]) return x![i]! > y![i]!;
  return false;
}
