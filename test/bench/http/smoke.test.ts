// `pnpm bench:http --smoke` in the test run (issue 12): one short round over every adapter, every
// response checked by the benchmark itself. No timing threshold: only that all were accepted.
// The benchmark's server children import the built packages (`pnpm test` builds first).
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const script = fileURLToPath(new URL('./run.mjs', import.meta.url));

describe('bench:http --smoke', () => {
  it('runs every target on the plain, plain + one verify, WPT and signature paths and every response is accepted', async () => {
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [script, '--smoke'], { timeout: 170_000 }, (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr }),
      );
    });
    expect(code, stderr).toBe(0);
    for (const target of ['express4', 'express5', 'fastify', 'hono', 'nestjs-express', 'nestjs-fastify'])
      expect(stdout).toMatch(new RegExp(`^\\| ${target} +\\|`, 'm'));
  }, 180_000);
});
