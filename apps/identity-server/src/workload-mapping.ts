/**
 * Mapping rules: which Workload Identifier (identifier-03) a verified platform token stands for.
 * A rule names the platform issuer, full-match patterns for string claims, and a template whose
 * `{name}` placeholders take the patterns' named groups, e.g. for Kubernetes:
 *
 * ```json
 * { "issuer": "https://kubernetes.default.svc",
 *   "match": { "sub": "system:serviceaccount:(?<ns>[a-z0-9-]{1,63}):(?<sa>[a-z0-9-]{1,253})" },
 *   "workload": "spiffe://example.org/ns/{ns}/sa/{sa}" }
 * ```
 *
 * Rules are tried in order; the first whose issuer and patterns all match decides. No rule
 * matching means no identity: the exchange is refused, never defaulted.
 */
import { checkWorkloadIdentifier } from '@wimse/core';

export interface WorkloadMappingRule {
  /** The platform issuer (`iss`) this rule applies to. */
  issuer: string;
  /** Claim name → regular expression the whole (string) claim value must match. */
  match: Readonly<Record<string, string>>;
  /** The Workload Identifier, with `{group}` placeholders for named groups of the patterns. */
  workload: string;
}

interface CompiledRule {
  readonly issuer: string;
  readonly match: readonly (readonly [claim: string, pattern: RegExp])[];
  readonly workload: string;
}

export type WorkloadMapper = (issuer: string, claims: Readonly<Record<string, unknown>>) => MappingOutcome;
export type MappingOutcome = { ok: true; workload: string } | { ok: false; reason: string };

const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
// A placeholder fills one path segment: unreserved characters only, so a claim cannot add segments, a query or dot segments.
const SEGMENT = /^[A-Za-z0-9_~-][A-Za-z0-9._~-]*$/;

/** Checks the rules against `trustDomain` and compiles them. Throws `TypeError` for a broken rule (at start-up). */
export function compileMappingRules(rules: readonly WorkloadMappingRule[], trustDomain: string): WorkloadMapper {
  const compiled: CompiledRule[] = rules.map((rule, i) => {
    const where = `Mapping rule ${i} (${rule.issuer})`;
    if (typeof rule.workload !== 'string') throw new TypeError(`${where}: workload template is required`);
    const entries = Object.entries(rule.match ?? {});
    if (entries.length === 0) throw new TypeError(`${where}: match at least one claim`);
    const groups = new Set<string>();
    const match = entries.map(([claim, source]) => {
      let pattern: RegExp;
      try {
        pattern = new RegExp(`^(?:${source})$`, 'u');
      } catch (e) {
        throw new TypeError(`${where}: pattern for ${claim} is not a regular expression (${(e as Error).message})`);
      }
      for (const name of Object.keys(new RegExp(`${source}|`, 'u').exec('')?.groups ?? {})) groups.add(name);
      return [claim, pattern] as const;
    });
    for (const [, name] of rule.workload.matchAll(PLACEHOLDER))
      if (!groups.has(name!)) throw new TypeError(`${where}: {${name}} is not a named group of the patterns`);
    // The template without placeholders must already be an identifier in this trust domain.
    const sample = checkWorkloadIdentifier(rule.workload.replace(PLACEHOLDER, 'x'));
    if (!sample.ok) throw new TypeError(`${where}: workload template is not a Workload Identifier (${sample.reason})`);
    if (sample.id.trustDomain !== trustDomain) throw new TypeError(`${where}: workload template is not in trust domain ${trustDomain}`);
    return { issuer: rule.issuer, match, workload: rule.workload };
  });

  return (issuer, claims) => {
    for (const rule of compiled) {
      if (rule.issuer !== issuer) continue;
      const values: Record<string, string> = {};
      let matched = true;
      for (const [claim, pattern] of rule.match) {
        const value = claims[claim];
        const m = typeof value === 'string' ? pattern.exec(value) : null;
        if (m === null) {
          matched = false;
          break;
        }
        Object.assign(values, m.groups);
      }
      if (!matched) continue;
      let bad: string | undefined;
      const workload = rule.workload.replace(PLACEHOLDER, (_, name: string) => {
        const v = values[name];
        if (v === undefined || !SEGMENT.test(v) || v === '..') bad = name;
        return v ?? '';
      });
      if (bad !== undefined) return { ok: false, reason: `the claim value for {${bad}} cannot be a path segment` };
      const id = checkWorkloadIdentifier(workload);
      if (!id.ok || id.id.trustDomain !== trustDomain)
        return { ok: false, reason: 'the mapped identifier is not a Workload Identifier of this trust domain' };
      return { ok: true, workload };
    }
    return { ok: false, reason: 'no mapping rule matches this platform identity' };
  };
}
