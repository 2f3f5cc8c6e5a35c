/**
 * The Redis tests must run, not skip, in CI (issue 10): every Redis test file awaits
 * redisForTests() at its top level, so with WIMSE_REQUIRE_REDIS=1 (set by .ci/run) a machine with
 * no redis-server fails those files instead of skipping them. Checked in a child process whose PATH
 * holds node and nothing else.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const support = new URL('./redis-server.mjs', import.meta.url).href;
const bin = mkdtempSync(join(tmpdir(), 'wimse-no-redis-'));
symlinkSync(process.execPath, join(bin, 'node'));
afterAll(() => rmSync(bin, { recursive: true, force: true }));

/** A module that awaits redisForTests() at its top level, as the Redis test files do, run where no redis-server is on the PATH. */
function withoutRedis(env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const script = `const { redisForTests } = await import(${JSON.stringify(support)}); console.log('version:', String(await redisForTests()));`;
  return new Promise((resolve) => {
    execFile(process.execPath, ['--input-type=module', '-e', script], { env: { PATH: bin, ...env } }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr }),
    );
  });
}

describe('no redis-server on the PATH', () => {
  it('with WIMSE_REQUIRE_REDIS=1 (CI): the Redis test module throws, so its tests fail rather than skip', async () => {
    const r = await withoutRedis({ WIMSE_REQUIRE_REDIS: '1' });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/WIMSE_REQUIRE_REDIS=1 but redis-server cannot be run/);
    expect(r.stdout).not.toMatch(/version:/);
  });

  it('without it (locally): no version, and a warning saying the Redis tests are skipped and how to run them', async () => {
    const r = await withoutRedis({});
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^version: undefined$/m);
    expect(r.stderr).toMatch(/redis-server not found: the Redis tests are skipped \(install redis-server/);
  });
});
