/** One published entry point: its report name (`core-node`), import specifier, package folder and declaration file. */
export interface EntryPoint {
  readonly name: string;
  readonly specifier: string;
  readonly packageFolder: string;
  readonly types: string;
}
/** The outcome for one entry point: whether its surface differs from the checked-in report, and API Extractor's errors. */
export interface ApiReportResult {
  readonly name: string;
  readonly specifier: string;
  readonly changed: boolean;
  readonly errors: string[];
}
export function entryPoints(root?: string): EntryPoint[];
export function apiReports(options?: { update?: boolean; root?: string }): ApiReportResult[];
