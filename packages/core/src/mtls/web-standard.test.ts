/**
 * The main entry must load on Web-standard runtimes (Hono on Workers): no module reachable from
 * `src/index.ts` may import a `node:` module at run time. Node-only code lives behind `@wimse/core/node`.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function runtimeImports(entry: string): { modules: Set<string>; node: string[] } {
  const modules = new Set<string>();
  const node: string[] = [];
  const walk = (file: string) => {
    if (modules.has(file)) return;
    modules.add(file);
    for (const m of readFileSync(file, 'utf8').matchAll(/^(?:import|export)\s+(?!type\b)[^;]*?from\s+'([^']+)'/gms)) {
      const spec = m[1] ?? '';
      if (spec.startsWith('.')) walk(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
      else if (spec.startsWith('node:')) node.push(`${file.slice(SRC.length + 1)} → ${spec}`);
    }
  };
  walk(resolve(SRC, entry));
  return { modules, node };
}

describe('entry points', () => {
  it('index.ts reaches no node: module, yet includes the mTLS verifier', () => {
    const { modules, node } = runtimeImports('index.ts');
    expect(node).toEqual([]);
    expect([...modules].some((m) => m.endsWith('mtls/workload-certificate.ts'))).toBe(true);
  });

  it('node.ts is where the Node-only credential code lives', () => {
    expect(runtimeImports('node.ts').node).toEqual(
      expect.arrayContaining(['mtls/credential-files.ts → node:fs', 'mtls/tls-credentials.ts → node:tls']),
    );
  });
});
