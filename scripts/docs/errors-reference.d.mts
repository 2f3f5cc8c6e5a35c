/** Absolute path of docs/errors.md. */
export const ERRORS_MD: string;
/** The Markdown errors reference for `errorCodes` (the shape of `ERROR_CODES`), with `guide` (default: error-guide.mjs). */
export function renderErrorsReference(
  errorCodes: Readonly<Record<string, { readonly status: number; readonly family: string; readonly title: string }>>,
  guide?: Readonly<Record<string, readonly [string, string]>>,
): string;
