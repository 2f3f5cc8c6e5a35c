/**
 * Unknown keys in configuration are mistakes (`alow` for `allow`, `issuers` for `issuer`) that
 * would otherwise be ignored, and an ignored policy fails open. They throw at start-up, naming the
 * key and the allowed ones. Each list is typed `Record<keyof Options, true>`, so adding an option
 * without listing it here does not compile.
 */

/** The keys of an options type, as a record the compiler checks for completeness. */
export type KnownKeys<T> = Readonly<Record<keyof T, true>>;

/**
 * Throws `TypeError` when `value` is not a plain object or has a key not in `known`.
 *
 * @example
 * rejectUnknownKeys('route rules', rules, { allow: true, optional: true, public: true })
 */
export function rejectUnknownKeys(where: string, value: unknown, known: Readonly<Record<string, true>>): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new TypeError(`${where}: expected an options object`);
  for (const key of Object.keys(value)) {
    if (!Object.hasOwn(known, key)) {
      throw new TypeError(`${where}: unknown option ${JSON.stringify(key)} (allowed: ${Object.keys(known).join(', ')})`);
    }
  }
}
