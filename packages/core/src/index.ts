export * from './adapter.js';
export * from './algorithms.js';
export { type Audience, type AudienceEntry } from './audience.js';
export * from './authorization.js';
export { readBody, type BodySource } from './body.js';
export * from './client.js';
export { ERROR_CODES, PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE, WimseError, isWimseError, type WimseErrorCode, type WimseMismatch, type WimseProblem } from './errors.js';
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
export * from './identifier.js';
export type { WimseLogFields, WimseLogger, WimseLogValue } from './logger.js';
export type { TrustedProxies } from './mtls/forwarded-cert.js';
export type { MtlsOptions } from './mtls/mtls-policy.js';
export type { TrustBundleSource, TrustBundles } from './mtls/trust-bundles.js';
export type { WorkloadCertificateInfo } from './mtls/workload-certificate.js';
export type { ResolvedOptions, VerifierOptions } from './options.js';
export type { ProofMethod, WimsePrincipal } from './principal.js';
export type { ProofKey } from './proof-key.js';
export { publicKeyFlaw } from './public-key.js';
export { MemoryReplayStore, type MemoryReplayStoreOptions } from './memory-replay-store.js';
export { replayKeyString, type ReplayKey, type ReplayKind, type ReplayStore } from './replay.js';
export { fieldValues, headersFromRaw, headersOf, type HeaderValue, type RequestHeaders, type WimseRequest } from './request.js';
export * from './signer.js';
export type { JwksEvent, JwksFailureReason } from './remote-jwks.js';
export {
  createResponseSigning,
  type OutgoingResponse,
  type ResponseSignature,
  type ResponseSignerSource,
  type ResponseSigning,
  type ResponseSigningOptions,
  type SignResponsesMode,
} from './response-signing.js';
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
export * from './versions.js';
export { WIT_TYP, issueWit, type IssueWitOptions, type VerifiedWit, type WitClaims } from './wit.js';
export * from './workload-pattern.js';
export { WPT01_FIELD, WPT_SCHEME, WPT_TYP, createWpt, type ContextTokens, type CreateWptOptions, type WptClaims, type WptTyp, type WptVersion } from './wpt.js';
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
