/**
 * Reads the subjectAltName entries Node prints for a certificate (`X509Certificate.subjectAltName`).
 * Node separates entries with `, ` and prints any value holding a separator, quote, backslash or
 * non-printable character as a JSON string (the CVE-2021-44532 fix), so a crafted URI such as
 * `spiffe://a/b, URI:spiffe://c/d` stays one entry and cannot smuggle a second identifier.
 */

/** One SAN entry: `type` as Node prints it (`URI`, `DNS`, `IP Address`, `email`, …). */
export interface AltName {
  readonly type: string;
  readonly value: string;
}

/** Parses Node's subjectAltName string; throws `SyntaxError` on text Node would not print. */
export function parseAltNames(text: string | undefined): AltName[] {
  const out: AltName[] = [];
  if (text === undefined || text === '') return out;
  let i = 0;
  while (i < text.length) {
    const colon = text.indexOf(':', i);
    if (colon < 0) throw new SyntaxError('subjectAltName entry without a type');
    const type = text.slice(i, colon);
    let value: string;
    let end: number;
    if (text[colon + 1] === '"') {
      end = closingQuote(text, colon + 2) + 1;
      value = JSON.parse(text.slice(colon + 1, end)) as string;
    } else {
      const sep = text.indexOf(', ', colon + 1);
      end = sep < 0 ? text.length : sep;
      value = text.slice(colon + 1, end);
    }
    out.push({ type, value });
    if (end === text.length) break;
    if (text.slice(end, end + 2) !== ', ') throw new SyntaxError('subjectAltName entries must be separated by ", "');
    i = end + 2;
    if (i === text.length) throw new SyntaxError('subjectAltName ends with a separator');
  }
  return out;
}

function closingQuote(text: string, from: number): number {
  for (let j = from; j < text.length; j++) {
    if (text[j] === '\\') j++;
    else if (text[j] === '"') return j;
  }
  throw new SyntaxError('unterminated quoted subjectAltName value');
}
