/**
 * RFC 9421 §3.2 step 4: `@signature-params` is the received `Signature-Input` member re-serialized
 * (§2.3, RFC 8941 §4.1), never the received bytes. Expected values written out by the RFC 8941 rules.
 */
import { describe, expect, it } from 'vitest';
import { findWimseSignature } from './signature-params.js';

const SIG = 'wimse=:AAAA:';
const TAG = 'tag="wimse-workload-to-workload"';

describe('@signature-params is the serialization of the received member', () => {
  const cases: [input: string, serialized: string][] = [
    [
      `wimse=("@method" "@path" "@query" "workload-identity-token");created=1;expires=61;nonce="abc";${TAG};wimse-aud="https://a.example/x"`,
      `("@method" "@path" "@query" "workload-identity-token");created=1;expires=61;nonce="abc";${TAG};wimse-aud="https://a.example/x"`,
    ],
    // Optional whitespace the serialization drops.
    [
      `wimse=(  "@method"   "@path" "@query"  "workload-identity-token" );created=1;expires=61;nonce="abc";${TAG}`,
      `("@method" "@path" "@query" "workload-identity-token");created=1;expires=61;nonce="abc";${TAG}`,
    ],
    // ;req components (responses), an escaped string, a token, a boolean, a decimal (1.50 → 1.5), a byte sequence.
    [
      `wimse=("@status" "@method";req "content-digest");created=1;expires=61;nonce="a\\"b\\\\c";x=tok/en;wimse-sign-response;d=1.50;b=:AAAA:;${TAG}`,
      `("@status" "@method";req "content-digest");created=1;expires=61;nonce="a\\"b\\\\c";x=tok/en;wimse-sign-response;d=1.5;b=:AAAA:;${TAG}`,
    ],
    // Another member before it, and an empty inner list.
    [`other=("@method");tag="x", wimse=();created=1;${TAG}`, `();created=1;${TAG}`],
  ];
  for (const [input, serialized] of cases) {
    it(input, () => {
      expect(findWimseSignature({ 'signature-input': input, signature: SIG })?.signatureParams).toBe(serialized);
    });
  }
});
