import { describe, expect, it } from 'vitest';
import { originForm } from './request-target.js';

// The independent answer: the WHATWG URL parser itself.
const parsed = (url: string): string | undefined => {
  try {
    const u = new URL(url);
    return u.pathname + u.search;
  } catch {
    return undefined; // a Request never carries a URL the parser refuses
  }
};

const ASCII = Array.from({ length: 128 }, (_, i) => String.fromCharCode(i));
const TRICKY = ['.', '/', '%', '2', 'e', 'E', '?', '#', '\\', "'", 'a'];

function* urls(): Generator<string> {
  for (const c of [...ASCII, 'é', '\u2028', '€']) {
    for (const tail of [`/a${c}b`, `/${c}`, `/a${c}`, `/a${c}?q=1`, `/a?${c}`, `/a?x=${c}y`, `/a?x${c}`]) {
      yield `http://svc.example.org${tail}`;
      yield `https://svc.example.org:8443${tail}`;
    }
    yield `http://svc${c}example.org/a?b`;
  }
  // Every sequence of up to four tricky characters after the root: dot segments, "%2e", "\", empty queries, fragments.
  const seqs = (n: number): string[] => (n === 0 ? [''] : seqs(n - 1).flatMap((s) => TRICKY.map((t) => s + t)));
  for (let n = 0; n <= 4; n++) for (const s of seqs(n)) yield `http://h.example/${s}`;
  yield* [
    'http://h.example',
    'https://user:pw@h.example:8443/x/./y?z',
    'HTTP://h.example/Up?Q',
    'http://h.example/a/%2e%2E/b',
    'http://h.example/a/.%2e?x',
    'http://h.example/a/..',
    'http://h.example/a/.../b',
    'http://h.example/orders?id=7&sort=-date',
    'http://127.0.0.1:3000/bench',
    'http:///a/b',
    'http://[::1]:8080/v1/x;y=1?q=%20a+b',
  ];
}

describe('originForm: pathname + search, as the URL parser reads the request URL', () => {
  it('agrees with new URL on every ASCII character in path, query and host, and on dot segments', () => {
    let checked = 0;
    const wrong: string[] = [];
    for (const url of urls()) {
      const expected = parsed(url);
      if (expected === undefined) continue;
      checked++;
      if (originForm(url) !== expected)
        wrong.push(`${JSON.stringify(url)} → ${JSON.stringify(originForm(url))}, URL: ${JSON.stringify(expected)}`);
    }
    expect(wrong).toEqual([]);
    expect(checked).toBeGreaterThan(16_000);
  });

  it('leaves out the fragment and an empty query', () => {
    expect(originForm('https://svc.example.org/orders?#top')).toBe('/orders');
    expect(originForm('https://svc.example.org/a/../orders?id=7#x')).toBe('/orders?id=7');
  });
});
