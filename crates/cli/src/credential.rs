//! `eid credential`: issue, present and verify credentials from the command line.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Subcommand, ValueEnum};
use eid_core::{Clock, SystemClock};
use eid_crypto::{CryptoRandom, Jwk, SigningKey, VerifyingKey};
use eid_sdjwt::{
    CHECKS, IssueRequest, IssuerTrust, KeyBinding, KeyBindingCheck, StatusListReference,
    UnverifiedSdJwt, VerifyOptions,
};
use eid_trust::Purpose;
use serde_json::{Map, Value, json};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::Outcome;

/// The credential formats, by their OpenID4VCI format identifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// ISO/IEC 18013-5 mdoc (CBOR/COSE)
    #[value(name = "mso_mdoc")]
    MsoMdoc,
    /// SD-JWT VC (RFC 9901, draft-ietf-oauth-sd-jwt-vc)
    #[value(name = "dc+sd-jwt")]
    SdJwt,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Issue a credential bound to a holder key, signed with the document-signer key of a PKI folder
    Issue {
        /// mso_mdoc or dc+sd-jwt
        #[arg(long)]
        format: Format,
        /// The folder `eid pki init` wrote (ds.pem, ds.key.pem)
        #[arg(long)]
        pki: PathBuf,
        /// The holder's public key (SPKI PEM)
        #[arg(long)]
        holder: PathBuf,
        /// The claims (JSON): for dc+sd-jwt an object whose top-level claims become selectively disclosable
        #[arg(long)]
        claims: PathBuf,
        /// The credential type (dc+sd-jwt)
        #[arg(long, default_value = eid_sdjwt::VCT_RESIDENT_IDENTITY)]
        vct: String,
        /// The document type (mso_mdoc)
        #[arg(long, default_value = eid_mdoc::DOCTYPE_RESIDENT_IDENTITY)]
        doctype: String,
        /// How long the credential is valid: e.g. 30d, 12h, 90m
        #[arg(long, default_value = "30d", value_parser = parse_duration)]
        valid_for: Duration,
        /// The status list the credential's status is published in
        #[arg(long, requires = "status_index")]
        status_uri: Option<String>,
        /// The credential's index in that status list
        #[arg(long, requires = "status_uri")]
        status_index: Option<u64>,
        /// Decoy digests to add (dc+sd-jwt)
        #[arg(long, default_value_t = 2)]
        decoys: usize,
        /// Where to write the credential
        #[arg(long)]
        out: PathBuf,
    },
    /// Issue a compact credential for the offline QR of one purpose (eid_compact_cwt),
    /// signed with the document-signer key of a PKI folder (list ds.jwk as the issuer's
    /// offline key in the trust list)
    IssueOffline {
        /// The folder `eid pki init` wrote (ds.key.pem)
        #[arg(long)]
        pki: PathBuf,
        /// The holder's public key (SPKI PEM)
        #[arg(long)]
        holder: PathBuf,
        /// The attributes (JSON object, element names as for mso_mdoc; a base64 portrait
        /// goes in as its digest)
        #[arg(long)]
        claims: PathBuf,
        /// The purpose it serves (airport_security, rail_ticketing, age_check, …)
        #[arg(long)]
        purpose: String,
        /// The wallet provider holding it (trust-list id)
        #[arg(long)]
        provider: String,
        /// How long the credential is valid: e.g. 30d, 12h, 90m
        #[arg(long, default_value = "30d", value_parser = parse_duration)]
        valid_for: Duration,
        /// The status list the credential's status is published in
        #[arg(long, requires = "status_index")]
        status_uri: Option<String>,
        /// The credential's index in that status list
        #[arg(long, requires = "status_uri")]
        status_index: Option<u64>,
        /// Where to write the credential (CBOR)
        #[arg(long)]
        out: PathBuf,
    },
    /// Present a credential: disclose chosen claims and bind the presentation to a verifier's nonce
    Present {
        /// mso_mdoc or dc+sd-jwt
        #[arg(long)]
        format: Format,
        /// The issued credential
        #[arg(long)]
        credential: PathBuf,
        /// The holder's private key (PKCS#8 PEM)
        #[arg(long)]
        holder_key: PathBuf,
        /// The claims to disclose, comma separated
        #[arg(long, value_delimiter = ',', default_value = "")]
        disclose: Vec<String>,
        /// The verifier (KB-JWT aud), dc+sd-jwt
        #[arg(long)]
        aud: Option<String>,
        /// The verifier's nonce, dc+sd-jwt
        #[arg(long)]
        nonce: Option<String>,
        /// The SessionTranscript (raw CBOR, not tag-24 wrapped), mso_mdoc
        #[arg(long)]
        session_transcript: Option<PathBuf>,
        /// Where to write the presentation
        #[arg(long)]
        out: PathBuf,
    },
    /// Verify a credential or presentation and print a JSON report (exit 0 valid, 1 invalid)
    Verify {
        /// mso_mdoc or dc+sd-jwt
        #[arg(long)]
        format: Format,
        /// Trusted IACA root certificates (PEM), comma separated
        #[arg(long, value_delimiter = ',')]
        trust: Vec<PathBuf>,
        /// A trusted issuer key (JWK), for credentials without a certificate chain
        #[arg(long)]
        trust_jwk: Vec<PathBuf>,
        /// The expected audience of the key binding (dc+sd-jwt); with --nonce, a key binding is required
        #[arg(long, requires = "nonce")]
        aud: Option<String>,
        /// The expected nonce of the key binding (dc+sd-jwt)
        #[arg(long, requires = "aud")]
        nonce: Option<String>,
        /// How old a key binding may be
        #[arg(long, default_value = "5m", value_parser = parse_duration)]
        max_age: Duration,
        /// The SessionTranscript the device authenticated (raw CBOR), mso_mdoc; without it
        /// only the issuer data is verified
        #[arg(long)]
        session_transcript: Option<PathBuf>,
        /// Verify as of this time (RFC 3339) instead of now
        #[arg(long, value_parser = parse_time)]
        at: Option<OffsetDateTime>,
        /// The credential or presentation
        file: PathBuf,
    },
    /// Write a SessionTranscript (raw CBOR) for the OpenID4VP redirect flow (OpenID4VP B.2.6.1)
    SessionTranscript {
        /// The OpenID4VP handover (the only kind written so far)
        #[arg(long, required = true)]
        oid4vp: bool,
        /// The verifier's client_id
        #[arg(long)]
        client_id: String,
        /// The request's nonce
        #[arg(long)]
        nonce: String,
        /// The response_uri
        #[arg(long)]
        response_uri: String,
        /// SHA-256 thumbprint (hex) of the verifier's encryption JWK, for encrypted responses
        #[arg(long)]
        jwk_thumbprint: Option<String>,
        /// Where to write the transcript
        #[arg(long)]
        out: PathBuf,
    },
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("{s:?} is not a duration such as 30d, 12h, 90m or 45s");
    let (number, unit) = s.split_at(s.len().saturating_sub(1));
    let n: i64 = number.parse().map_err(|_| bad())?;
    match unit {
        "d" => Ok(Duration::days(n)),
        "h" => Ok(Duration::hours(n)),
        "m" => Ok(Duration::minutes(n)),
        "s" => Ok(Duration::seconds(n)),
        _ => Err(bad()),
    }
}

pub(crate) fn parse_time(s: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map_err(|_| format!("{s:?} is not an RFC 3339 time such as 2026-11-23T12:00:00Z"))
}

/// Reads JWK files as they are.
pub(crate) fn read_jwks(paths: &[PathBuf]) -> anyhow::Result<Vec<Jwk>> {
    paths
        .iter()
        .map(|path| {
            serde_json::from_str(&read(path)?)
                .with_context(|| format!("{} is not a JWK", path.display()))
        })
        .collect()
}

/// Reads public JWKs as keys (trusted issuer keys).
pub(crate) fn load_jwks(paths: &[PathBuf]) -> anyhow::Result<Vec<VerifyingKey>> {
    read_jwks(paths)?
        .iter()
        .map(|jwk| Ok(jwk.verifying_key()?))
        .collect()
}

/// The purpose named `name`, or an error listing the catalogue's.
pub(crate) fn purpose(name: &str) -> anyhow::Result<Purpose> {
    Purpose::parse(name).with_context(|| {
        let all: Vec<&str> = Purpose::ALL.iter().map(|p| p.as_str()).collect();
        format!("{name:?} is not a purpose: use one of {}", all.join(", "))
    })
}

pub(crate) fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("could not read {}", path.display()))
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("could not write {}", path.display()))
}

pub(crate) fn read_bytes(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("could not read {}", path.display()))
}

fn hex_decode(text: &str) -> anyhow::Result<Vec<u8>> {
    if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("not 64 hex characters");
    }
    (0..32)
        .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(anyhow::Error::from))
        .collect()
}

/// The DS key of an `eid pki init` folder (P-256, or SM2 for `--algorithm sm2`).
fn ds_key(pki: &Path) -> anyhow::Result<SigningKey> {
    let path = pki.join("ds.key.pem");
    SigningKey::from_pkcs8_pem_allowing(&read(&path)?, crate::pki::OWN_ALGORITHMS)
        .with_context(|| format!("{} is not a PKCS#8 P-256 or SM2 key", path.display()))
}

pub(crate) fn document_signer(pki: &Path) -> anyhow::Result<(SigningKey, Vec<u8>)> {
    let key = ds_key(pki)?;
    let der = eid_crypto::pem::decode("CERTIFICATE", &read(&pki.join("ds.pem"))?)?;
    Ok((key, der))
}

/// The mdoc elements per namespace, as issued.
type MdocNameSpaces = Vec<(String, Vec<(String, eid_mdoc::issue::ElementValue)>)>;

/// `{namespace: {element: value}}` to mdoc elements: `YYYY-MM-DD` strings of `birth_date`,
/// `issue_date`, `expiry_date` and elements ending in `_date` become full-date; `portrait`
/// (base64) becomes a byte string.
fn mdoc_claims(json: &str) -> anyhow::Result<MdocNameSpaces> {
    let Value::Object(spaces) = serde_json::from_str::<Value>(json).context("not JSON")? else {
        bail!("the claims must be an object {{namespace: {{element: value}}}}");
    };
    let mut out = Vec::new();
    for (ns, elements) in spaces {
        let Value::Object(elements) = elements else {
            bail!("namespace {ns:?} must map element names to values");
        };
        let mut items = Vec::new();
        for (name, value) in elements {
            let element =
                element_value(&name, &value).with_context(|| format!("element {ns}/{name}"))?;
            items.push((name, element));
        }
        out.push((ns, items));
    }
    Ok(out)
}

fn element_value(name: &str, value: &Value) -> anyhow::Result<eid_mdoc::issue::ElementValue> {
    use base64::Engine;
    use eid_mdoc::issue::ElementValue as E;
    let is_date =
        matches!(name, "birth_date" | "issue_date" | "expiry_date") || name.ends_with("_date");
    Ok(match value {
        Value::String(s) if name == "portrait" => E::Bytes(
            base64::engine::general_purpose::STANDARD
                .decode(s)
                .context("portrait must be standard base64")?,
        ),
        Value::String(s) if is_date => E::FullDate(
            time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
                .context("a date must be YYYY-MM-DD")?,
        ),
        Value::String(s) => E::Text(s.clone()),
        Value::Bool(b) => E::Bool(*b),
        Value::Number(n) => E::Int(n.as_i64().context("numbers must be integers")?),
        Value::Array(items) => E::Array(
            items
                .iter()
                .map(|v| element_value("", v))
                .collect::<anyhow::Result<_>>()?,
        ),
        Value::Object(map) => E::Map(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), element_value(k, v)?)))
                .collect::<anyhow::Result<_>>()?,
        ),
        Value::Null => bail!("null is not an element value"),
    })
}

/// Verifies the first document of a DeviceResponse, or an issued IssuerSigned (issuer data
/// only) when the file is not a DeviceResponse.
fn verify_mdoc(
    bytes: &[u8],
    check: &eid_mdoc::IssuerDataCheck<'_>,
    transcript: Option<&[u8]>,
) -> Result<eid_mdoc::VerifiedIssuerData, eid_mdoc::MdocError> {
    match eid_mdoc::DeviceResponse::from_cbor(bytes) {
        Ok(response) => {
            let doc = response
                .documents
                .first()
                .ok_or(eid_mdoc::MdocError::Malformed(
                    "the DeviceResponse has no document",
                ))?;
            match transcript {
                Some(st) => {
                    eid_mdoc::verify::verify_document(doc, check, st, None).map(|v| v.issuer)
                }
                None => eid_mdoc::verify_issuer_data(&doc.doc_type, &doc.issuer_signed, check),
            }
        }
        Err(response_error) => {
            let Ok(issued) = eid_mdoc::IssuerSigned::from_cbor(bytes) else {
                return Err(response_error);
            };
            let payload = issued
                .issuer_auth
                .payload
                .as_deref()
                .ok_or(eid_mdoc::MdocError::Malformed("issuerAuth without payload"))?;
            let doc_type = eid_mdoc::MobileSecurityObject::from_payload(payload)?.doc_type;
            eid_mdoc::verify_issuer_data(&doc_type, &issued, check)
        }
    }
}

/// Each check's result in a report: `passed`, the one that `failed`, `not run` after it, or
/// what `skipped` says of a check that passed without being exercised.
fn check_results(
    checks: &[&'static str],
    failed: Option<&str>,
    skipped: impl Fn(&str) -> Option<&'static str>,
) -> Vec<Value> {
    let mut reached = true;
    checks
        .iter()
        .map(|&name| {
            let outcome = if failed == Some(name) {
                reached = false;
                "failed"
            } else if !reached {
                "not run"
            } else {
                skipped(name).unwrap_or("passed")
            };
            json!({ "check": name, "result": outcome })
        })
        .collect()
}

fn mdoc_report(
    result: &Result<eid_mdoc::VerifiedIssuerData, eid_mdoc::MdocError>,
    device_checked: bool,
    at: OffsetDateTime,
) -> Value {
    let checks = check_results(
        &eid_mdoc::CHECKS,
        result.as_ref().err().map(|e| e.check()),
        |name| match (name, result) {
            ("device_auth", _) if !device_checked => Some("not checked (no session transcript)"),
            ("status", Ok(v)) if !v.status_checked => Some("not checked (no status list source)"),
            _ => None,
        },
    );
    let at = at.format(&Rfc3339).unwrap_or_default();
    match result {
        Ok(v) => {
            let mut claims = Map::new();
            for (ns, id, raw) in &v.elements {
                let value = eid_mdoc::model::element_to_json(raw).unwrap_or(Value::Null);
                if let Value::Object(m) = claims
                    .entry(ns.clone())
                    .or_insert_with(|| Value::Object(Map::new()))
                {
                    m.insert(id.clone(), value);
                }
            }
            json!({
                "valid": true,
                "format": "mso_mdoc",
                "verified_at": at,
                "doc_type": v.mso.doc_type,
                "checks": checks,
                "issuer": v.issuer_certificate,
                "claims": claims,
                "status_reference": v.mso.status.as_ref().map(|s| json!({"idx": s.idx, "uri": s.uri})),
            })
        }
        Err(e) => json!({
            "valid": false,
            "format": "mso_mdoc",
            "verified_at": at,
            "checks": checks,
            "reason": e.to_string(),
        }),
    }
}

pub fn run(command: Command) -> anyhow::Result<Outcome> {
    match command {
        Command::IssueOffline {
            pki,
            holder,
            claims,
            purpose,
            provider,
            valid_for,
            status_uri,
            status_index,
            out,
        } => {
            let purpose = self::purpose(&purpose)?;
            let ds_key = ds_key(&pki)?;
            let holder = VerifyingKey::from_spki_pem(&read(&holder)?).with_context(|| {
                format!("{} is not a P-256 public key (SPKI PEM)", holder.display())
            })?;
            let Value::Object(map) = serde_json::from_str::<Value>(&read(&claims)?)
                .with_context(|| format!("{} is not JSON", claims.display()))?
            else {
                bail!("{} must hold a JSON object of attributes", claims.display());
            };
            let attributes = map
                .iter()
                .map(|(name, value)| {
                    Ok((
                        name.clone(),
                        element_value(name, value).with_context(|| format!("attribute {name}"))?,
                    ))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let now = SystemClock.now();
            let status = status_uri
                .zip(status_index)
                .map(|(uri, idx)| StatusListReference { idx, uri });
            let credential = eid_mdoc::offline::issue_compact(
                &eid_mdoc::offline::CompactCredentialRequest {
                    purpose: purpose.as_str(),
                    provider: &provider,
                    attributes: &attributes,
                    device_key: &holder,
                    issued_at: now,
                    expires_at: now + valid_for,
                    status: status.as_ref(),
                },
                &ds_key,
                eid_crypto::Signer::verifying_key(&ds_key),
            )?;
            crate::pki::write_file(&out, &credential, false, true)?;
            Ok(Outcome::Ok)
        }
        Command::Issue {
            format: Format::SdJwt,
            pki,
            holder,
            claims,
            vct,
            valid_for,
            status_uri,
            status_index,
            decoys,
            out,
            ..
        } => {
            let ds_key = ds_key(&pki)?;
            let ds_der = eid_crypto::pem::decode("CERTIFICATE", &read(&pki.join("ds.pem"))?)?;
            let holder = VerifyingKey::from_spki_pem(&read(&holder)?).with_context(|| {
                format!("{} is not a P-256 public key (SPKI PEM)", holder.display())
            })?;
            let claims: Map<String, Value> = match serde_json::from_str(&read(&claims)?) {
                Ok(Value::Object(map)) => map,
                _ => bail!("{} must hold a JSON object of claims", claims.display()),
            };
            let now = SystemClock.now();
            let status = status_uri
                .zip(status_index)
                .map(|(uri, idx)| StatusListReference { idx, uri });
            let request = IssueRequest {
                claims: &claims,
                vct: &vct,
                issuer: None,
                holder_key: &holder,
                issued_at: now,
                expires_at: Some(now + valid_for),
                status,
                x5c: std::slice::from_ref(&ds_der),
                decoys,
            };
            let credential = eid_sdjwt::issue(&request, &ds_key, &CryptoRandom)?;
            write(&out, &credential)?;
            Ok(Outcome::Ok)
        }
        Command::Present {
            format: Format::SdJwt,
            credential,
            holder_key,
            disclose,
            aud,
            nonce,
            out,
            ..
        } => {
            let key = SigningKey::from_pkcs8_pem(&read(&holder_key)?)
                .with_context(|| format!("{} is not a PKCS#8 P-256 key", holder_key.display()))?;
            let names: Vec<&str> = disclose
                .iter()
                .map(String::as_str)
                .filter(|n| !n.is_empty())
                .collect();
            let issued = read(&credential)?;
            let presentation = match (&aud, &nonce) {
                (Some(audience), Some(nonce)) => eid_sdjwt::present(
                    issued.trim(),
                    &names,
                    Some(&KeyBinding {
                        signer: &key,
                        audience,
                        nonce,
                        issued_at: SystemClock.now(),
                    }),
                )?,
                (None, None) => eid_sdjwt::present(issued.trim(), &names, None)?,
                _ => bail!("--aud and --nonce go together"),
            };
            write(&out, &presentation)?;
            Ok(Outcome::Ok)
        }
        Command::Verify {
            format: Format::SdJwt,
            trust,
            trust_jwk,
            aud,
            nonce,
            max_age,
            at,
            file,
            ..
        } => {
            let now = at.unwrap_or_else(|| SystemClock.now());
            let roots = crate::pki::load_roots(&trust, now)?;
            let keys = load_jwks(&trust_jwk)?;
            if roots.is_empty() && keys.is_empty() {
                bail!("give at least one --trust ROOT.pem or --trust-jwk KEY.jwk");
            }
            let check = aud
                .as_deref()
                .zip(nonce.as_deref())
                .map(|(audience, nonce)| KeyBindingCheck {
                    audience,
                    nonce,
                    max_age,
                });
            let options = VerifyOptions {
                trust: IssuerTrust {
                    x5c: eid_sdjwt::X5cTrust::Roots(&roots),
                    keys: &keys,
                },
                now,
                leeway: Duration::seconds(30),
                sd_jwt_vc: true,
                expected_vct: &[],
                key_binding: check.as_ref(),
                status: None,
            };
            let text = read(&file)?;
            let result = UnverifiedSdJwt::parse(text.trim()).and_then(|sd| sd.verify(&options));
            let report = report(&result, check.is_some(), now);
            crate::print_json(&report)?;
            Ok(if result.is_ok() {
                Outcome::Ok
            } else {
                Outcome::Refused
            })
        }
        Command::Issue {
            format: Format::MsoMdoc,
            pki,
            holder,
            claims,
            doctype,
            valid_for,
            status_uri,
            status_index,
            out,
            ..
        } => {
            let (ds_key, ds_der) = document_signer(&pki)?;
            let holder = VerifyingKey::from_spki_pem(&read(&holder)?).with_context(|| {
                format!("{} is not a P-256 public key (SPKI PEM)", holder.display())
            })?;
            let name_spaces =
                mdoc_claims(&read(&claims)?).with_context(|| format!("in {}", claims.display()))?;
            let now = SystemClock.now();
            let status = status_uri
                .zip(status_index)
                .map(|(uri, idx)| eid_mdoc::model::StatusReference { idx, uri });
            let request = eid_mdoc::issue::IssueRequest {
                doc_type: &doctype,
                name_spaces: &name_spaces,
                device_key: &holder,
                valid_from: now,
                valid_until: now + valid_for,
                status,
                x5chain: std::slice::from_ref(&ds_der),
            };
            let credential = eid_mdoc::issue::issue(&request, &ds_key, &CryptoRandom)?;
            std::fs::write(&out, credential)
                .with_context(|| format!("could not write {}", out.display()))?;
            Ok(Outcome::Ok)
        }
        Command::Present {
            format: Format::MsoMdoc,
            credential,
            holder_key,
            disclose,
            session_transcript,
            out,
            ..
        } => {
            let key = SigningKey::from_pkcs8_pem(&read(&holder_key)?)
                .with_context(|| format!("{} is not a PKCS#8 P-256 key", holder_key.display()))?;
            let Some(transcript) = session_transcript else {
                bail!(
                    "mso_mdoc presentations are bound to a session: give --session-transcript ST.cbor"
                );
            };
            let transcript = read_bytes(&transcript)?;
            let names: Vec<&str> = disclose
                .iter()
                .map(String::as_str)
                .filter(|n| !n.is_empty())
                .collect();
            let response =
                eid_mdoc::present::present(&read_bytes(&credential)?, &names, &key, &transcript)?;
            std::fs::write(&out, response)
                .with_context(|| format!("could not write {}", out.display()))?;
            Ok(Outcome::Ok)
        }
        Command::Verify {
            format: Format::MsoMdoc,
            trust,
            at,
            session_transcript,
            file,
            ..
        } => {
            let now = at.unwrap_or_else(|| SystemClock.now());
            let roots = crate::pki::load_roots(&trust, now)?;
            if roots.is_empty() {
                bail!("give at least one --trust ROOT.pem");
            }
            let transcript = session_transcript.as_deref().map(read_bytes).transpose()?;
            let bytes = read_bytes(&file)?;
            let check = eid_mdoc::IssuerDataCheck {
                trust: eid_mdoc::IssuerTrust::Roots(&roots),
                now,
                expected_doc_type: None,
                status: None,
            };
            let result = verify_mdoc(&bytes, &check, transcript.as_deref());
            let report = mdoc_report(&result, transcript.is_some(), now);
            crate::print_json(&report)?;
            Ok(if result.is_ok() {
                Outcome::Ok
            } else {
                Outcome::Refused
            })
        }
        Command::SessionTranscript {
            oid4vp: _,
            client_id,
            nonce,
            response_uri,
            jwk_thumbprint,
            out,
        } => {
            let thumbprint = jwk_thumbprint
                .map(|h| {
                    hex_decode(&h).context(
                        "--jwk-thumbprint must be 64 hex characters (a SHA-256 thumbprint)",
                    )
                })
                .transpose()?;
            let transcript = eid_mdoc::session::oid4vp_session_transcript(
                &client_id,
                &nonce,
                thumbprint.as_deref(),
                &response_uri,
            );
            std::fs::write(&out, transcript)
                .with_context(|| format!("could not write {}", out.display()))?;
            Ok(Outcome::Ok)
        }
    }
}

/// The JSON report: `valid`, each check with its result, the disclosed claims, the reason.
fn report(
    result: &Result<eid_sdjwt::VerifiedSdJwt, eid_sdjwt::SdJwtError>,
    key_binding_required: bool,
    at: OffsetDateTime,
) -> Value {
    let checks = check_results(
        &CHECKS,
        result.as_ref().err().map(|e| e.check()),
        |name| match (name, result) {
            ("key_binding", Ok(v)) if !v.key_bound && !key_binding_required => Some("not required"),
            ("status", Ok(v)) if !v.status_checked => Some("not checked (no status list source)"),
            _ => None,
        },
    );
    let at = at.format(&Rfc3339).unwrap_or_default();
    match result {
        Ok(v) => json!({
            "valid": true,
            "format": "dc+sd-jwt",
            "verified_at": at,
            "checks": checks,
            "issuer": v.issuer_certificate,
            "disclosed": v.disclosed,
            "claims": v.claims,
            "status_reference": v.status_reference,
        }),
        Err(e) => json!({
            "valid": false,
            "format": "dc+sd-jwt",
            "verified_at": at,
            "checks": checks,
            "reason": e.to_string(),
        }),
    }
}
