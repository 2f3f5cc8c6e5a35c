/**
 * API reports (issue #14): the public surface of every entry point of every published package,
 * as API Extractor sees its built declarations, checked in under etc/. The api-report test fails
 * when a build's surface differs from the checked-in report, so a change to the public API is
 * always deliberate: `pnpm api:update` rebuilds the packages and rewrites the reports.
 *
 *   node scripts/api-report.mjs            check (exit 1 and name the reports that differ)
 *   node scripts/api-report.mjs --update   rewrite etc/*.api.md from packages/*\/dist
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import apiExtractor from '@microsoft/api-extractor';

const { Extractor, ExtractorConfig } = apiExtractor;
const ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * One report per `exports` entry of each public package under `root`/packages: `core` for
 * `@wimse/core`, `core-node` for `@wimse/core/node`, …
 * @returns {{ name: string, specifier: string, packageFolder: string, types: string }[]}
 */
export function entryPoints(root = ROOT) {
  const entries = [];
  for (const dir of readdirSync(join(root, 'packages')).sort()) {
    const packageFolder = join(root, 'packages', dir);
    const manifest = JSON.parse(readFileSync(join(packageFolder, 'package.json'), 'utf8'));
    if (manifest.private === true) continue;
    for (const [subpath, target] of Object.entries(manifest.exports ?? {})) {
      if (typeof target !== 'object' || target.types === undefined) continue;
      const sub = subpath === '.' ? '' : subpath.slice(2);
      entries.push({
        name: sub === '' ? dir : `${dir}-${sub.replace(/\//g, '-')}`,
        specifier: sub === '' ? manifest.name : `${manifest.name}/${sub}`,
        packageFolder,
        types: join(packageFolder, target.types),
      });
    }
  }
  return entries;
}

/**
 * Runs API Extractor over every entry point of the packages under `root` (default: this repository),
 * comparing with (or, with `update`, writing) `root`/etc/<name>.api.md.
 * @param {{ update?: boolean, root?: string }} [options]
 * @returns {{ name: string, specifier: string, changed: boolean, errors: string[] }[]}
 */
export function apiReports({ update = false, root = ROOT } = {}) {
  const temp = mkdtempSync(join(tmpdir(), 'wimse-api-'));
  try {
    return entryPoints(root).map((entry) => {
      const config = ExtractorConfig.prepare({
        configObjectFullPath: undefined,
        packageJsonFullPath: join(entry.packageFolder, 'package.json'),
        configObject: {
          projectFolder: entry.packageFolder,
          mainEntryPointFilePath: entry.types,
          compiler: {
            overrideTsconfig: {
              compilerOptions: {
                module: 'nodenext',
                moduleResolution: 'nodenext',
                target: 'es2022',
                strict: true,
                skipLibCheck: true,
                types: ['node'],
              },
            },
          },
          apiReport: { enabled: true, reportFileName: `${entry.name}.api.md`, reportFolder: join(root, 'etc'), reportTempFolder: temp },
          docModel: { enabled: false },
          dtsRollup: { enabled: false },
          tsdocMetadata: { enabled: false },
          newlineKind: 'lf',
          messages: {
            compilerMessageReporting: { default: { logLevel: 'error' } },
            extractorMessageReporting: {
              default: { logLevel: 'warning', addToApiReportFile: true },
              // Release tags (@public/@beta) are not used: everything exported is public.
              'ae-missing-release-tag': { logLevel: 'none' },
              // A public type that is not exported is recorded in the report, for review.
              'ae-forgotten-export': { logLevel: 'none', addToApiReportFile: true },
              // TSDoc is TypeDoc's to check (`pnpm docs`).
              'ae-unresolved-link': { logLevel: 'none' },
              'ae-undocumented': { logLevel: 'none', addToApiReportFile: false },
            },
            tsdocMessageReporting: { default: { logLevel: 'none' } },
          },
        },
      });
      const errors = [];
      const result = Extractor.invoke(config, {
        localBuild: update,
        messageCallback: (message) => {
          message.handled = true;
          // console-* messages narrate the report's own comparison, told through `changed`.
          if (message.messageId.startsWith('console-')) return;
          if (message.logLevel === 'error' || message.logLevel === 'warning') errors.push(message.formatMessageWithLocation(root));
        },
      });
      return { name: entry.name, specifier: entry.specifier, changed: result.apiReportChanged, errors };
    });
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const update = process.argv.includes('--update');
  let failed = false;
  for (const r of apiReports({ update })) {
    for (const e of r.errors) console.error(`${r.specifier}: ${e}`);
    if (r.changed) console.log(`${update ? 'updated' : 'CHANGED'} etc/${r.name}.api.md (${r.specifier})`);
    failed ||= r.errors.length > 0 || (r.changed && !update);
  }
  if (failed && !update) console.error('The public API differs from etc/*.api.md: review the change, then run `pnpm api:update`.');
  process.exitCode = failed ? 1 : 0;
}
