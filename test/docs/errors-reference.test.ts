/**
 * docs/errors.md (issue #14): generated from ERROR_CODES and kept in sync here, and the `type` URI of
 * every problem body lands on the code's entry. Regenerate with `pnpm docs:errors`.
 */
import { readFile } from 'node:fs/promises';
import { ERROR_CODES, WimseError, type WimseErrorCode } from '@wimse/core';
import { describe, expect, it } from 'vitest';
import { ERROR_GUIDE } from '../../scripts/docs/error-guide.mjs';
import { ERRORS_MD, renderErrorsReference } from '../../scripts/docs/errors-reference.mjs';

const ROOT = new URL('../../', import.meta.url);
const markdown = await readFile(ERRORS_MD, 'utf8');
const codes = Object.keys(ERROR_CODES) as WimseErrorCode[];
// The published location of the file, from the repository URL in the root package.json.
const repository = (JSON.parse(await readFile(new URL('package.json', ROOT), 'utf8')) as { repository: { url: string } }).repository.url;
const page = `${repository.replace(/^git\+/, '').replace(/\.git$/, '')}/blob/main/docs/errors.md`;

/** GitHub's heading anchors: lower case, punctuation other than `-` and `_` dropped, spaces to `-`. */
function anchors(md: string): Set<string> {
  const headings = md.split('\n').flatMap((line) => /^#{1,6} (.+)$/.exec(line)?.[1] ?? []);
  return new Set(
    headings.map((h) =>
      h
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N}\s_-]/gu, '')
        .replace(/\s/g, '-'),
    ),
  );
}

describe('docs/errors.md is generated from ERROR_CODES', () => {
  it('is up to date (else run `pnpm docs:errors`)', () => {
    expect(markdown).toBe(renderErrorsReference(ERROR_CODES));
  });

  it('gives every code a meaning and what to do (scripts/docs/error-guide.mjs)', () => {
    const missing = codes.filter((c) => ERROR_GUIDE[c] === undefined || ERROR_GUIDE[c].some((text) => text.trim() === ''));
    expect(missing).toEqual([]);
  });

  it('describes no code that does not exist', () => {
    expect(Object.keys(ERROR_GUIDE).filter((c) => !(c in ERROR_CODES))).toEqual([]);
  });

  it("states each code's HTTP status and title from ERROR_CODES", () => {
    const wrong = codes.filter((c) => !markdown.includes(`### ${c}\n\n**${ERROR_CODES[c].status}** — ${ERROR_CODES[c].title}\n`));
    expect(wrong).toEqual([]);
  });

  it('links every row of its table to an entry', () => {
    const targets = [...markdown.matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1]!);
    expect(targets).toHaveLength(codes.length);
    const have = anchors(markdown);
    expect(targets.filter((t) => !have.has(t))).toEqual([]);
  });
});

describe("problem `type` URIs point at the code's anchor in docs/errors.md", () => {
  it("every code's problem type is the page URL with the code as fragment", () => {
    const wrong = codes.filter((c) => new WimseError(c).problem.type !== `${page}#${c}`);
    expect(wrong).toEqual([]);
  });

  it('every such fragment is an anchor of the page', () => {
    const have = anchors(markdown);
    const dangling = codes.map((c) => new URL(new WimseError(c).problem.type).hash.slice(1)).filter((a) => !have.has(a));
    expect(dangling).toEqual([]);
  });
});
