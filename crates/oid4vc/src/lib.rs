//! OpenID for Verifiable Credential Issuance 1.0: the messages between a wallet and the
//! authority, and the proofs that bind a credential to a key in the phone's secure hardware.
//!
//! - [`metadata`]: the Credential Issuer Metadata (§12.2) and the OAuth Authorization
//!   Server Metadata (RFC 8414) the pre-authorized flow needs;
//! - [`offer`]: the Credential Offer (§4.1) with a pre-authorized code and `tx_code`;
//! - [`token`]: the Token Request and Response (§6) and the Nonce Response (§7);
//! - [`credential`]: the Credential Request (§8.2) with `proofs`, the Credential Response
//!   (§8.3) and the endpoint errors (§8.3.1.2);
//! - [`proof`]: `jwt` key proofs (Appendix F.1) carrying a wallet provider's key attestation
//!   (Appendix D.1), made and verified — every check with its own [`ProofError`].
//!
//! - [`vp`]: OpenID4VP 1.0 — the signed request object (`x509_hash` client id) with its
//!   DCQL query, the invocation by reference, the encrypted `direct_post.jwt` response.
//!
//! This crate is a format crate: no HTTP, no storage, no async. Which nonces were handed
//! out and which codes were redeemed is the authority's state; here the proofs are checked
//! for what they say and who signed them.

pub mod credential;
pub mod eid;
mod error;
pub mod metadata;
pub mod offer;
pub mod proof;
pub mod token;
pub mod vp;

pub use error::{OfferError, ProofError};
pub use proof::{KeyAttestation, VerifiedKeyAttestation, VerifiedKeyProof};

/// The pre-authorized code grant type (OpenID4VCI 1.0 §4.1.1).
pub const GRANT_PRE_AUTHORIZED_CODE: &str = "urn:ietf:params:oauth:grant-type:pre-authorized_code";
/// The `format` of ISO mdoc credentials (Appendix A.2).
pub const FORMAT_MSO_MDOC: &str = "mso_mdoc";
/// The `format` of SD-JWT VC credentials (Appendix A.3).
pub const FORMAT_SD_JWT_VC: &str = "dc+sd-jwt";
/// The `format` of eid's compact credentials for the offline QR (an extension format:
/// a CWT per purpose, `eid_mdoc::offline`), delivered base64url-encoded.
pub const FORMAT_EID_COMPACT: &str = "eid_compact_cwt";
/// The `typ` of a `jwt` key proof (Appendix F.1).
pub const TYP_KEY_PROOF: &str = "openid4vci-proof+jwt";
/// The `typ` of a key attestation JWT (Appendix D.1).
pub const TYP_KEY_ATTESTATION: &str = "key-attestation+jwt";
