/**
 * `@wimse/core`: verify and make WIMSE workload-to-workload credentials (WIT, WPT, HTTP Message
 * Signatures, mTLS). Node-only helpers are in `@wimse/core/node`; adapter glue in `@wimse/core/adapter`.
 *
 * @packageDocumentation
 * @module @wimse/core
 */
export type { WimseAdapterOptions, WimseErrorHook, WimseErrorResponse, WimseInternalErrorHook, WimseRouteRules } from './adapter.js';
export {
  COMPACT_JWS_RE,
  DEFAULT_ALGORITHMS,
  SUPPORTED_ALGORITHMS,
  hasPrivateMembers,
  isSupportedAlgorithm,
  keyMismatch,
  typMatches,
  type WimseAlgorithm,
} from './algorithms.js';
export type { Audience, AudienceEntry } from './audience.js';
export { createAuthorizer, createScopeCheck, type WorkloadPolicy } from './authorization.js';
export {
  createWimseFetch,
  identityServerWitSource,
  type IdentityServerWitSourceOptions,
  type OutboundProof,
  type PublicProofJwk,
  type WimseCallOptions,
  type WimseFetch,
  type WimseFetchOptions,
  type WimseRequestInit,
  type WitSource,
  type WptWireOptions,
} from './client.js';
export {
  ERROR_CODES,
  PROBLEM_CONTENT_TYPE,
  PROBLEM_TYPE_BASE,
  WimseError,
  isWimseError,
  type WimseErrorCode,
  type WimseMismatch,
  type WimseProblem,
} from './errors.js';
export { tokenHash } from './hash.js';
export {
  DEFAULT_SIGNATURE_LIFETIME,
  WIMSE_SIGNATURE_LABEL,
  WIMSE_SIGNATURE_TAG,
  createResponseVerifier,
  signHttpRequest,
  signHttpResponse,
  type HttpSignatureInfo,
  type ReceivedResponse,
  type ResponseSigningCredentials,
  type ResponseVerifier,
  type ResponseExpectations,
  type ResponseVerifierOptions,
  type SentRequest,
  type SignHttpRequestOptions,
  type SignHttpResponseOptions,
  type VerifiedResponse,
} from './http-signature/index.js';
export { contentDigest, verifyContentDigest, type DigestAlgorithm } from './content-digest.js';
export { WIMSE_CHANNELS, type WimseJwksMessage, type WimseReplayMessage, type WimseVerifyMessage } from './diagnostics.js';
export {
  MAX_IDENTIFIER_LENGTH,
  checkIdentifier,
  checkWorkloadIdentifier,
  parseWorkloadIdentifier,
  sameWorkload,
  workloadOrigin,
  type IdentifierCheck,
  type IdentifierOptions,
  type WorkloadIdentifier,
} from './identifier.js';
export type { WimseLogFields, WimseLogger, WimseLogValue } from './logger.js';
export type { TrustedProxies } from './mtls/forwarded-cert.js';
export type { MtlsOptions } from './mtls/mtls-policy.js';
export type { TrustBundleSource, TrustBundles } from './mtls/trust-bundles.js';
export type { WorkloadCertificateInfo } from './mtls/workload-certificate.js';
export type { VerifierOptions } from './options.js';
export type { ProofMethod, WimsePrincipal } from './principal.js';
export type { ProofKey } from './proof-key.js';
export { publicKeyFlaw } from './public-key.js';
export { MemoryReplayStore, type MemoryReplayStoreOptions } from './memory-replay-store.js';
export { replayKeyString, type ReplayKey, type ReplayKind, type ReplayStore } from './replay.js';
export type { HeaderValue, RequestHeaders, WimseRequest } from './request.js';
export {
  createWorkloadSigner,
  type HttpSigRequestOptions,
  type WorkloadCredentials,
  type WorkloadSigner,
  type WptRequestOptions,
} from './signer.js';
export type { JwksEvent, JwksFailureReason } from './remote-jwks.js';
export type { ResponseSignerSource, ResponseSigningOptions, SignResponsesMode } from './response-signing.js';
export { createIssuerKeyResolver } from './trust.js';
export type { RemoteJwksOptions, TrustDomainConfig, TrustDomains } from './trust.js';
export { createVerifier, type WimseVerifier } from './verifier.js';
export {
  TXN_TOKEN_FIELD,
  TXN_TOKEN_TYP,
  createTxnTokenVerifier,
  isScopeToken,
  issueTxnToken,
  verifyTxnToken,
  type IssueTxnTokenOptions,
  type TransactionTokenOptions,
  type TxnTokenClaimsInput,
  type TxnTokenVerifier,
  type TxnTokenVerifierOptions,
  type WimseTransaction,
} from './txn-token.js';
export { COMPAT_VERSIONS, DRAFT_VERSIONS } from './versions.js';
export { WIT_TYP, issueWit, type IssueWitOptions, type VerifiedWit, type WitClaims } from './wit.js';
export { compileWorkloadPattern, compileWorkloadPatterns, type WorkloadMatcher } from './workload-pattern.js';
export {
  WPT01_FIELD,
  WPT_SCHEME,
  WPT_TYP,
  createWpt,
  type ContextTokens,
  type CreateWptOptions,
  type WptClaims,
  type WptTyp,
  type WptVersion,
} from './wpt.js';
export {
  FORM_CONTENT_TYPE,
  TOKEN_EXCHANGE_GRANT_TYPE,
  TOKEN_TYPES,
  TokenExchangeError,
  parseScope,
  parseTokenExchangeRequest,
  readTokenExchangeResponse,
  tokenErrorFromWimse,
  tokenExchangeResponse,
  type TokenEndpointRequest,
  type TokenEndpointResponse,
  type TokenExchangeErrorBody,
  type TokenExchangeErrorCode,
  type TokenExchangeLimits,
  type TokenExchangeRequest,
  type TokenExchangeSuccess,
} from './token-exchange.js';
export {
  checkScopeWithin,
  parseTxnTokenRequest,
  replacementClaims,
  type ReplacedTxnToken,
  type ReplacementClaims,
  type TxnTokenRequest,
  type TxnTokenRequestOptions,
} from './txn-token-request.js';
export {
  createTxnTokenClient,
  type FetchTxnTokenOptions,
  type IssuedTxnToken,
  type ReplaceTxnTokenOptions,
  type TxnTokenClient,
  type TxnTokenClientOptions,
} from './txn-token-client.js';
