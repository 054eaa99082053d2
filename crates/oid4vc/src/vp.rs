//! OpenID for Verifiable Presentations 1.0: the signed request object a registered relying
//! party hands over by reference, its DCQL query, and the encrypted `direct_post.jwt`
//! response — the messages only; which relying party is registered for what, and whether
//! the query stays within it, the wallet decides against the trust list.
//!
//! eid's profile of the specification:
//! - client identifier prefix `x509_hash` (§5.9.3): `x509_hash:` + base64url (no padding)
//!   of the SHA-256 of the DER leaf certificate, which comes in the request object's `x5c`
//!   header and signs it (ES256);
//! - request by reference (`request_uri`, method `get`); the request object has
//!   `typ: oauth-authz-req+jwt` (RFC 9101) and `aud: https://self-issued.me/v2`;
//! - `response_type` `vp_token`, `response_mode` `direct_post.jwt`: the response is a JWE
//!   (ECDH-ES, `A128GCM` unless the verifier lists others in
//!   `encrypted_response_enc_values_supported`) to the key in `client_metadata.jwks`,
//!   posted as `response=<JWE>`;
//! - `dcql_query` with one credential query per format the verifier accepts (`mso_mdoc`
//!   with `doctype_value`, `dc+sd-jwt` with `vct_values`) and a `credential_sets` entry
//!   offering them as alternatives;
//! - the purpose goes in `verifier_info` (§5.1) as `{"format": "eid_purpose", "data":
//!   {"purpose": "bank_account_opening"}}`: the wallet checks it against the relying
//!   party's registration.
//!
//! Through the W3C Digital Credentials API (Appendix A) the same request travels in the
//! page's `navigator.credentials.get()` call and the answer comes back through the page:
//! - `openid4vp-v1-signed` ([`verify_dc_api_request`]): `data` is `{"request": <request
//!   object>}`, signed as above, with `expected_origins` (required: the page's origin must
//!   be one of them) and no response URI;
//! - `openid4vp-v1-unsigned` ([`read_unsigned_request`]): `data` holds the parameters
//!   themselves; a `client_id` and `expected_origins` in it are ignored (A.2) — the page's
//!   origin, which the browser vouches for, is all that says who asks;
//! - either way `response_mode` `dc_api.jwt`: the page receives `{"response": <JWE>}`, and
//!   the audience of the presentation is `origin:<origin>` ([`origin_audience`], A.4), not
//!   a client identifier; `state` is not defined (A.2).

use std::collections::BTreeMap;

use eid_crypto::{Jwk, Signer, VerifyingKey, b64url, sha256};
use eid_sdjwt::Jws;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

/// The request object's `typ` (RFC 9101 §10.8).
pub const TYP_REQUEST_OBJECT: &str = "oauth-authz-req+jwt";
/// The request object's `aud` with static wallet discovery (§5.8).
pub const AUD_SELF_ISSUED: &str = "https://self-issued.me/v2";
/// The response mode eid uses.
pub const RESPONSE_MODE_DIRECT_POST_JWT: &str = "direct_post.jwt";
/// The `verifier_info` format eid's requests name their purpose in.
pub const VERIFIER_INFO_PURPOSE: &str = "eid_purpose";
/// The URI scheme a wallet is invoked with.
pub const SCHEME: &str = "openid4vp://";
/// The Digital Credentials API protocol of a signed request (JWS compact, Appendix A.1).
pub const PROTOCOL_SIGNED: &str = "openid4vp-v1-signed";
/// The Digital Credentials API protocol of an unsigned request (Appendix A.1).
pub const PROTOCOL_UNSIGNED: &str = "openid4vp-v1-unsigned";
/// The encrypted response mode through the Digital Credentials API (Appendix A.2).
pub const RESPONSE_MODE_DC_API_JWT: &str = "dc_api.jwt";

/// The audience of a presentation made through the Digital Credentials API: the page's
/// origin prefixed with `origin:` (Appendix A.4), for signed requests too.
pub fn origin_audience(origin: &str) -> String {
    format!("origin:{origin}")
}

/// Why a request or response was not accepted, each check its own variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VpError {
    /// Not the structure the specification defines.
    #[error("malformed OpenID4VP message: {0}")]
    Malformed(String),
    /// The request object's `typ` is not `oauth-authz-req+jwt`.
    #[error("the request object's typ must be oauth-authz-req+jwt")]
    RequestType,
    /// The client identifier uses a prefix eid does not accept.
    #[error("the client_id prefix is not accepted (only x509_hash)")]
    ClientIdPrefix,
    /// The request carries no `x5c` leaf certificate.
    #[error("the request object carries no x5c certificate")]
    MissingCertificate,
    /// The `x509_hash` is not the hash of the leaf certificate.
    #[error("the client_id's x509_hash is not the hash of the request's certificate")]
    ClientIdMismatch,
    /// The client_id of the invocation and of the request object differ.
    #[error("the client_id of the request object differs from the one the wallet was invoked with")]
    InvocationMismatch,
    /// The signature does not verify with the leaf certificate's key.
    #[error("the request object's signature does not verify with its certificate")]
    Signature,
    /// `exp` passed, or `iat` in the future.
    #[error("the request object has expired or is dated in the future")]
    Expired,
    /// Not `vp_token` with `direct_post.jwt` and a response URI and an encryption key.
    #[error("the request asks for a response eid does not give: {0}")]
    Unsupported(String),
    /// A signed request through the Digital Credentials API names no `expected_origins`,
    /// or not the origin of the page that made the call (Appendix A.2: `invalid_request`).
    #[error("the request is not for this page: its expected_origins do not name the page's origin")]
    Origin,
}

/// A claims query of DCQL (§6.3): the path, and for mdoc whether it will be retained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimsQuery {
    /// `[namespace, element]` for mdoc, `[claim]` for SD-JWT VC (eid asks for top-level
    /// claims only).
    pub path: Vec<Value>,
    /// mdoc: whether the verifier intends to keep the value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent_to_retain: Option<bool>,
}

/// A credential query of DCQL (§6.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialQuery {
    /// Its id, the key of its presentations in `vp_token`.
    pub id: String,
    /// `mso_mdoc` or `dc+sd-jwt`.
    pub format: String,
    /// `{"doctype_value": …}` or `{"vct_values": […]}`.
    #[serde(default)]
    pub meta: Map<String, Value>,
    /// The claims asked for.
    #[serde(default)]
    pub claims: Vec<ClaimsQuery>,
}

/// A credential set of DCQL (§6.2): alternatives, any one of which satisfies it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialSet {
    /// Each option a list of credential query ids.
    pub options: Vec<Vec<String>>,
}

/// A DCQL query (§6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DcqlQuery {
    /// The credential queries.
    pub credentials: Vec<CredentialQuery>,
    /// The sets, when the queries are alternatives.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub credential_sets: Vec<CredentialSet>,
}

impl DcqlQuery {
    /// eid's query for the resident identity: one query per format (`mdoc`, `sd_jwt`), the
    /// same attributes in each, either one satisfying the request. With `delegation` (the
    /// purpose accepts a credential a parent or guardian holds for the resident), the
    /// delegated type is a further alternative: an mdoc query of its own docType
    /// (`mdoc_delegated`; the attributes are in the same namespace), and its `vct` beside
    /// the resident's own in the SD-JWT query.
    pub fn resident_identity(
        attributes: &[String],
        intent_to_retain: bool,
        delegation: bool,
    ) -> Self {
        let mdoc = |id: &str, doctype: &str| CredentialQuery {
            id: id.into(),
            format: crate::FORMAT_MSO_MDOC.into(),
            meta: Map::from_iter([("doctype_value".to_owned(), Value::from(doctype))]),
            claims: attributes
                .iter()
                .map(|a| ClaimsQuery {
                    path: vec![Value::from(RESIDENT_DOCTYPE), Value::from(a.as_str())],
                    intent_to_retain: Some(intent_to_retain),
                })
                .collect(),
        };
        let mut vct_values = vec![eid_sdjwt::VCT_RESIDENT_IDENTITY];
        if delegation {
            vct_values.push(eid_sdjwt::VCT_DELEGATED);
        }
        let sd_jwt = CredentialQuery {
            id: QUERY_SD_JWT.into(),
            format: crate::FORMAT_SD_JWT_VC.into(),
            meta: Map::from_iter([("vct_values".to_owned(), json!(vct_values))]),
            claims: attributes
                .iter()
                .map(|a| ClaimsQuery {
                    path: vec![Value::from(a.as_str())],
                    intent_to_retain: None,
                })
                .collect(),
        };
        let mut credentials = vec![mdoc(QUERY_MDOC, RESIDENT_DOCTYPE)];
        if delegation {
            credentials.push(mdoc(QUERY_MDOC_DELEGATED, DELEGATED_DOCTYPE));
        }
        credentials.push(sd_jwt);
        Self {
            credential_sets: vec![CredentialSet {
                options: credentials.iter().map(|q| vec![q.id.clone()]).collect(),
            }],
            credentials,
        }
    }
}

/// The resident identity's docType and namespace (`eid_mdoc::DOCTYPE_RESIDENT_IDENTITY`;
/// this crate does not depend on the mdoc crate).
pub const RESIDENT_DOCTYPE: &str = "cn.eid.resident.1";

/// The docType of a resident's credential a parent or guardian holds
/// (`eid_mdoc::DOCTYPE_DELEGATED`).
pub const DELEGATED_DOCTYPE: &str = "cn.eid.resident.delegated.1";

/// The id of [`DcqlQuery::resident_identity`]'s query for the resident's own mdoc.
pub const QUERY_MDOC: &str = "mdoc";
/// The id of its query for a delegated mdoc.
pub const QUERY_MDOC_DELEGATED: &str = "mdoc_delegated";
/// The id of its query for an SD-JWT VC (either type).
pub const QUERY_SD_JWT: &str = "sd_jwt";

/// The verifier's metadata in the request (§5.1 `client_metadata`, §11.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientMetadata {
    /// `{"keys": [JWK]}`: the response encryption key(s).
    pub jwks: Jwks,
    /// The `enc` values it accepts (default A128GCM).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub encrypted_response_enc_values_supported: Vec<String>,
    /// The formats and algorithms it accepts.
    #[serde(default)]
    pub vp_formats_supported: Map<String, Value>,
}

/// A JWK set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    /// The keys.
    pub keys: Vec<Jwk>,
}

/// The request object's claims (§5.1, §8.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    /// `x509_hash:…` (empty in an unsigned request through the Digital Credentials API,
    /// which has none).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub client_id: String,
    /// `vp_token`.
    pub response_type: String,
    /// `direct_post.jwt`, or `dc_api.jwt` through the Digital Credentials API.
    pub response_mode: String,
    /// Where the wallet posts the response (none through the Digital Credentials API).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub response_uri: String,
    /// The origins of the pages that may make a signed request through the Digital
    /// Credentials API (Appendix A.2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expected_origins: Vec<String>,
    /// Fresh per request; binds the presentation.
    pub nonce: String,
    /// The verifier's handle on this request, returned in the response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// What is asked.
    pub dcql_query: DcqlQuery,
    /// The encryption key and formats.
    pub client_metadata: ClientMetadata,
    /// Attestations about the verifier; eid's purpose is one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verifier_info: Vec<Value>,
    /// `https://self-issued.me/v2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// When made (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Until when it may be used (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
}

impl AuthorizationRequest {
    /// The purpose named in `verifier_info` (format `eid_purpose`).
    pub fn purpose(&self) -> Option<&str> {
        self.verifier_info
            .iter()
            .find(|v| v.get("format").and_then(Value::as_str) == Some(VERIFIER_INFO_PURPOSE))
            .and_then(|v| v.get("data")?.get("purpose")?.as_str())
    }

    /// The `verifier_info` entry naming `purpose`.
    pub fn purpose_info(purpose: &str) -> Value {
        json!({"format": VERIFIER_INFO_PURPOSE, "data": {"purpose": purpose}})
    }

    /// The response encryption key: the first P-256 key of `client_metadata.jwks` with
    /// `alg` ECDH-ES (§8.3: the JWKs carry `alg`, and the JWE's is the chosen key's) and
    /// `use` enc or none.
    pub fn encryption_key(&self) -> Option<&Jwk> {
        self.client_metadata.jwks.keys.iter().find(|k| {
            k.use_.as_deref().is_none_or(|u| u == "enc")
                && k.alg.as_deref() == Some("ECDH-ES")
                && k.kty == "EC"
                && k.crv == "P-256"
        })
    }

    /// The content encryption to use: the first of the verifier's values eid supports,
    /// A128GCM when it lists none (§8.3).
    pub fn content_encryption(&self) -> Option<eid_crypto::jwe::Enc> {
        let listed = &self.client_metadata.encrypted_response_enc_values_supported;
        if listed.is_empty() {
            return Some(eid_crypto::jwe::Enc::A128Gcm);
        }
        listed.iter().find_map(|e| eid_crypto::jwe::Enc::parse(e))
    }
}

/// `x509_hash:` + base64url(SHA-256(DER)).
pub fn x509_hash_client_id(certificate_der: &[u8]) -> String {
    format!("x509_hash:{}", b64url(&sha256(certificate_der)))
}

/// Signs a request object with the relying party's key, its certificate in `x5c`.
pub fn sign_request(
    request: &AuthorizationRequest,
    signer: &dyn Signer,
    certificate_der: &[u8],
) -> Result<String, VpError> {
    use base64::Engine;
    if signer.algorithm() != eid_crypto::Algorithm::Es256 {
        return Err(VpError::Unsupported(
            "a request object signed other than with ES256 (wallets read ES256 only)".into(),
        ));
    }
    let header = Map::from_iter([
        ("alg".to_owned(), Value::from("ES256")),
        ("typ".to_owned(), Value::from(TYP_REQUEST_OBJECT)),
        (
            "x5c".to_owned(),
            json!([base64::engine::general_purpose::STANDARD.encode(certificate_der)]),
        ),
    ]);
    let Ok(Value::Object(payload)) = serde_json::to_value(request) else {
        return Err(VpError::Malformed("the request is not an object".into()));
    };
    Jws::sign(&header, &payload, signer).map_err(|e| VpError::Malformed(e.to_string()))
}

/// The wallet's invocation: `openid4vp://?client_id=…&request_uri=…`.
pub fn invocation_uri(client_id: &str, request_uri: &str) -> String {
    let encode = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
    format!(
        "{SCHEME}?client_id={}&request_uri={}",
        encode(client_id),
        encode(request_uri)
    )
}

/// Reads an invocation: its `client_id` and `request_uri`.
pub fn parse_invocation(uri: &str) -> Result<(String, String), VpError> {
    let url = url::Url::parse(uri.trim())
        .map_err(|_| VpError::Malformed("the invocation is not a URI".into()))?;
    if url.scheme() != "openid4vp" {
        return Err(VpError::Malformed(
            "the invocation is not openid4vp://".into(),
        ));
    }
    let find = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .ok_or_else(|| VpError::Malformed(format!("the invocation has no {name}")))
    };
    Ok((find("client_id")?, find("request_uri")?))
}

/// A request object that passed every check of the format: what the wallet then checks
/// against the trust list.
#[derive(Debug, Clone)]
pub struct VerifiedRequest {
    /// The request.
    pub request: AuthorizationRequest,
    /// The DER leaf certificate that signed it.
    pub certificate: Vec<u8>,
    /// Its key.
    pub key: VerifyingKey,
}

/// Checks a request object: `typ`, the `x509_hash` client identifier against the `x5c` leaf,
/// the invocation's `client_id`, the signature with the leaf's key (`leaf_key` reads it,
/// with whatever certificate profile the caller applies), the times (`exp` required),
/// `aud` when present, and that it asks for
/// what eid answers (`vp_token`, `direct_post.jwt`, a response URI, an encryption key).
pub fn verify_request(
    jwt: &str,
    invoked_client_id: &str,
    leaf_key: impl FnOnce(&[u8]) -> Result<VerifyingKey, VpError>,
    now: OffsetDateTime,
) -> Result<VerifiedRequest, VpError> {
    let verified = verify_signed(jwt, Some(invoked_client_id), leaf_key, now)?;
    if verified.request.response_uri.is_empty() {
        return Err(VpError::Unsupported(
            "no response_uri (eid answers direct_post.jwt)".into(),
        ));
    }
    answerable(&verified.request, RESPONSE_MODE_DIRECT_POST_JWT)?;
    Ok(verified)
}

/// Checks the request object of an `openid4vp-v1-signed` call through the Digital
/// Credentials API, made by a page at `origin`: as [`verify_request`] (without an
/// invocation), then `expected_origins` naming `origin` exactly (Appendix A.2), and the
/// encrypted `dc_api.jwt` answer.
pub fn verify_dc_api_request(
    jwt: &str,
    origin: &str,
    leaf_key: impl FnOnce(&[u8]) -> Result<VerifyingKey, VpError>,
    now: OffsetDateTime,
) -> Result<VerifiedRequest, VpError> {
    let mut verified = verify_signed(jwt, None, leaf_key, now)?;
    if !verified
        .request
        .expected_origins
        .iter()
        .any(|o| o == origin)
    {
        return Err(VpError::Origin);
    }
    answerable(&verified.request, RESPONSE_MODE_DC_API_JWT)?;
    // Not defined through the API (A.2): the answer goes back through the page, and a
    // `state` is not echoed.
    verified.request.state = None;
    verified.request.response_uri.clear();
    Ok(verified)
}

/// Reads the `data` of an `openid4vp-v1-unsigned` call through the Digital Credentials
/// API: the request's parameters themselves. A `client_id` or `expected_origins` in it is
/// dropped (Appendix A.2: the wallet ignores them), as are what the API does not define
/// (`state`, `response_uri`) and what only a request object has (`aud`, `iat`, `exp`); the
/// answer must be the encrypted `dc_api.jwt`. Who asks is the page's origin alone.
pub fn read_unsigned_request(data: &Value) -> Result<AuthorizationRequest, VpError> {
    let mut request: AuthorizationRequest = serde_json::from_value(data.clone())
        .map_err(|e| VpError::Malformed(format!("the unsigned request: {e}")))?;
    // Ignored (A.2): what names a client, what only a signed request or a redirect has.
    request.client_id.clear();
    request.expected_origins.clear();
    request.state = None;
    request.response_uri.clear();
    request.aud = None;
    request.iat = None;
    request.exp = None;
    answerable(&request, RESPONSE_MODE_DC_API_JWT)?;
    Ok(request)
}

/// A signed request object's own checks, whichever way it came.
fn verify_signed(
    jwt: &str,
    invoked_client_id: Option<&str>,
    leaf_key: impl FnOnce(&[u8]) -> Result<VerifyingKey, VpError>,
    now: OffsetDateTime,
) -> Result<VerifiedRequest, VpError> {
    use base64::Engine;
    let jws = Jws::parse(jwt.trim()).map_err(|e| VpError::Malformed(e.to_string()))?;
    if jws.typ() != Some(TYP_REQUEST_OBJECT) {
        return Err(VpError::RequestType);
    }
    let request: AuthorizationRequest =
        serde_json::from_value(Value::Object(jws.payload().clone()))
            .map_err(|e| VpError::Malformed(format!("the request object: {e}")))?;
    if invoked_client_id.is_some_and(|invoked| request.client_id != invoked) {
        return Err(VpError::InvocationMismatch);
    }
    let hash = request
        .client_id
        .strip_prefix("x509_hash:")
        .ok_or(VpError::ClientIdPrefix)?;
    let certificate = jws
        .header()
        .get("x5c")
        .and_then(Value::as_array)
        .and_then(|chain| chain.first())
        .and_then(Value::as_str)
        .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
        .ok_or(VpError::MissingCertificate)?;
    if b64url(&sha256(&certificate)) != hash {
        return Err(VpError::ClientIdMismatch);
    }
    let key = leaf_key(&certificate)?;
    if jws.algorithm().is_err() || jws.verify(&key).is_err() {
        return Err(VpError::Signature);
    }
    // eid's profile: a request object must say until when it may be used.
    let now = now.unix_timestamp();
    if request.exp.is_none_or(|exp| exp <= now) || request.iat.is_some_and(|iat| iat > now + 60) {
        return Err(VpError::Expired);
    }
    if request
        .aud
        .as_deref()
        .is_some_and(|aud| aud != AUD_SELF_ISSUED)
    {
        return Err(VpError::Malformed(
            "the request object's aud is not https://self-issued.me/v2".into(),
        ));
    }
    Ok(VerifiedRequest {
        request,
        certificate,
        key,
    })
}

/// Whether eid can give the answer `request` asks for: a `vp_token`, encrypted in
/// `response_mode`, to a P-256 key with an `enc` eid has, bound to a nonce.
fn answerable(request: &AuthorizationRequest, response_mode: &str) -> Result<(), VpError> {
    if request.response_type != "vp_token" {
        return Err(VpError::Unsupported(format!(
            "response_type {}",
            request.response_type
        )));
    }
    if request.response_mode != response_mode {
        return Err(VpError::Unsupported(format!(
            "response_mode {} (eid answers only encrypted, {response_mode} here)",
            request.response_mode
        )));
    }
    if request.encryption_key().is_none() {
        return Err(VpError::Unsupported(
            "no P-256 key with alg ECDH-ES in client_metadata.jwks".into(),
        ));
    }
    if request.content_encryption().is_none() {
        return Err(VpError::Unsupported(
            "none of encrypted_response_enc_values_supported (eid: A128GCM, A256GCM)".into(),
        ));
    }
    if request.nonce.is_empty() {
        return Err(VpError::Malformed("the request has no nonce".into()));
    }
    Ok(())
}

/// The content of the encrypted response (§8.1, §8.3): `vp_token` by credential query id,
/// and `state`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponsePayload {
    /// Presentations by credential query id.
    pub vp_token: BTreeMap<String, Vec<String>>,
    /// The request's `state`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

/// The error a wallet sends when the holder declines (§8.5, RFC 6749 §4.1.2.1).
pub const ERROR_ACCESS_DENIED: &str = "access_denied";

/// An error response (§8.5): what the wallet sends instead of a presentation. With
/// `direct_post.jwt` eid's wallet encrypts it like a presentation (the parameters are the
/// response's, as in JARM); a verifier also takes it as plain form fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorPayload {
    /// The error code: `access_denied` when the holder declines.
    pub error: String,
    /// Words for the developer, never shown as the wallet's finding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
    /// The request's `state`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

/// Whether `code` is an error code as the specifications spell them: lower-case letters
/// and `_`, at most 64 (RFC 6749 allows more; eid reads nothing else from outside).
pub fn is_error_code(code: &str) -> bool {
    (1..=64).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}
