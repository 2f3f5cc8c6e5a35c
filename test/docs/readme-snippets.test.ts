/**
 * Every ```ts block of README.md and packages/*\/README.md type-checks under strict settings
 * against the workspace packages (issue #14). A block that is a fragment names what it uses in an
 * HTML comment right above it, hidden when the Markdown is rendered:
 *
 *   <!-- snippet-context
 *   import express from 'express'
 *   declare const options: WimseExpressOptions
 *   -->
 *
 * The context goes before the block, or around it where a line `/* snippet *\/` stands (code that
 * must follow it, e.g. the class a decorator applies to). Each block is its own ES module, compiled
 * with the published declarations (packages/*\/dist, built by `pnpm test` first).
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Snippet {
  /** e.g. `packages/hono/README.md:23` (the line of the opening fence). */
  readonly where: string;
  readonly code: string;
  readonly context: string | undefined;
}

/** The ```ts blocks of one Markdown file, each with the snippet-context comment above it, if any. */
export function extractSnippets(markdown: string, file: string): Snippet[] {
  const lines = markdown.split('\n');
  const snippets: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = /^(\s*)(`{3,})(ts|typescript)\s*$/.exec(lines[i]!);
    if (fence === null) {
      // Skip other fenced blocks whole, so a ```ts inside one is not taken for a snippet.
      const other = /^\s*(`{3,})/.exec(lines[i]!);
      if (other !== null) while (++i < lines.length && lines[i]!.trim() !== other[1]);
      continue;
    }
    const end = lines.findIndex((l, j) => j > i && l.trim() === fence[2]);
    if (end === -1) throw new Error(`${file}:${i + 1}: unterminated code block`);
    let k = i - 1;
    while (k >= 0 && lines[k]!.trim() === '') k--;
    let context: string | undefined;
    if (k >= 0 && lines[k]!.trim() === '-->') {
      const start = lines.lastIndexOf('<!-- snippet-context', k);
      if (start !== -1 && lines.slice(start + 1, k).every((l) => !l.includes('-->'))) context = lines.slice(start + 1, k).join('\n');
    }
    snippets.push({ where: `${file}:${i + 1}`, code: lines.slice(i + 1, end).join('\n'), context });
    i = end;
  }
  return snippets;
}

/** The module to compile, and the line of the snippet's first line in it. */
function moduleOf(s: Snippet): { source: string; firstLine: number } {
  const marker = /^\/\* snippet \*\/$/m;
  const context = s.context ?? '';
  const [before, after] = marker.test(context) ? context.split(marker) : [context, ''];
  const head = `${before!.replace(/\n$/, '')}\n`;
  return { source: `${head}${s.code}\n${after!.replace(/^\n/, '')}\nexport {};\n`, firstLine: head.split('\n').length };
}

const OPTIONS: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  lib: ['lib.es2023.d.ts', 'lib.dom.d.ts'],
  types: ['node'],
  strict: true,
  noUncheckedIndexedAccess: true,
  exactOptionalPropertyTypes: true,
  noImplicitOverride: true,
  // NestJS's decorators, as `nest new` configures them.
  experimentalDecorators: true,
  emitDecoratorMetadata: true,
  skipLibCheck: true,
  noEmit: true,
};

const readmes = [
  join(ROOT, 'README.md'),
  ...(await readdir(join(ROOT, 'packages'))).sort().map((p) => join(ROOT, 'packages', p, 'README.md')),
];
const snippets: Snippet[] = [];
for (const file of readmes) {
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text !== undefined) snippets.push(...extractSnippets(text, relative(ROOT, file)));
}

let dir: string;
const diagnostics = new Map<string, string[]>();

beforeAll(async () => {
  // Under test/, so imports resolve through test/node_modules: @wimse/* (workspace) and the frameworks.
  dir = await mkdtemp(join(ROOT, 'test/.snippets-'));
  await writeFile(join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  const files = new Map<string, { snippet: Snippet; firstLine: number }>();
  for (const [n, snippet] of snippets.entries()) {
    const { source, firstLine } = moduleOf(snippet);
    const file = join(dir, `snippet-${n}.ts`);
    await writeFile(file, source);
    files.set(file, { snippet, firstLine });
  }
  const program = ts.createProgram([...files.keys()], OPTIONS);
  for (const [file, { snippet, firstLine }] of files) {
    const sf = program.getSourceFile(file)!;
    const found = [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)].map((d) => {
      const line = d.start === undefined ? 0 : sf.getLineAndCharacterOfPosition(d.start).line + 1;
      const at = line >= firstLine ? `snippet line ${line - firstLine + 1}` : `context line ${line}`;
      return `${at}: TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, '\n').split('\n')[0]}`;
    });
    diagnostics.set(snippet.where, found);
  }
}, 120_000);

afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('README snippets type-check under strict settings', () => {
  it('finds the snippets of the root and package READMEs', () => {
    expect(snippets.length).toBeGreaterThanOrEqual(10);
    expect(new Set(snippets.map((s) => s.where.split(':')[0]))).toEqual(
      new Set(['README.md', ...['core', 'express', 'fastify', 'hono', 'nestjs', 'redis'].map((p) => `packages/${p}/README.md`)]),
    );
  });

  for (const s of snippets) {
    it(s.where, () => {
      expect(diagnostics.get(s.where)).toEqual([]);
    });
  }
});

describe('snippet extraction', () => {
  it('takes the context comment right above a block, and the code between the fences', () => {
    const md = [
      'text',
      '<!-- snippet-context',
      'declare const a: number',
      '-->',
      '',
      '```ts',
      'a + 1',
      '```',
      '```sh',
      '```ts',
      '```',
      '```ts',
      'b',
      '```',
    ].join('\n');
    expect(extractSnippets(md, 'x.md')).toEqual([
      { where: 'x.md:6', code: 'a + 1', context: 'declare const a: number' },
      { where: 'x.md:12', code: 'b', context: undefined },
    ]);
  });

  it('puts the snippet where the context says', () => {
    const { source, firstLine } = moduleOf({ where: 'x', code: '@Dec()', context: 'import { Dec } from "d"\n/* snippet */\nclass A {}' });
    expect(source).toBe('import { Dec } from "d"\n@Dec()\nclass A {}\nexport {};\n');
    expect(firstLine).toBe(2);
  });
});
