/** HTTP Message Signatures, WIMSE profile (draft-ietf-wimse-http-signature-07, RFC 9421). */
export { verifyRequestSignature, type HttpSignatureInfo, type HttpSignaturePolicy } from './request.js';
export {
  createResponseVerifier,
  signHttpResponse,
  verifyResponseSignature,
  type ReceivedResponse,
  type ResponseSigningCredentials,
  type ResponseVerifier,
  type ResponseExpectations,
  type ResponseVerifierOptions,
  type SentRequest,
  type SignHttpResponseOptions,
  type VerifiedResponse,
} from './response.js';
export { DEFAULT_SIGNATURE_LIFETIME, signHttpRequest, type SignHttpRequestOptions } from './sign.js';
export { signatureBase, type SignedMessage } from './signature-base.js';
export {
  WIMSE_SIGNATURE_LABEL,
  WIMSE_SIGNATURE_TAG,
  findWimseSignature,
  type CoveredComponent,
  type PresentedSignature,
} from './signature-params.js';
