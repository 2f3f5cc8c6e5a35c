/**
 * RFC 9421 §3.2 step 4: `@signature-params` is the received `Signature-Input` member re-serialized
 * (§2.3), never the received bytes. Expected values from structured-headers' own `serializeInnerList`.
 */
import { parseDictionary, serializeInnerList, type InnerList } from 'structured-headers';
import { describe, expect, it } from 'vitest';
import { findWimseSignature } from './signature-params.js';

const SIG = 'wimse=:AAAA:';
const TAG = 'tag="wimse-workload-to-workload"';

function expected(input: string): string {
  return serializeInnerList(parseDictionary(input).get('wimse') as InnerList);
}

describe('@signature-params is the serialization of the received member', () => {
  const inputs = [
    `wimse=("@method" "@path" "@query" "workload-identity-token");created=1;expires=61;nonce="abc";${TAG};wimse-aud="https://a.example/x"`,
    // Optional whitespace the serialization drops.
    `wimse=(  "@method"   "@path" "@query"  "workload-identity-token" );created=1;expires=61;nonce="abc";${TAG}`,
    // ;req components (responses), an escaped string, a token, a boolean, a decimal, a byte sequence.
    `wimse=("@status" "@method";req "content-digest");created=1;expires=61;nonce="a\\"b\\\\c";x=tok/en;wimse-sign-response;d=1.50;b=:AAAA:;${TAG}`,
    // Another member before it, and an empty inner list.
    `other=("@method");tag="x", wimse=();created=1;${TAG}`,
  ];
  for (const input of inputs) {
    it(input, () => {
      const found = findWimseSignature({ 'signature-input': input, signature: SIG });
      expect(found?.signatureParams).toBe(expected(input));
    });
  }

  it('the same components again, from a second request, serialize alike', () => {
    const a = `wimse=("@method" "@path";req);created=1;nonce="n1";${TAG}`;
    const b = `wimse=("@method" "@path";req);created=2;nonce="n2";${TAG}`;
    expect(findWimseSignature({ 'signature-input': a, signature: SIG })?.signatureParams).toBe(expected(a));
    expect(findWimseSignature({ 'signature-input': b, signature: SIG })?.signatureParams).toBe(expected(b));
  });
});
