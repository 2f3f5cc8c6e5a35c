/** RFC 9530 Content-Digest: the vectors' digests, sha-512, and every way a field can be wrong. */
import { describe, expect, it } from 'vitest';
import { contentDigest, verifyContentDigest } from './content-digest.js';
import type { WimseErrorCode } from './errors.js';

const CONES = '{"flavor":"vanilla","amount":1}';

async function codeOf(p: Promise<unknown>): Promise<WimseErrorCode | undefined> {
  return p.then(
    () => undefined,
    (e: { code?: WimseErrorCode }) => e.code,
  );
}

describe('contentDigest', () => {
  it('matches the http-signature-07 examples (sha-256)', async () => {
    expect(await contentDigest(CONES)).toBe('sha-256=:TzKXT0tUEfiTFkjRzwE8nCFnQljMuX5xwJaJgJCp+1g=:');
    expect(await contentDigest('No ice cream today.\n')).toBe('sha-256=:uJC3qmCc7n6/6w4N2I0vAfj1cd/hTOAhxLEYXmPbNno=:');
    expect(await contentDigest('{"error":"out_of_stock","flavor":"vanilla"}')).toBe(
      'sha-256=:xKyvC1Ob10QItKe0NdnKhtZ/6R7/JkpTxdH20RccxFY=:',
    );
  });

  it('hashes bytes and text alike', async () => {
    expect(await contentDigest(new TextEncoder().encode(CONES))).toBe(await contentDigest(CONES));
  });

  it('produces sha-512 on request', async () => {
    expect(await contentDigest('', 'sha-512')).toBe(
      'sha-512=:z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==:',
    );
  });
});

describe('verifyContentDigest', () => {
  it('accepts a matching sha-256, a matching sha-512, and both together', async () => {
    const s256 = await contentDigest(CONES);
    const s512 = await contentDigest(CONES, 'sha-512');
    await expect(verifyContentDigest(s256, CONES)).resolves.toBeUndefined();
    await expect(verifyContentDigest(s512, CONES)).resolves.toBeUndefined();
    await expect(verifyContentDigest(`${s512}, ${s256}`, CONES)).resolves.toBeUndefined();
    await expect(verifyContentDigest([s256, s512], CONES)).resolves.toBeUndefined();
  });

  it('ignores unknown algorithms next to a known one', async () => {
    await expect(verifyContentDigest(`md5=:AAAA:, ${await contentDigest(CONES)}`, CONES)).resolves.toBeUndefined();
  });

  const mismatch: [string, () => Promise<[string | string[], string]>][] = [
    ['another body', async () => [await contentDigest(CONES), '{"flavor":"chocolate","amount":1}']],
    ['one byte more', async () => [await contentDigest(CONES), `${CONES}\n`]],
    ['the empty body', async () => [await contentDigest(CONES), '']],
    ['sha-512 wrong while sha-256 right', async () => [`${await contentDigest(CONES)}, ${await contentDigest('x', 'sha-512')}`, CONES]],
    ['a truncated digest', async () => ['sha-256=:TzKXT0tUEfiTFkjRzwE8nCFnQljMuX5x:', CONES]],
  ];
  it.each(mismatch)('digest_mismatch: %s', async (_, make) => {
    const [field, body] = await make();
    expect(await codeOf(verifyContentDigest(field, body))).toBe('digest_mismatch');
  });

  const malformed: [string, string][] = [
    ['not a dictionary', 'sha-256 TzKXT0tUEfiTFkjRzwE8nCFnQljMuX5xwJaJgJCp+1g='],
    ['a string instead of bytes', 'sha-256="TzKXT0tUEfiTFkjRzwE8nCFnQljMuX5xwJaJgJCp+1g="'],
    ['a token instead of bytes', 'sha-256=abc'],
    ['only an unknown algorithm', 'md5=:AAAA:'],
    ['unterminated byte sequence', 'sha-256=:TzKX'],
    ['empty field', ''],
    ['an inner list', 'sha-256=(:AAAA:)'],
  ];
  it.each(malformed)('digest_malformed: %s', async (_, field) => {
    expect(await codeOf(verifyContentDigest(field, CONES))).toBe('digest_malformed');
  });
});
