/**
 * Differential test: for each generated chain, the verifier's verdict must be OpenSSL's
 * (`openssl verify -x509_strict -purpose sslclient`), the independent judge of RFC 5280 path
 * validation, constraints included. Each chain also states the verdict it was built for, so a
 * chain that fails for a reason other than the one it tests shows up in the table.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isWimseError } from '../errors.js';
import {
  bundle,
  createCa,
  EKU,
  issueCert,
  KEY_USAGE,
  selfSigned,
  unknownExtension,
  type CertOptions,
  type TestCert,
} from '@wimse/test-support/certs';
import { createVerifier } from '../verifier.js';

const run = promisify(execFile);
const HOUR = 3_600_000;
const ADMIN = 'spiffe://example.org/admin';
const TEAM = 'spiffe://team.example.org/api';
const EVIL = 'spiffe://evil.org/x';

interface Chain {
  /** The trust anchor (the bundle of every trust domain used here). */
  root: TestCert;
  /** Leaf first, then intermediates: what a TLS peer presents. */
  presented: readonly TestCert[];
}

interface Case {
  name: string;
  /** What the chain was built to show. */
  intent: 'accept' | 'reject';
  build: () => Promise<Chain>;
}

const ca = (name: string, o: CertOptions & { parent?: TestCert } = {}) => createCa(name, o);
const leafOf = (issuer: TestCert, o: CertOptions = {}) => issueCert(issuer, { uris: [ADMIN], ...o });

/** root → i1 → … → leaf, with options per CA (index 0 = root) and for the leaf. */
async function chain(cas: readonly CertOptions[], leaf: CertOptions = {}): Promise<Chain> {
  const root = await ca('root', cas[0] ?? {});
  let issuer = root;
  const inters: TestCert[] = [];
  for (const [i, o] of cas.slice(1).entries()) {
    issuer = await ca(`intermediate ${i + 1}`, { ...o, parent: issuer });
    inters.unshift(issuer);
  }
  return { root, presented: [await leafOf(issuer, leaf), ...inters] };
}

const cases: Case[] = [
  // Baselines
  { name: 'leaf ← root', intent: 'accept', build: () => chain([{}]) },
  { name: 'leaf ← intermediate ← root', intent: 'accept', build: () => chain([{}, {}]) },
  { name: 'leaf ← 3 intermediates ← root', intent: 'accept', build: () => chain([{}, {}, {}, {}]) },
  {
    name: 'root unknown to the verifier',
    intent: 'reject',
    build: async () => ({ ...(await chain([{}, {}])), root: await ca('stray root') }),
  },
  {
    name: 'self-signed leaf',
    intent: 'reject',
    build: async () => ({ root: await ca('root'), presented: [await selfSigned({ uris: [ADMIN] })] }),
  },

  // basicConstraints pathLenConstraint (RFC 5280 §4.2.1.9, §6.1.4 (l)(m))
  { name: 'root pathLen 0, leaf issued by the root', intent: 'accept', build: () => chain([{ pathLength: 0 }]) },
  { name: 'root pathLen 0, one intermediate', intent: 'reject', build: () => chain([{ pathLength: 0 }, {}]) },
  { name: 'intermediate pathLen 0 issuing the leaf', intent: 'accept', build: () => chain([{}, { pathLength: 0 }]) },
  { name: 'intermediate pathLen 0 issuing an intermediate', intent: 'reject', build: () => chain([{}, { pathLength: 0 }, {}]) },
  { name: 'intermediate pathLen 1 issuing an intermediate', intent: 'accept', build: () => chain([{}, { pathLength: 1 }, {}]) },
  { name: 'root pathLen 1, two intermediates', intent: 'reject', build: () => chain([{ pathLength: 1 }, {}, {}]) },
  {
    name: 'root pathLen 0, self-issued intermediate (key rollover)',
    intent: 'accept',
    build: async () => {
      const root = await ca('root', { pathLength: 0 });
      const rollover = await ca('root', { parent: root }); // its issuer's name: self-issued, not counted
      return { root, presented: [await leafOf(rollover), rollover] };
    },
  },

  // nameConstraints on URI SANs (RFC 5280 §4.2.1.10)
  {
    name: 'intermediate permits team.example.org, leaf example.org/admin',
    intent: 'reject',
    build: () => chain([{}, { nameConstraints: { permitted: ['team.example.org'] } }]),
  },
  {
    name: 'intermediate permits team.example.org, leaf in it',
    intent: 'accept',
    build: () => chain([{}, { nameConstraints: { permitted: ['team.example.org'] } }], { uris: [TEAM] }),
  },
  {
    name: 'intermediate permits .example.org, leaf example.org itself',
    intent: 'reject',
    build: () => chain([{}, { nameConstraints: { permitted: ['.example.org'] } }]),
  },
  {
    name: 'intermediate permits .example.org, leaf in a subdomain',
    intent: 'accept',
    build: () => chain([{}, { nameConstraints: { permitted: ['.example.org'] } }], { uris: [TEAM] }),
  },
  {
    name: 'intermediate excludes example.org, leaf in it',
    intent: 'reject',
    build: () => chain([{}, { nameConstraints: { excluded: ['example.org'] } }]),
  },
  {
    name: 'intermediate excludes evil.org, leaf example.org',
    intent: 'accept',
    build: () => chain([{}, { nameConstraints: { excluded: ['evil.org'] } }]),
  },
  {
    name: 'root permits team.example.org, leaf example.org/admin',
    intent: 'reject',
    build: () => chain([{ nameConstraints: { permitted: ['team.example.org'] } }, {}]),
  },
  {
    name: 'root permits example.org, intermediate permits evil.org, leaf evil.org',
    intent: 'reject',
    build: () =>
      chain([{ nameConstraints: { permitted: ['example.org'] } }, { nameConstraints: { permitted: ['evil.org'] } }], { uris: [EVIL] }),
  },
  {
    name: 'root and intermediate both permit example.org, leaf in it',
    intent: 'accept',
    build: () => chain([{ nameConstraints: { permitted: ['example.org'] } }, { nameConstraints: { permitted: ['example.org'] } }]),
  },
  {
    name: 'two intermediates, the upper permits team.example.org',
    intent: 'reject',
    build: () => chain([{}, { nameConstraints: { permitted: ['team.example.org'] } }, { nameConstraints: { permitted: ['example.org'] } }]),
  },

  // Extended key usage (RFC 5280 §4.2.1.12), on the leaf and, as OpenSSL's purpose check, on issuers
  { name: 'leaf EKU clientAuth only', intent: 'accept', build: () => chain([{}, {}], { eku: [EKU.clientAuth] }) },
  { name: 'leaf EKU serverAuth only', intent: 'reject', build: () => chain([{}, {}], { eku: [EKU.serverAuth] }) },
  { name: 'leaf EKU codeSigning only', intent: 'reject', build: () => chain([{}, {}], { eku: [EKU.codeSigning] }) },
  { name: 'intermediate EKU serverAuth only', intent: 'reject', build: () => chain([{}, { eku: [EKU.serverAuth] }]) },
  { name: 'intermediate EKU clientAuth', intent: 'accept', build: () => chain([{}, { eku: [EKU.clientAuth] }]) },

  // Key usage (RFC 5280 §4.2.1.3)
  { name: 'leaf KU keyEncipherment only', intent: 'reject', build: () => chain([{}, {}], { keyUsage: KEY_USAGE.keyEncipherment }) },
  {
    name: 'leaf KU digitalSignature + keyEncipherment',
    intent: 'accept',
    build: () => chain([{}, {}], { keyUsage: KEY_USAGE.digitalSignature | KEY_USAGE.keyEncipherment }),
  },
  {
    name: 'intermediate KU without keyCertSign',
    intent: 'reject',
    build: () => chain([{}, { keyUsage: KEY_USAGE.digitalSignature | KEY_USAGE.cRLSign }]),
  },

  // Validity (RFC 5280 §6.1.3 (a)(2))
  {
    name: 'expired intermediate',
    intent: 'reject',
    build: () => chain([{}, { notBefore: new Date(Date.now() - 48 * HOUR), notAfter: new Date(Date.now() - HOUR) }]),
  },
  {
    name: 'intermediate not yet valid',
    intent: 'reject',
    build: () => chain([{}, { notBefore: new Date(Date.now() + HOUR), notAfter: new Date(Date.now() + 48 * HOUR) }]),
  },

  // Critical extensions (RFC 5280 §4.2)
  {
    name: 'unknown critical extension on the leaf',
    intent: 'reject',
    build: () => chain([{}, {}], { extensions: [unknownExtension(true)] }),
  },
  {
    name: 'unknown non-critical extension on the leaf',
    intent: 'accept',
    build: () => chain([{}, {}], { extensions: [unknownExtension(false)] }),
  },
  {
    name: 'unknown critical extension on the intermediate',
    intent: 'reject',
    build: () => chain([{}, { extensions: [unknownExtension(true)] }]),
  },
  { name: 'unknown critical extension on the root', intent: 'reject', build: () => chain([{ extensions: [unknownExtension(true)] }, {}]) },

  // CA and leaf roles (RFC 5280 §4.2.1.9)
  {
    name: 'leaf (cA false) issuing the presented leaf',
    intent: 'reject',
    build: async () => {
      const root = await ca('root');
      const notCa = await issueCert(root, { name: 'not a CA', keyUsage: KEY_USAGE.digitalSignature | KEY_USAGE.keyCertSign, eku: null });
      return { root, presented: [await leafOf(notCa), notCa] };
    },
  },
];

/**
 * Deliberate differences, each tested here in both directions: OpenSSL's `verify` validates a path,
 * not the use of its end-entity certificate as a workload identity (workload-creds-02 §6.1).
 */
const stricter: Case[] = [
  {
    name: 'CA certificate (cA true, keyCertSign) as the leaf',
    intent: 'reject',
    build: async () => {
      const root = await ca('root');
      return {
        root,
        presented: [await ca('ca leaf', { parent: root, uris: [ADMIN], keyUsage: KEY_USAGE.keyCertSign | KEY_USAGE.digitalSignature })],
      };
    },
  },
];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wimse-x509-diff-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** OpenSSL's verdict on the chain, with its last error line. */
async function opensslVerdict(c: Chain, name: string): Promise<{ ok: boolean; detail: string }> {
  const base = join(dir, name.replace(/[^a-z0-9]+/gi, '-'));
  await writeFile(`${base}.root.pem`, c.root.pem);
  await writeFile(`${base}.leaf.pem`, c.presented[0]!.pem);
  const args = ['verify', '-x509_strict', '-purpose', 'sslclient', '-CAfile', `${base}.root.pem`];
  if (c.presented.length > 1) {
    await writeFile(`${base}.inter.pem`, bundle(...c.presented.slice(1)));
    args.push('-untrusted', `${base}.inter.pem`);
  }
  args.push(`${base}.leaf.pem`);
  try {
    await run('openssl', args);
    return { ok: true, detail: 'OK' };
  } catch (e) {
    const out = `${(e as { stdout?: string }).stdout ?? ''}${(e as { stderr?: string }).stderr ?? ''}`;
    return {
      ok: false,
      detail:
        out
          .split('\n')
          .find((l) => /error \d+/.test(l))
          ?.replace(/^.*?error/, 'error') ??
        out.trim().split('\n').pop() ??
        '',
    };
  }
}

/** The verifier's verdict, with the problem code. */
async function ourVerdict(c: Chain): Promise<{ ok: boolean; detail: string }> {
  const pem = bundle(c.root);
  const verifier = createVerifier({
    trustDomains: { 'example.org': { keys: { keys: [] } } },
    audience: 'https://service.example.org',
    proofs: ['mtls'],
    mtls: { trustBundles: { 'example.org': pem, 'team.example.org': pem, 'evil.org': pem } },
  });
  try {
    await verifier.verify({ method: 'GET', path: '/', headers: {}, peerCertificates: c.presented.map((t) => t.der) });
    return { ok: true, detail: 'accepted' };
  } catch (e) {
    if (!isWimseError(e)) throw e;
    return { ok: false, detail: `${e.code}: ${e.message}` };
  }
}

interface Row {
  name: string;
  intent: string;
  openssl: string;
  ours: string;
  agree: boolean;
}

function table(rows: readonly Row[]): string {
  return rows
    .map((r) => `${r.agree ? '  ' : '✗ '}${r.name.padEnd(70)} intent=${r.intent.padEnd(6)} openssl=${r.openssl.padEnd(50)} ours=${r.ours}`)
    .join('\n');
}

describe('certification path validation agrees with openssl verify', () => {
  it(`gives OpenSSL's verdict on each of ${cases.length} generated chains`, async () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
    const rows: Row[] = [];
    for (const c of cases) {
      const built = await c.build();
      const [openssl, ours] = await Promise.all([opensslVerdict(built, c.name), ourVerdict(built)]);
      const intended = c.intent === 'accept';
      rows.push({
        name: c.name,
        intent: c.intent,
        openssl: openssl.detail,
        ours: ours.detail,
        agree: openssl.ok === ours.ok && openssl.ok === intended,
      });
    }
    // Both verdicts occur, so agreement is not a constant answer.
    expect(rows.filter((r) => r.openssl === 'OK').length).toBeGreaterThanOrEqual(8);
    expect(rows.filter((r) => r.openssl !== 'OK').length).toBeGreaterThanOrEqual(12);
    expect(
      rows.every((r) => r.agree),
      `\n${table(rows)}\n`,
    ).toBe(true);
  });

  it('is stricter than OpenSSL only where a workload certificate is more than a path', async () => {
    for (const c of stricter) {
      const built = await c.build();
      const [openssl, ours] = await Promise.all([opensslVerdict(built, c.name), ourVerdict(built)]);
      expect({ name: c.name, openssl: openssl.ok, ours: ours.ok }).toEqual({ name: c.name, openssl: true, ours: false });
    }
  });
});
