/** The draft revisions this library implements, per binding. */
export const DRAFT_VERSIONS = Object.freeze({
  /** WIT: draft-ietf-wimse-workload-creds-02 (+ the §5.1.4 validation checklist of the editor's copy). */
  workloadCreds: 'draft-ietf-wimse-workload-creds-02',
  /** WPT: draft-ietf-wimse-wpt-02. */
  wpt: 'draft-ietf-wimse-wpt-02',
  /** HTTP Message Signatures: draft-ietf-wimse-http-signature-07 (the -08 body has not been reviewed yet). */
  httpSignature: 'draft-ietf-wimse-http-signature-07',
  /**
   * mTLS with Workload Identity Certificates: draft-ietf-wimse-mutual-tls-03 (editorial over -02:
   * its history lists only consistent capitalization of defined terms; §3.2 and §3.2.1 unchanged).
   */
  mutualTls: 'draft-ietf-wimse-mutual-tls-03',
  /** Workload Identifiers: draft-ietf-wimse-identifier-03. */
  identifier: 'draft-ietf-wimse-identifier-03',
  /** Transaction Tokens (verification, scope rules, the demo Txn-Token service): draft-ietf-oauth-transaction-tokens-10, over RFC 8693 token exchange. */
  transactionTokens: 'draft-ietf-oauth-transaction-tokens-10',
} as const);

/** Older wire formats available as explicit compatibility options, inbound (`compat`) and outbound (`wpt.version`). */
export const COMPAT_VERSIONS = Object.freeze({
  wpt: 'draft-ietf-wimse-wpt-01',
  httpSignature: 'draft-ietf-wimse-http-signature-06',
} as const);
