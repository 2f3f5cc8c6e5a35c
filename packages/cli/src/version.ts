/** The CLI's version, from its package.json (one level above both src/ and dist/), and the drafts it speaks. */
import { readFileSync } from 'node:fs';
import { DRAFT_VERSIONS } from '@wimse/core';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

export const VERSION: string = pkg.version;

/** What `wimse --version` prints. */
export function versionText(): string {
  return `wimse ${VERSION}\n${Object.values(DRAFT_VERSIONS).join('\n')}\n`;
}
