// Prints the plain closing line CI reads ("N passed, N failed") from Vitest's JSON report, and
// before it which Redis the Redis tests ran on (test/support/redis-server.mjs notes each run).
import { existsSync, readFileSync } from 'node:fs';

const r = JSON.parse(readFileSync(new URL('../.vitest-results.json', import.meta.url), 'utf8'));
const log = new URL('../.vitest-redis.log', import.meta.url);
// Only runs noted since this Vitest run started count.
const runs = existsSync(log)
  ? readFileSync(log, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
      .filter((x) => x.at >= r.startTime)
  : [];
const versions = [...new Set(runs.map((x) => x.version))];
const modes = [...new Set(runs.map((x) => x.mode))].sort();
console.log(
  runs.length > 0
    ? `redis: redis-server ${versions.join(', ')} (${modes.join(', ')})`
    : 'redis: no Redis test ran (redis-server not found; CI sets WIMSE_REQUIRE_REDIS=1)',
);
const skipped = r.numPendingTests + r.numTodoTests;
console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(r.numFailedTests > 0 || r.numPassedTests === 0 ? 1 : 0);
