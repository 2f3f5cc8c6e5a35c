// `pnpm bench`: runs every *.bench.mjs here in one process, one after the other, so the rates
// and ratios they print are measured side by side on the same machine state.
import { readdirSync } from 'node:fs';

const files = readdirSync(new URL('.', import.meta.url))
  .filter((f) => f.endsWith('.bench.mjs'))
  .sort();
for (const f of files) {
  const mod = await import(new URL(f, import.meta.url).href);
  await mod.default();
}
