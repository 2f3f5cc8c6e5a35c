/**
 * The API reference (issue #14): TypeDoc over every public entry point, as `pnpm docs` runs it
 * (typedoc.json, warnings as errors), finds no broken `{@link}`, no public type left unexported and
 * no other warning. Only converts and validates here; `pnpm docs` also writes the HTML to docs/api.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Application, Logger, LogLevel, TSConfigReader, TypeDocReader, type TypeDocOptions } from 'typedoc';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Warnings and errors of a TypeDoc conversion and validation. */
async function typedocProblems(options: TypeDocOptions, readers = [new TypeDocReader(), new TSConfigReader()]): Promise<string[]> {
  const problems: string[] = [];
  const app = await Application.bootstrapWithPlugins(options, readers);
  app.logger = new (class extends Logger {
    override log(message: string, level: LogLevel): void {
      if (level >= LogLevel.Warn && level !== LogLevel.None) problems.push(message);
    }
  })();
  const project = await app.convert();
  if (project === undefined) return [...problems, 'conversion failed'];
  app.validate(project);
  return problems;
}

describe('TypeDoc documents the public packages without a warning (`pnpm docs`)', () => {
  it('typedoc.json: every entry point, links resolved, nothing referenced left unexported', async () => {
    expect(await typedocProblems({ options: join(ROOT, 'typedoc.json') })).toEqual([]);
  }, 120_000);
});

describe('a broken TSDoc link is a failure', () => {
  let dir: string | undefined;
  afterAll(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('names the link that does not resolve', async () => {
    dir = await mkdtemp(join(ROOT, 'test/.snippets-typedoc-'));
    await writeFile(join(dir, 'index.ts'), '/** Like {@link doesNotExist}. */\nexport const answer = 42;\n');
    await writeFile(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { module: 'nodenext', strict: true, noEmit: true, skipLibCheck: true, types: [] },
        files: ['index.ts'],
      }),
    );
    const problems = await typedocProblems(
      { entryPoints: [join(dir, 'index.ts')], tsconfig: join(dir, 'tsconfig.json'), validation: { invalidLink: true }, logLevel: 'Warn' },
      [new TSConfigReader()],
    );
    expect(problems.join('\n')).toMatch(/doesNotExist/);
  }, 60_000);
});
