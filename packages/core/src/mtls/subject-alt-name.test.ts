import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCa, issueCert } from '@wimse/test-support/certs';
import { parseAltNames } from './subject-alt-name.js';

describe('parseAltNames (Node subjectAltName text)', () => {
  it('reads plain entries of every type', () => {
    expect(parseAltNames('URI:spiffe://example.org/a, DNS:localhost, IP Address:127.0.0.1')).toEqual([
      { type: 'URI', value: 'spiffe://example.org/a' },
      { type: 'DNS', value: 'localhost' },
      { type: 'IP Address', value: '127.0.0.1' },
    ]);
  });

  it('is empty for a certificate without the extension', () => {
    expect(parseAltNames(undefined)).toEqual([]);
    expect(parseAltNames('')).toEqual([]);
  });

  it('keeps a quoted value with a separator inside as one entry', async () => {
    const ca = await createCa('ca');
    const cert = await issueCert(ca, { uris: ['spiffe://example.org/a, URI:spiffe://example.org/admin', 'https://x/"q"\\'], dns: ['b'] });
    expect(parseAltNames(new X509Certificate(cert.der).subjectAltName)).toEqual([
      { type: 'URI', value: 'spiffe://example.org/a, URI:spiffe://example.org/admin' },
      { type: 'URI', value: 'https://x/"q"\\' },
      { type: 'DNS', value: 'b' },
    ]);
  });

  it.each(['no type', 'URI:"unterminated', 'URI:"a"DNS:b', 'URI:"a", '])('rejects text Node would not print: %s', (text) => {
    expect(() => parseAltNames(text)).toThrow(SyntaxError);
  });
});
