/**
 * A TypeScript project that depends on the packed packages: writes its files, type-checks them
 * with the workspace's TypeScript and the given compiler options, and optionally emits JavaScript
 * to run with Node.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import ts from 'typescript';

export interface ConsumerProject {
  /** `module` or `commonjs`: the project's package.json `type`. */
  type: 'module' | 'commonjs';
  /** File name → TypeScript source. */
  files: Record<string, string>;
  options: ts.CompilerOptions;
}

export interface Compiled {
  /** One line per diagnostic: `file(line,col): TS1234 message`. */
  diagnostics: string[];
  codes: number[];
  outDir: string;
}

/** Type-checks (and emits, unless `noEmit`) a project in `dir`, which must sit under the consumer's node_modules. */
export async function compile(dir: string, project: ConsumerProject): Promise<Compiled> {
  await packageDir(dir, project.type);
  const rootNames: string[] = [];
  for (const [name, source] of Object.entries(project.files)) {
    rootNames.push(join(dir, name));
    await writeFile(join(dir, name), source);
  }
  const outDir = join(dir, 'out');
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    strict: true,
    types: ['node'],
    outDir,
    rootDir: dir,
    ...project.options,
  };
  const program = ts.createProgram({ rootNames, options, host: cachingHost(options) });
  // The project's files and ours, checked as `skipLibCheck` says; other packages' declarations are theirs to check.
  const checked = program.getSourceFiles().filter((f) => rootNames.includes(f.fileName) || f.fileName.includes('/node_modules/@wimse/'));
  const all = [
    ...program.getOptionsDiagnostics(),
    ...program.getGlobalDiagnostics(),
    ...checked.flatMap((f) => [...program.getSyntacticDiagnostics(f), ...program.getSemanticDiagnostics(f)]),
    ...(options.noEmit === true ? [] : program.emit().diagnostics),
  ];
  const diagnostics = all.map((d) => {
    const text = ts.flattenDiagnosticMessageText(d.messageText, '\n').split('\n')[0];
    if (d.file === undefined || d.start === undefined) return `TS${d.code} ${text}`;
    const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
    return `${d.file.fileName.replace(dir, '.')}(${line + 1},${character + 1}): TS${d.code} ${text}`;
  });
  return { diagnostics, codes: all.map((d) => d.code), outDir };
}

// Parsed declaration files of other packages (@types/node, frameworks), shared by the projects.
const parsed = new Map<string, ts.SourceFile | undefined>();

function cachingHost(options: ts.CompilerOptions): ts.CompilerHost {
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (fileName, version, onError, fresh) => {
    if (!fileName.includes('/node_modules/') || fileName.includes('/node_modules/@wimse/'))
      return getSourceFile(fileName, version, onError, fresh);
    const v = typeof version === 'object' ? version : { languageVersion: version };
    const key = `${fileName}\0${v.languageVersion}\0${String(v.impliedNodeFormat)}`;
    if (!parsed.has(key)) parsed.set(key, getSourceFile(fileName, version, onError, fresh));
    return parsed.get(key);
  };
  return host;
}

/** A directory with a package.json of the given `type`. */
export async function packageDir(dir: string, type: 'module' | 'commonjs'): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type }));
}

/** An identifier for an entry point (`@wimse/core/node` → `wimse_core_node`). */
export function identifierOf(specifier: string): string {
  return specifier.replace(/^@/, '').replace(/[^A-Za-z0-9]/g, '_');
}
