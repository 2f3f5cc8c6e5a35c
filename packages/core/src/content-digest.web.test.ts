/** The Web Crypto path of Content-Digest (non-Node runtimes): same answers as on Node. */
import { describe, expect, it, vi } from 'vitest';

vi.mock('./node-crypto.js', () => ({ nodeCrypto: () => undefined, nodeSignatures: () => undefined }));

const { contentDigest, verifyContentDigest } = await import('./content-digest.js');

describe('Content-Digest without node:crypto', () => {
  it('matches the http-signature-07 examples and checks bodies', async () => {
    const body = '{"flavor":"vanilla","amount":1}';
    expect(await contentDigest(body)).toBe('sha-256=:TzKXT0tUEfiTFkjRzwE8nCFnQljMuX5xwJaJgJCp+1g=:');
    expect(await contentDigest('', 'sha-512')).toBe(
      'sha-512=:z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==:',
    );
    await expect(verifyContentDigest(await contentDigest(body), body)).resolves.toBeUndefined();
    await expect(verifyContentDigest(await contentDigest(body), `${body} `)).rejects.toMatchObject({ code: 'digest_mismatch' });
  });
});
