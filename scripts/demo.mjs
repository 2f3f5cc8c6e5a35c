// `pnpm demo [--serve] [--verbose]`: runs the built demo (apps/demo) after `turbo run build`.
// The demo itself is TypeScript in apps/demo/src; this file only starts it from the root.
await import('../apps/demo/dist/main.js');
