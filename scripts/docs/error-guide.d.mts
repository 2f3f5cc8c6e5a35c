/** Per error code: [meaning, what to do]. */
export const ERROR_GUIDE: Readonly<Record<string, readonly [string, string]>>;
