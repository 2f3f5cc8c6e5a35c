/** Loads the spec vectors (copied from shared/wimse-spec/vectors) for tests. */
import { readFileSync } from 'node:fs';

// biome-ignore lint/suspicious/noExplicitAny: vector JSON is read by shape in each test
export function vector<T = any>(name: string): T {
  return JSON.parse(readFileSync(new URL(`../__fixtures__/${name}.json`, import.meta.url), 'utf8')) as T;
}

/** Splits a raw HTTP message from a vector into its parts. */
export function parseRawRequest(raw: string): { method: string; path: string; headers: Record<string, string[]>; body: string } {
  const [head = '', ...rest] = raw.split('\n\n');
  const [start = '', ...lines] = head.split('\n');
  const [method = '', path = ''] = start.split(' ');
  const headers: Record<string, string[]> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    const name = line.slice(0, i).trim().toLowerCase();
    (headers[name] ??= []).push(line.slice(i + 1).trim());
  }
  return { method, path, headers, body: rest.join('\n\n') };
}
