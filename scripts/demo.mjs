// `pnpm demo [--serve] [--verbose]`: builds the workspace with turbo, one line per package as it
// starts (compiler errors in full), then runs the built demo (apps/demo, TypeScript in its src).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
await build();
await import('../apps/demo/dist/main.js');

async function build() {
  const started = Date.now();
  console.log('Building the workspace (turbo run build) …');
  const local = `${root}node_modules/.bin/turbo`;
  // new-only: the logs of tasks that run now, none for cached ones; reduced here to one line a package.
  const turbo = spawn(existsSync(local) ? local : 'turbo', ['run', 'build', '--output-logs=new-only'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let built = 0;
  let cached = 0;
  for await (const line of createInterface({ input: turbo.stdout })) {
    const task = /^(\S+?):build: ?(.*)$/.exec(line);
    if (task === null) {
      // turbo's own lines: drop its banner and summary (ours follows), keep anything else (errors).
      if (!/^\s*(•|Tasks:|Cached:|Time:|$)/.test(line)) console.log(line);
      continue;
    }
    const [, pkg, text] = task;
    if (text.startsWith('cache miss')) {
      built++;
      console.log(`  building ${pkg}`);
    } else if (text.startsWith('cache hit')) {
      cached++;
    } else if (text.trim() !== '' && !text.startsWith('> ')) {
      console.log(`  ${pkg}: ${text}`); // compiler output: only on errors (tsc is silent otherwise)
    }
  }
  const code = await new Promise((resolve) => turbo.on('close', resolve));
  if (code !== 0) {
    console.error(`Build failed (turbo exited with ${code}).`);
    process.exit(typeof code === 'number' && code > 0 ? code : 1);
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(
    built === 0
      ? `All ${cached} packages up to date (${seconds} s).\n`
      : `Built ${built} package${built === 1 ? '' : 's'} in ${seconds} s${cached ? ` (${cached} up to date)` : ''}.\n`,
  );
}
