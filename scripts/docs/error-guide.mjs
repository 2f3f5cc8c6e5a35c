/**
 * The prose of docs/errors.md: what each `ERROR_CODES` code means and what to do about it.
 * Status and title come from ERROR_CODES itself (packages/core/src/errors.ts); a code added there
 * needs an entry here (the errors-reference test names the missing ones), then `pnpm docs:errors`.
 *
 * Each entry: [meaning, what to do]. "Caller" is the client workload, "service" the verifier.
 */
export const ERROR_GUIDE = {
  credentials_missing: [
    'The request carries no WIMSE credentials at all: no WIT, no WPT, no HTTP signature, no client certificate.',
    'Caller: send a WIT with a WPT or an HTTP signature (or use mTLS where the service accepts it). Service: set `optional` on routes that may be called without credentials.',
  ],
  credentials_ambiguous: [
    'The request carries more than one application-layer proof (a WPT and a WIMSE HTTP signature); the drafts allow one.',
    'Caller: send either a WPT or a WIMSE HTTP signature, not both.',
  ],
  proof_not_accepted: [
    'The request uses a proof method (`wpt`, `http-sig` or `mtls`) that this service does not accept.',
    'Caller: use one of the methods the service accepts. Service: list the methods in `proofs`.',
  ],
  wit_missing: [
    'A proof (WPT or HTTP signature) arrived without the `Workload-Identity-Token` field it is bound to.',
    'Caller: send the WIT in the `Workload-Identity-Token` field with every proof.',
  ],
  wit_duplicate: ['The request carries more than one `Workload-Identity-Token` field.', 'Caller: send exactly one WIT.'],
  wit_too_large: [
    'The WIT exceeds the size limit (`maxTokenLength`, default 8192 characters) and was not parsed.',
    'Caller: issue smaller WITs (fewer claims). Service: raise `maxTokenLength` only if such WITs are expected.',
  ],
  wit_malformed: [
    'The WIT is not a compact JWS, or its header or payload is not valid JSON.',
    'Caller: send the WIT exactly as the identity server issued it.',
  ],
  wit_typ: [
    'The WIT header `typ` is not `wit+jwt` (workload-creds-02 §5.1).',
    'Issuer: mint WITs with `typ: wit+jwt`; another token type (an access token, an ID token) is not a WIT.',
  ],
  wit_alg: [
    "The WIT is signed with an algorithm that is not allowed: `none`, a symmetric algorithm, or one outside the trust domain's `algorithms`.",
    "Issuer: sign with an asymmetric algorithm the service allows. Service: check the trust domain's `algorithms`.",
  ],
  wit_sub_invalid: [
    'The WIT `sub` is not a valid workload identifier (identifier-03), or names a trust domain without a workload path.',
    "Issuer: put the workload's full identifier (e.g. `spiffe://example.org/ns/prod/sa/orders`) in `sub`.",
  ],
  wit_untrusted_domain: [
    "The trust domain of the WIT `sub` is not one of the service's `trustDomains`.",
    'Service: add the trust domain and its issuer keys to `trustDomains` if it is to be trusted. Caller: use a WIT from a trusted domain.',
  ],
  wit_key_unknown: [
    'No issuer key of the trust domain matches the WIT header (unknown `kid`, or several keys match and there is no `kid`).',
    "Service: check the trust domain's keys or JWKS URL (key rotation). Issuer: set `kid` in the WIT header.",
  ],
  wit_signature: [
    "The WIT signature does not verify with the trust domain's key: the token was altered or signed by another key.",
    "Caller: send the WIT unmodified. Service: check that the configured keys are the issuer's current ones.",
  ],
  wit_claims: [
    'A required WIT claim is missing or has the wrong type (e.g. no `exp`, a string `iat`).',
    'Issuer: include `sub`, `exp` and `cnf` with the types workload-creds-02 §5.1 gives.',
  ],
  wit_expired: [
    'The WIT `exp` is in the past (beyond the clock tolerance).',
    'Caller: renew the WIT before it expires. Both: check the clocks.',
  ],
  wit_not_yet_valid: [
    'The WIT `iat` or `nbf` is in the future (beyond the clock tolerance).',
    'Check the clocks of the issuer and the service.',
  ],
  wit_lifetime: [
    'The WIT expires further ahead than the service accepts (`maxWitLifetime`, default 24 h).',
    'Issuer: issue shorter-lived WITs. Service: raise the limit only deliberately.',
  ],
  wit_cnf_invalid: [
    'The WIT `cnf.jwk` is missing, has no allowed `alg`, contains private key members, or does not match its `alg`.',
    "Issuer: bind the workload's public key with `cnf.jwk` including `alg` (workload-creds-02 §5.1).",
  ],
  wit_iss: [
    'The WIT `iss` is missing or is not an issuer configured for its trust domain (`issuer`).',
    "Service: check the trust domain's `issuer` setting. Issuer: set `iss` to its configured identifier.",
  ],
  wpt_missing: [
    'The service expects a WPT (`Authorization: WPT …` or the configured field) and none was sent.',
    'Caller: send a WPT with the WIT, or use another accepted proof.',
  ],
  wpt_duplicate: [
    'The request carries more than one `Authorization` (or `Workload-Proof-Token`) field.',
    'Caller: send exactly one WPT; context tokens go in their own fields.',
  ],
  wpt_too_large: [
    'The WPT exceeds the size limit (`maxTokenLength`) and was not parsed.',
    'Caller: keep the WPT small (few `oth` entries).',
  ],
  wpt_malformed: [
    'The WPT is not a compact JWS, or its header or payload is not valid JSON.',
    'Caller: send the WPT as created, after `WPT ` in `Authorization`.',
  ],
  wpt_alg_mismatch: [
    "The WPT is signed with an algorithm other than the `alg` of the WIT's `cnf.jwk` (wpt-02 §2).",
    'Caller: sign the WPT with the key and algorithm the WIT binds.',
  ],
  wpt_signature: [
    "The WPT signature does not verify with the WIT's confirmation key: signed by another key or altered.",
    'Caller: sign the WPT with the private key that matches the WIT `cnf.jwk`.',
  ],
  wpt_typ: ['The WPT header `typ` is not `wpt+jwt` (wpt-02 §2).', 'Caller: create WPTs with `typ: wpt+jwt`.'],
  wpt_aud: [
    'The WPT `aud` does not name this service (its configured `audience`, never taken from `Host`).',
    'Caller: set `aud` to the URL of the service called. Service: list every public base URL in `audience`.',
  ],
  wpt_claims: [
    'A required WPT claim is missing or has the wrong type (`aud`, `exp`, `jti`, `wth`, NumericDates).',
    'Caller: include every claim wpt-02 §2 requires.',
  ],
  wpt_expired: [
    'The WPT `exp` is in the past (beyond the clock tolerance).',
    'Caller: create a fresh WPT per request. Both: check the clocks.',
  ],
  wpt_not_yet_valid: ['The WPT `iat` is in the future (beyond the clock tolerance).', 'Check the clocks of caller and service.'],
  wpt_exp_too_far: [
    'The WPT expires further ahead than the service accepts (`maxWptLifetime`, default 300 s).',
    'Caller: use short-lived WPTs (seconds to minutes).',
  ],
  wpt_wth: [
    'The WPT `wth` is not the hash of the WIT sent with it: the proof belongs to another WIT.',
    'Caller: compute `wth` over the exact WIT sent.',
  ],
  wpt_tth: [
    'The WPT `tth` does not match the Txn-Token sent, or one of the two is missing.',
    'Caller: compute `tth` over the Txn-Token sent with the request.',
  ],
  wpt_oth: [
    'The WPT `oth` object is malformed, names a field the service does not bind (`contextTokenHeaders`), or its hash does not match the field sent.',
    'Caller: hash exactly the context-token fields sent. Service: list the fields in `contextTokenHeaders`.',
  ],
  wpt_ath: [
    'The WPT `ath` does not match the access token sent, or one of the two is missing.',
    'Caller: compute `ath` over the access token sent with the request.',
  ],
  wpt_replay: [
    'A WPT with this `jti` was already accepted for this workload: the request was replayed.',
    'Caller: create a new WPT (new `jti`) for every request, retries included.',
  ],
  sig_missing: [
    'The service expects a WIMSE HTTP signature (`Signature` and `Signature-Input` tagged `wimse-workload-to-workload`) and none was sent.',
    'Caller: sign the request, or use another accepted proof.',
  ],
  sig_malformed: [
    'The `Signature` or `Signature-Input` field is not a valid structured-field dictionary (RFC 8941), or its members have the wrong types.',
    'Caller: use an RFC 9421 implementation to build the fields.',
  ],
  sig_duplicate: ['More than one signature carries the WIMSE tag.', 'Caller: send exactly one WIMSE signature per request.'],
  sig_params: [
    'The signature parameters break the profile: `created`, `expires`, `nonce` or `tag` missing, or `alg`/`keyid` present (http-signature-07 §3).',
    'Caller: follow the http-signature-07 parameter rules.',
  ],
  sig_components: [
    'The signature does not cover a component the profile (or `requiredSignatureComponents`) requires, e.g. `@method`, `@path`, `workload-identity-token`, `content-digest`.',
    'Caller: cover every required component (client option `coverHeaders` for extra fields).',
  ],
  sig_aud: [
    "The signed `@authority`/`@target-uri` does not name this service's configured `audience`.",
    'Caller: sign the URL of the service called. Service: list every public base URL in `audience`.',
  ],
  sig_expired: [
    'The signature `expires` is in the past (beyond the clock tolerance).',
    'Caller: sign every request afresh. Both: check the clocks.',
  ],
  sig_not_yet_valid: ['The signature `created` is in the future (beyond the clock tolerance).', 'Check the clocks of caller and service.'],
  sig_too_old: [
    'The signature is older, or lives longer, than the service accepts (`maxSignatureLifetime`).',
    'Caller: sign each request just before sending it, with a short `expires`.',
  ],
  sig_invalid: [
    "The signature does not verify over the signature base with the WIT's confirmation key.",
    'Caller: sign with the key the WIT binds and send the signed fields unchanged (proxies must not rewrite them).',
  ],
  sig_replay: [
    'A signature with this `nonce` was already accepted for this workload: the request was replayed.',
    'Caller: use a new nonce for every request, retries included.',
  ],
  sig_response: [
    "A signed response is missing, malformed, or not bound to the request it answers (`wimse-req-nonce`, reflection of the caller's own key).",
    'Service being called: sign responses as http-signature-07 §3.5 says. Caller: check that nothing between rewrites responses.',
  ],
  digest_missing: [
    'The request has a body but no `Content-Digest` field, or the signature does not cover it.',
    'Caller: send `Content-Digest` (RFC 9530) over the body and cover it in the signature.',
  ],
  digest_malformed: [
    'The `Content-Digest` field is not a valid structured-field dictionary, or uses no supported algorithm (sha-256, sha-512).',
    'Caller: send `Content-Digest: sha-256=:…:`.',
  ],
  digest_mismatch: [
    'The `Content-Digest` does not match the body received: the body was altered or re-encoded on the way.',
    'Caller: digest the exact bytes sent. Check proxies that re-encode or decompress bodies.',
  ],
  sig_response_workload: [
    'The response is validly signed, but by a workload other than the expected responder.',
    'Caller: check `responder` in the response expectations, and the route to the service.',
  ],
  sig_response_replay: [
    'A response signature with this nonce was already accepted: the response was replayed.',
    'Investigate: something between the two services is replaying responses.',
  ],
  response_signing_unsupported: [
    'The request asked for a signed response (`wimse-sign-response`) and this service has no `responseSigner`.',
    'Service: configure `responseSigner`. Caller: do not require signed responses from this service.',
  ],
  response_too_large_to_sign: [
    'The response that must be signed is larger than `maxResponseBodyBytes`; it is not sent unsigned.',
    'Service: raise `maxResponseBodyBytes`, or return smaller responses on routes that sign.',
  ],
  response_signer_unavailable: [
    "The service's own credentials for signing responses could not be obtained (e.g. its WIT is being renewed).",
    'Retry after `Retry-After`. Service: check the identity server or credential files behind `responseSigner`.',
  ],
  response_signing_failed: [
    'Signing a response failed unexpectedly; the response was not sent unsigned.',
    'Service: see the reported cause (`onInternalError`).',
  ],
  mtls_missing: [
    'The service requires mTLS and the connection carries no client certificate.',
    "Caller: present the workload's X.509 certificate in the TLS handshake. Service: request client certificates in the TLS server options.",
  ],
  mtls_malformed: [
    'The client certificate (or a forwarded one) could not be parsed as X.509.',
    'Caller: present a valid DER/PEM certificate.',
  ],
  mtls_san: [
    'The client certificate does not carry exactly one workload-identifier URI SAN (mutual-tls-03 §3.2).',
    'Issuer: put one URI SAN with the workload identifier in the certificate.',
  ],
  mtls_untrusted: [
    'The client certificate does not chain to the CA bundle of its trust domain.',
    'Service: check `mtls.trustBundles`. Caller: send the full chain of intermediates.',
  ],
  mtls_expired: [
    'The client certificate (or a certificate of its chain) has expired.',
    'Caller: rotate the certificate before it expires.',
  ],
  mtls_not_yet_valid: [
    'The client certificate (or a certificate of its chain) is not valid yet.',
    'Check the clocks of the issuing CA and the service.',
  ],
  mtls_usage: [
    "The client certificate's key usage or extended key usage does not allow TLS client authentication (or it is a CA certificate).",
    'Issuer: issue leaf certificates with `digitalSignature` and `clientAuth`.',
  ],
  mtls_key_invalid: [
    'A certificate public key is not acceptable (too small an RSA modulus, a bad exponent, a weak or invalid curve point).',
    'Issuer: use at least 2048-bit RSA or a P-256/Ed25519 key.',
  ],
  mtls_identifier: [
    'The URI SAN of the client certificate is not a valid workload identifier (identifier-03), or names a trust domain without a workload path.',
    "Issuer: put the workload's full identifier in the URI SAN.",
  ],
  mtls_untrusted_domain: [
    "The trust domain of the client certificate's identifier has no CA bundle in `mtls.trustBundles`.",
    "Service: add the trust domain's bundle if it is to be trusted.",
  ],
  mtls_identity_mismatch: [
    'Both mTLS and an application-layer proof were used, and they name different workloads.',
    'Caller: use the same workload identity at both layers.',
  ],
  mtls_proxy_header: [
    'The `Client-Cert`/`Client-Cert-Chain` fields (RFC 9440) from a trusted proxy are malformed, repeated or too large.',
    "Check the proxy's client-certificate forwarding configuration.",
  ],
  mtls_proxy_untrusted: [
    'A `Client-Cert` field arrived from a peer that is not one of the configured trusted proxies; it is not believed.',
    'Service: list the proxy in `mtls.trustedProxies`. Caller: never send `Client-Cert` yourself.',
  ],
  request_invalid: [
    'The request itself is malformed for verification: request target not in origin form, an unreadable body, conflicting framing.',
    'Caller: send a well-formed HTTP request. Adapter authors: pass the path as received.',
  ],
  body_too_large: [
    'The body to check against a `Content-Digest` is larger than `maxBodyBytes` (default 1 MiB); at most that much was read.',
    'Caller: send smaller bodies. Service: raise `maxBodyBytes` if larger signed bodies are expected.',
  ],
  forbidden: [
    'The caller authenticated, but its workload is not allowed on this route (`allow`).',
    'Service: add the workload (or a pattern) to `allow` if intended. Caller: call with the right identity.',
  ],
  trust_unavailable: [
    'The trust anchors could not be obtained: the JWKS URL failed or timed out, a CA bundle could not be read, or a trusted key is refused.',
    'Retry after `Retry-After`. Service: check the JWKS endpoint or bundle source (see JWKS events).',
  ],
  replay_unavailable: [
    'The replay store (e.g. Redis) did not answer, so a proof could not be checked for replay; it is refused, not accepted.',
    'Retry after `Retry-After`. Service: check the replay store.',
  ],
  replay_quota_exceeded: [
    'This workload has too many live proofs in the replay store (its per-workload quota).',
    "Caller: slow down (retry after `Retry-After`), use shorter-lived proofs. Service: size the replay store's per-workload share.",
  ],
  txn_token_duplicate: ['The request carries more than one `Txn-Token` field.', 'Caller: send exactly one Txn-Token.'],
  txn_token_too_large: [
    'The Txn-Token exceeds the size limit (`maxLength`, default 8192 characters) and was not parsed.',
    'Transaction token service: keep Txn-Tokens small (`rctx`, `tctx`).',
  ],
  txn_token_malformed: [
    'The Txn-Token is not a compact JWS JWT, or its header or claims are not JSON objects.',
    'Caller: forward the Txn-Token exactly as the transaction token service issued it.',
  ],
  txn_token_typ: [
    'The Txn-Token header `typ` is not `txntoken+jwt` (txn-tokens §9.1).',
    'Transaction token service: mint Txn-Tokens with `typ: txntoken+jwt`; an access token is not a Txn-Token.',
  ],
  txn_token_alg: [
    'The Txn-Token is signed with an algorithm that is not allowed (`none`, symmetric, or outside `algorithms`).',
    'Transaction token service: sign with an asymmetric algorithm the service allows.',
  ],
  txn_token_key_unknown: [
    'No configured key of the transaction token service matches the Txn-Token header (unknown `kid`, or several keys and no `kid`).',
    'Service: check the Txn-Token `keys` (JWKS URL, key rotation). Transaction token service: set `kid`.',
  ],
  txn_token_signature: [
    'The Txn-Token signature does not verify with the configured keys: altered, or signed by another key.',
    'Caller: forward the Txn-Token unmodified. Service: check the configured keys.',
  ],
  txn_token_claims: [
    'A required Txn-Token claim is missing or malformed (`iat`, `exp`, `txn`, `sub`, `scope`, `rctx`/`tctx` objects; txn-tokens §9.2).',
    'Transaction token service: include every required claim with the right type.',
  ],
  txn_token_audience: [
    "The Txn-Token `aud` is missing or does not name this service's trust domain (txn-tokens §9.2).",
    'Service: check `trustDomain`. Transaction token service: issue the token for this trust domain.',
  ],
  txn_token_expired: [
    'The Txn-Token `exp` is in the past (beyond the clock tolerance).',
    'Caller: get a fresh Txn-Token (or a replacement) for the transaction. Check the clocks.',
  ],
  txn_token_not_yet_valid: [
    'The Txn-Token `iat` is in the future (beyond the clock tolerance).',
    'Check the clocks of the transaction token service and the service.',
  ],
  txn_token_lifetime: [
    'The Txn-Token lives longer (`exp - iat`) than the service accepts (`maxLifetime`, default 600 s); Txn-Tokens are short-lived.',
    'Transaction token service: issue shorter-lived tokens.',
  ],
  txn_token_iss: [
    'The Txn-Token `iss` is not one of the configured `issuer` values.',
    'Service: check `issuer`. Transaction token service: set `iss` to its configured identifier.',
  ],
  insufficient_scope: [
    'The caller authenticated, but the Txn-Token of the request does not grant the scope this route requires (RFC 6750 §3.1).',
    "Caller: obtain a Txn-Token whose `scope` covers the route. Service: check the route's required scope.",
  ],
  internal_error: [
    'A bug: an exception that is not bad input. It was reported to `onInternalError`; the details are not sent.',
    'Service: see the report. Please file an issue if it comes from wimse-js.',
  ],
};
