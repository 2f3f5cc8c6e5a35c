/**
 * `@wimse/core/node`: the Node-only parts (files, TLS sockets, agents). Kept out of the main entry
 * so Web-standard runtimes never load `node:fs`, `node:tls` or `node:https`.
 *
 * @packageDocumentation
 * @module @wimse/core/node
 */
export {
  SPIFFE_HELPER_FILES,
  fileWitSigner,
  watchCredentialFiles,
  type CredentialFileNames,
  type CredentialFiles,
  type CredentialFilesOptions,
  type CredentialSnapshot,
} from './mtls/credential-files.js';
export {
  createRotatingAgent,
  keepServerCredentials,
  serverTlsOptions,
  type RotatingAgent,
  type RotatingAgentOptions,
} from './mtls/tls-credentials.js';
