//! `jwt` key proofs (OpenID4VCI 1.0 Appendix F.1) and the wallet provider's key attestation
//! (Appendix D.1) they carry.
//!
//! ```text
//! key proof:        header { "typ": "openid4vci-proof+jwt", "alg": "ES256", "jwk": holder key,
//!                            "key_attestation": key attestation JWT }
//!                   claims { "aud": credential issuer, "iat": NumericDate, "nonce": c_nonce }
//! key attestation:  header { "typ": "key-attestation+jwt", "alg": "ES256", ? "kid" }
//!                   claims { "iss": provider id, "sub": wallet instance id, "iat", ? "exp",
//!                            "attested_keys": [JWK], "key_storage": [tstr],
//!                            ? "user_authentication": [tstr] }
//! ```
//!
//! The attestation is what lets the authority issue only into wallets that keep keys in
//! secure hardware: it is signed by a wallet provider (a super-app) listed in the trust
//! list, names the wallet instance (`sub`, eid's profile: the provider's stable identifier
//! of the app installation, which lifecycle actions address) and the keys it vouches for,
//! and says at what level they are stored (ISO/IEC 18045 attack potential). A batch shares
//! one attestation listing all its keys; every proof must be signed by one of them. A
//! proof names its key by `jwk`, or — as OpenID4VCI 1.0 wallets send one proof for a whole
//! attested batch — by `kid` among the attested keys; then the issuer binds one credential
//! to each attested key ([`keys_to_bind`]).

use eid_crypto::{Jwk, Signer, VerifyingKey};
use eid_sdjwt::Jws;
use eid_trust::model::{ProviderState, WalletProvider};
use serde_json::{Map, Value, json};
use time::{Duration, OffsetDateTime};

use crate::{ProofError, TYP_KEY_ATTESTATION, TYP_KEY_PROOF};

/// How far a proof's or attestation's `iat` may lie ahead of the issuer's clock.
pub const CLOCK_SKEW: Duration = Duration::seconds(60);

/// A key attestation to sign (the wallet provider's side).
#[derive(Debug)]
pub struct KeyAttestation<'a> {
    /// The wallet provider's id in the trust list (`iss`).
    pub provider: &'a str,
    /// The wallet instance (`sub`).
    pub wallet_instance: &'a str,
    /// The keys vouched for.
    pub keys: &'a [VerifyingKey],
    /// Their storage level, e.g. `iso_18045_high`.
    pub key_storage: &'a [&'a str],
    /// How the user unlocks them, e.g. `iso_18045_high` (PIN and biometrics).
    pub user_authentication: &'a [&'a str],
    /// `iat`.
    pub issued_at: OffsetDateTime,
    /// `exp`.
    pub expires_at: OffsetDateTime,
}

impl KeyAttestation<'_> {
    /// Signs it with a key of the provider.
    pub fn sign(&self, signer: &dyn Signer) -> Result<String, ProofError> {
        let header = object(json!({
            "typ": TYP_KEY_ATTESTATION,
            "alg": signer.algorithm().jose_name(),
            "kid": signer.verifying_key().thumbprint(),
        }));
        let keys: Vec<Jwk> = self.keys.iter().map(VerifyingKey::to_jwk).collect();
        let claims = object(json!({
            "iss": self.provider,
            "sub": self.wallet_instance,
            "iat": self.issued_at.unix_timestamp(),
            "exp": self.expires_at.unix_timestamp(),
            "attested_keys": keys,
            "key_storage": self.key_storage,
            "user_authentication": self.user_authentication,
        }));
        Jws::sign(&header, &claims, signer).map_err(|_| ProofError::Malformed("signing failed"))
    }
}

/// Makes a `jwt` key proof with the holder's key (the wallet's side).
pub fn key_proof(
    holder: &dyn Signer,
    audience: &str,
    nonce: &str,
    issued_at: OffsetDateTime,
    attestation: Option<&str>,
) -> Result<String, ProofError> {
    let mut header = object(json!({
        "typ": TYP_KEY_PROOF,
        "alg": holder.algorithm().jose_name(),
        "jwk": holder.verifying_key().to_jwk(),
    }));
    if let Some(attestation) = attestation {
        header.insert("key_attestation".into(), Value::String(attestation.into()));
    }
    let claims = object(json!({
        "aud": audience,
        "iat": issued_at.unix_timestamp(),
        "nonce": nonce,
    }));
    Jws::sign(&header, &claims, holder).map_err(|_| ProofError::Malformed("signing failed"))
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// What a Credential Endpoint requires of key proofs.
#[derive(Debug, Clone, Copy)]
pub struct ProofPolicy<'a> {
    /// The Credential Issuer Identifier every proof's `aud` must equal.
    pub audience: &'a str,
    /// Now, on the issuer's clock.
    pub now: OffsetDateTime,
    /// How old a proof's `iat` may be.
    pub max_proof_age: Duration,
    /// The wallet providers of the trust list.
    pub providers: &'a [WalletProvider],
    /// The accepted `key_storage` levels, any of which will do.
    pub key_storage: &'a [String],
}

/// A key attestation whose signature, provider, times and storage level were checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedKeyAttestation {
    /// The wallet provider's id.
    pub provider: String,
    /// The wallet instance.
    pub wallet_instance: String,
    /// The keys it vouches for.
    pub attested_keys: Vec<VerifyingKey>,
    /// Their JWK `kid`s, where given (a proof's `kid` names an attested key by it).
    pub attested_kids: Vec<Option<String>>,
    /// Their storage levels.
    pub key_storage: Vec<String>,
}

/// A key proof whose every check passed: the key to bind a credential to, the nonce it
/// carries (which the issuer must still find unused), and its attestation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedKeyProof {
    /// The holder's key.
    pub key: VerifyingKey,
    /// The proof's `nonce`.
    pub nonce: String,
    /// The attestation vouching for the key.
    pub attestation: VerifiedKeyAttestation,
}

/// Verifies one key attestation against the trust list's wallet providers.
pub fn verify_key_attestation(
    jwt: &str,
    policy: &ProofPolicy<'_>,
) -> Result<VerifiedKeyAttestation, ProofError> {
    let jws = Jws::parse(jwt).map_err(|_| ProofError::AttestationMalformed("not a JWS"))?;
    if jws.typ() != Some(TYP_KEY_ATTESTATION) {
        return Err(ProofError::AttestationType);
    }
    // A wallet provider's attestation key is P-256 (its JWK in the trust list): ES256 only.
    let algorithm = jws
        .algorithm()
        .ok()
        .filter(|a| *a == eid_crypto::Algorithm::Es256)
        .ok_or(ProofError::AttestationAlgorithm)?;
    let claims = jws.payload();
    let provider_id = string(claims, "iss").ok_or(ProofError::UnknownProvider)?;
    let provider = policy
        .providers
        .iter()
        .find(|p| p.id == provider_id)
        .ok_or(ProofError::UnknownProvider)?;
    if provider.state != ProviderState::Active {
        return Err(ProofError::ProviderSuspended(provider.id.clone()));
    }
    let signed = provider.attestation_keys.iter().any(|jwk| {
        jwk.verifying_key()
            .is_ok_and(|key| key.algorithm() == algorithm && jws.verify(&key).is_ok())
    });
    if !signed {
        return Err(ProofError::AttestationSignature);
    }
    let issued_at = time(claims, "iat").ok_or(ProofError::AttestationExpired)?;
    if issued_at > policy.now + CLOCK_SKEW {
        return Err(ProofError::AttestationExpired);
    }
    // eid requires `exp`: an attestation that never expires would outlive a provider's
    // revocation of the wallet instance.
    let expires_at = time(claims, "exp").ok_or(ProofError::AttestationExpired)?;
    if expires_at <= policy.now {
        return Err(ProofError::AttestationExpired);
    }
    let wallet_instance = string(claims, "sub")
        .filter(|s| !s.is_empty())
        .ok_or(ProofError::MissingWalletInstance)?;
    let (attested_keys, attested_kids): (Vec<VerifyingKey>, Vec<Option<String>>) =
        match claims.get("attested_keys") {
            Some(Value::Array(keys)) if !keys.is_empty() => keys
                .iter()
                .map(|k| {
                    serde_json::from_value::<Jwk>(k.clone())
                        .ok()
                        .filter(|_| k.get("d").is_none())
                        .and_then(|jwk| jwk.verifying_key().ok().map(|key| (key, jwk.kid)))
                        .ok_or(ProofError::AttestationMalformed(
                            "attested_keys holds a key that is not a P-256 public JWK",
                        ))
                })
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .unzip(),
            _ => {
                return Err(ProofError::AttestationMalformed(
                    "attested_keys must be a non-empty array",
                ));
            }
        };
    let key_storage = strings(claims, "key_storage")?;
    if !policy.key_storage.is_empty() && !key_storage.iter().any(|s| policy.key_storage.contains(s))
    {
        return Err(ProofError::KeyStorage);
    }
    Ok(VerifiedKeyAttestation {
        provider: provider.id.clone(),
        wallet_instance: wallet_instance.to_owned(),
        attested_keys,
        attested_kids,
        key_storage,
    })
}

/// Verifies one `jwt` key proof, with the attestation already verified from its header
/// (see [`verify_key_proofs`], which verifies each distinct attestation once).
fn verify_proof(
    jws: &Jws,
    attestation: &VerifiedKeyAttestation,
    policy: &ProofPolicy<'_>,
) -> Result<VerifiedKeyProof, ProofError> {
    let header = jws.header();
    let key = match (header.get("jwk"), header.get("kid")) {
        (Some(jwk), _) => {
            if jwk.get("d").is_some() {
                return Err(ProofError::BadKey);
            }
            serde_json::from_value::<Jwk>(jwk.clone())
                .ok()
                .and_then(|jwk| jwk.verifying_key().ok())
                .ok_or(ProofError::BadKey)?
        }
        // OpenID4VCI 1.0 with a key attestation: `kid` names one of the attested keys (by
        // its JWK `kid`, or by its position when the attested keys carry none).
        (None, Some(Value::String(kid))) => attestation
            .attested_kids
            .iter()
            .position(|k| k.as_deref() == Some(kid.as_str()))
            .or_else(|| {
                kid.parse::<usize>()
                    .ok()
                    .filter(|_| attestation.attested_kids.iter().all(Option::is_none))
            })
            .and_then(|i| attestation.attested_keys.get(i).cloned())
            .ok_or(ProofError::KeyNotAttested)?,
        _ => return Err(ProofError::MissingKey),
    };
    if jws.verify(&key).is_err() {
        return Err(ProofError::Signature);
    }
    let claims = jws.payload();
    if string(claims, "aud") != Some(policy.audience) {
        return Err(ProofError::Audience);
    }
    let issued_at = time(claims, "iat").ok_or(ProofError::IssuedAt)?;
    if issued_at > policy.now + CLOCK_SKEW || issued_at < policy.now - policy.max_proof_age {
        return Err(ProofError::IssuedAt);
    }
    let nonce = string(claims, "nonce")
        .filter(|n| !n.is_empty())
        .ok_or(ProofError::MissingNonce)?;
    if !attestation.attested_keys.contains(&key) {
        return Err(ProofError::KeyNotAttested);
    }
    Ok(VerifiedKeyProof {
        key,
        nonce: nonce.to_owned(),
        attestation: attestation.clone(),
    })
}

/// Verifies the key proofs of one Credential Request: each proof's type, algorithm, key,
/// signature, audience, age and nonce, and its key attestation (verified once per distinct
/// attestation). All proofs of one request must come from one wallet instance and use
/// distinct keys (a batch exists so that relying parties cannot link its instances).
pub fn verify_key_proofs(
    proofs: &[&str],
    policy: &ProofPolicy<'_>,
) -> Result<Vec<VerifiedKeyProof>, ProofError> {
    let mut attestations: Vec<(String, VerifiedKeyAttestation)> = Vec::new();
    let mut verified: Vec<VerifiedKeyProof> = Vec::with_capacity(proofs.len());
    for proof in proofs {
        let jws = Jws::parse(proof).map_err(|_| ProofError::Malformed("not a JWS"))?;
        if jws.typ() != Some(TYP_KEY_PROOF) {
            return Err(ProofError::ProofType);
        }
        match jws.algorithm() {
            // Holder keys are P-256: ES256 only.
            Ok(eid_crypto::Algorithm::Es256) => {}
            Ok(_) => return Err(ProofError::Algorithm),
            Err(eid_sdjwt::SdJwtError::MissingAlgorithm) => {
                return Err(ProofError::MissingAlgorithm);
            }
            Err(_) => return Err(ProofError::Algorithm),
        }
        let attestation_jwt = match jws.header().get("key_attestation") {
            Some(Value::String(a)) => a.as_str(),
            Some(_) => return Err(ProofError::AttestationMalformed("not a string")),
            None => return Err(ProofError::MissingAttestation),
        };
        let attestation = match attestations.iter().find(|(jwt, _)| jwt == attestation_jwt) {
            Some((_, a)) => a.clone(),
            None => {
                let a = verify_key_attestation(attestation_jwt, policy)?;
                attestations.push((attestation_jwt.to_owned(), a.clone()));
                a
            }
        };
        let proof = verify_proof(&jws, &attestation, policy)?;
        if let Some(first) = verified.first()
            && (first.attestation.provider != proof.attestation.provider
                || first.attestation.wallet_instance != proof.attestation.wallet_instance)
        {
            return Err(ProofError::Malformed(
                "the proofs of one request come from different wallet instances",
            ));
        }
        if verified.iter().any(|p| p.key == proof.key) {
            return Err(ProofError::Malformed(
                "two proofs of one batch use the same key",
            ));
        }
        verified.push(proof);
    }
    Ok(verified)
}

/// The keys to issue to: one per proof; or, for a single proof carrying an attestation of
/// several keys (OpenID4VCI 1.0 Appendix F.1 with a key attestation), every attested key.
pub fn keys_to_bind(proofs: &[VerifiedKeyProof]) -> Vec<VerifyingKey> {
    match proofs {
        [one] if one.attestation.attested_keys.len() > 1 => one.attestation.attested_keys.clone(),
        _ => proofs.iter().map(|p| p.key.clone()).collect(),
    }
}

fn string<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    claims.get(name).and_then(Value::as_str)
}

fn time(claims: &Map<String, Value>, name: &str) -> Option<OffsetDateTime> {
    claims
        .get(name)
        .and_then(Value::as_i64)
        .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
}

fn strings(claims: &Map<String, Value>, name: &str) -> Result<Vec<String>, ProofError> {
    match claims.get(name) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or(ProofError::AttestationMalformed(
                        "a list holds a non-string",
                    ))
            })
            .collect(),
        Some(_) => Err(ProofError::AttestationMalformed(
            "key_storage must be an array of strings",
        )),
    }
}
