//! `eid trust`: build, sign and inspect the national trust list.
//!
//! The draft is a JSON file (`trust.json`) that the `add-*` and `set-scope` commands change;
//! each change is checked first and the file is replaced only when it holds, so a refused
//! change loses nothing. `sign` makes the next version a JWS of the national root key.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Subcommand;
use eid_core::region::{RegionCode, Scope};
use eid_core::{Clock, SystemClock};
use eid_crypto::{Signer, SigningKey};
use eid_trust::edit::{
    add_issuer, add_provider, add_relying_party, announce_root_keys, set_delegation,
    set_face_match, set_offline_keys, set_paper, set_pseudonym_key, set_scope,
};
use eid_trust::model::{ProviderState, WalletProvider};
use eid_trust::{AcceptanceScope, Purpose, StatusFinding, TrustList, VerifiedTrustList};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::Outcome;
use crate::credential::{load_jwks, parse_time, purpose, read, read_jwks};
use crate::pki::{refuse_existing, write_file};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Make a national root key and an empty draft trust list with the purposes catalogue
    Init {
        /// Folder to write root.key.pem, root.jwk and trust.json into
        #[arg(long)]
        out: PathBuf,
        /// Replace existing files
        #[arg(long)]
        force: bool,
    },
    /// Add an issuing authority (accepted nowhere until set-scope)
    AddIssuer {
        /// The draft trust list
        #[arg(long)]
        list: PathBuf,
        /// Its identifier, such as cn-4501
        #[arg(long)]
        id: String,
        /// Its name
        #[arg(long)]
        name: String,
        /// An IACA root certificate (PEM); repeat for several
        #[arg(long, required = true)]
        iaca: Vec<PathBuf>,
        /// A key that signs its status lists without certificate (JWK)
        #[arg(long)]
        status_key: Vec<PathBuf>,
        /// A key that signs its compact credentials for the offline QR (JWK, such as the
        /// ds.jwk of `eid pki init`); repeat for several
        #[arg(long)]
        offline_key: Vec<PathBuf>,
        /// Replace an issuer with the same id (its scopes and, unless --offline-key is
        /// given, its offline keys are kept)
        #[arg(long)]
        replace: bool,
    },
    /// Set where and for what an issuer's credentials are accepted
    SetScope {
        /// The draft trust list
        #[arg(long)]
        list: PathBuf,
        /// The issuer's identifier
        #[arg(long)]
        issuer: String,
        /// nation, a province (45), a prefecture (4501) or a county (450102)
        #[arg(long)]
        region: String,
        /// Purposes, comma-separated, or all
        #[arg(long, value_delimiter = ',', required = true)]
        purposes: Vec<String>,
        /// From (RFC 3339; default now)
        #[arg(long, value_parser = parse_time)]
        from: Option<OffsetDateTime>,
        /// Until (RFC 3339; default open-ended)
        #[arg(long, value_parser = parse_time)]
        until: Option<OffsetDateTime>,
        /// Add this scope to the issuer's others instead of replacing them
        #[arg(long)]
        add: bool,
    },
    /// Add a wallet provider, or change one (with --replace), e.g. to suspend it
    AddProvider {
        /// The draft trust list
        #[arg(long)]
        list: PathBuf,
        /// Its identifier, such as superapp-a
        #[arg(long)]
        id: String,
        /// Its name
        #[arg(long)]
        name: String,
        /// A key that signs its wallet attestations (JWK); repeat for several
        #[arg(long, required = true)]
        key: Vec<PathBuf>,
        /// active or suspended
        #[arg(long, default_value = "active")]
        state: String,
        /// Replace a provider with the same id
        #[arg(long)]
        replace: bool,
    },
    /// Register a relying party for purposes, each with the attributes it may request
    AddRp {
        /// The draft trust list
        #[arg(long)]
        list: PathBuf,
        /// Its identifier
        #[arg(long)]
        id: String,
        /// Its name, shown to citizens
        #[arg(long)]
        name: String,
        /// The county it operates in (6 digits)
        #[arg(long)]
        region: String,
        /// A purpose, or PURPOSE:attr,attr to narrow its attributes; repeat for several
        #[arg(long, required = true)]
        purpose: Vec<String>,
        /// Its reader / request-signing certificate (PEM)
        #[arg(long)]
        certificate: Option<PathBuf>,
        /// Replace a relying party with the same id
        #[arg(long)]
        replace: bool,
    },
    /// Register the public key a relying party's pairwise pseudonyms are sealed to (its
    /// desks keep the private half: eid verifier serve --pseudonym-key): required before a
    /// list with a relying party registered for a pseudonym is signed. Make one with eid keys
    /// generate --jwk
    SetPseudonymKey {
        /// The draft trust list
        #[arg(long)]
        list: PathBuf,
        /// The relying party's identifier
        #[arg(long)]
        id: String,
        /// The public key (JWK, EC P-256)
        #[arg(long)]
        key: PathBuf,
    },
    /// Say whether desks must match the face for a purpose (the catalogue's
    /// face_match_required): required, the purpose and every registration for it must ask
    /// for the portrait; not required, desks without a face model accept as before
    SetFaceMatch {
        /// The draft trust list
        #[arg(long)]
        list: PathBuf,
        /// The purpose
        #[arg(long)]
        purpose: String,
        /// true: a desk refuses unless the face in front of it matches (face_mismatch,
        /// face_not_checked); false: the comparison, if made, is only reported
        #[arg(long, action = clap::ArgAction::Set)]
        required: bool,
    },
    /// Say whether desks accept, and authorities print, a code on paper for a purpose (the
    /// catalogue's paper_allowed), for residents without a smartphone. A printed code binds
    /// to no device, so only a purpose whose face must match may accept one
    SetPaper {
        /// The draft trust list
        #[arg(long)]
        list: PathBuf,
        /// The purpose
        #[arg(long)]
        purpose: String,
        /// true: a desk accepts a printed code (eid_paper_code) for it; false: refused
        /// (paper_not_allowed)
        #[arg(long, action = clap::ArgAction::Set)]
        allowed: bool,
    },
    /// Say whether desks accept, for a purpose, a credential a parent or guardian holds for
    /// the resident (the catalogue's delegation_allowed): a child's, or that of an adult who
    /// cannot act alone, registered at a counter
    SetDelegation {
        /// The draft trust list
        #[arg(long)]
        list: PathBuf,
        /// The purpose
        #[arg(long)]
        purpose: String,
        /// true: a desk accepts a delegated credential for it, and says who holds it; false:
        /// refused (delegation_not_allowed)
        #[arg(long, action = clap::ArgAction::Set)]
        allowed: bool,
    },
    /// Announce the national root keys that may sign the versions after the next one, all of
    /// them (a root rollover: the current and the next root, then the next alone): verifiers
    /// holding the list signed next take a later one only when one of them signed it. No
    /// --key withdraws the announcement (verifiers go back to their configured keys)
    AnnounceRoot {
        /// The draft trust list
        #[arg(long)]
        list: PathBuf,
        /// A next root key (JWK, the root.jwk of another `eid trust init`); repeat for several
        #[arg(long)]
        key: Vec<PathBuf>,
    },
    /// Sign the draft as the next version
    Sign {
        /// The draft trust list (its version is advanced to the one signed)
        #[arg(long)]
        list: PathBuf,
        /// The national root key (PKCS#8 PEM)
        #[arg(long)]
        key: PathBuf,
        /// Hours until the next update is due
        #[arg(long, default_value_t = 24)]
        valid_hours: u32,
        /// Where to write the signed list (JWS)
        #[arg(long)]
        out: PathBuf,
    },
    /// Decide whether a relying party may accept an SD-JWT VC presentation, under a signed
    /// trust list (exit 0 accepted, 1 rejected with every reason)
    Check {
        /// The presentation (dc+sd-jwt with key binding)
        file: PathBuf,
        /// The signed trust list
        #[arg(long)]
        trust_list: PathBuf,
        /// The national root key (JWK)
        #[arg(long, required = true)]
        trust_jwk: Vec<PathBuf>,
        /// The verifier's id in the trust list
        #[arg(long)]
        relying_party: String,
        /// The purpose of this verification
        #[arg(long)]
        purpose: String,
        /// The status list token the credential points to (JWT or CWT file)
        #[arg(long)]
        status_list: Option<PathBuf>,
        /// The attributes requested (default: those disclosed)
        #[arg(long, value_delimiter = ',')]
        request: Vec<String>,
        /// The nonce the verifier gave (the key binding's aud is the relying party's id)
        #[arg(long)]
        nonce: String,
        /// Check at this time instead of now (RFC 3339)
        #[arg(long, value_parser = parse_time)]
        at: Option<OffsetDateTime>,
    },
    /// Verify a signed trust list and print it for people (or a draft, marked unsigned)
    Show {
        /// The signed list (JWS), or a draft (JSON)
        file: PathBuf,
        /// The national root key (JWK), required for a signed list
        #[arg(long)]
        trust_jwk: Vec<PathBuf>,
        /// Check at this time instead of now (RFC 3339)
        #[arg(long, value_parser = parse_time)]
        at: Option<OffsetDateTime>,
        /// Print the list as JSON instead of text
        #[arg(long)]
        json: bool,
    },
}

fn load(path: &Path) -> anyhow::Result<TrustList> {
    serde_json::from_str(&read(path)?)
        .with_context(|| format!("{} is not a draft trust list", path.display()))
}

/// Replaces the draft through a temporary file, so that it is never half-written.
fn save(path: &Path, list: &TrustList) -> anyhow::Result<()> {
    let temporary = path.with_extension("json.tmp");
    std::fs::write(&temporary, serde_json::to_string_pretty(list)? + "\n")
        .with_context(|| format!("could not write {}", temporary.display()))?;
    std::fs::rename(&temporary, path)
        .with_context(|| format!("could not replace {}", path.display()))
}

fn edit(
    path: &Path,
    change: impl FnOnce(&mut TrustList) -> anyhow::Result<()>,
) -> anyhow::Result<Outcome> {
    let mut list = load(path)?;
    change(&mut list)?;
    save(path, &list)?;
    Ok(Outcome::Ok)
}

fn certificate_der(path: &Path) -> anyhow::Result<Vec<u8>> {
    eid_crypto::pem::decode("CERTIFICATE", &read(path)?)
        .with_context(|| format!("{} is not a PEM certificate", path.display()))
}

pub fn run(command: Command) -> anyhow::Result<Outcome> {
    let now = SystemClock
        .now()
        .replace_nanosecond(0)
        .unwrap_or(SystemClock.now());
    match command {
        Command::Init { out, force } => {
            let paths = [
                out.join("root.key.pem"),
                out.join("root.jwk"),
                out.join("trust.json"),
            ];
            refuse_existing(
                &paths.iter().map(PathBuf::as_path).collect::<Vec<_>>(),
                force,
            )?;
            std::fs::create_dir_all(&out)
                .with_context(|| format!("could not create {}", out.display()))?;
            let root = SigningKey::generate()?;
            let mut jwk = root.verifying_key().to_jwk();
            jwk.kid = Some(jwk.thumbprint());
            jwk.alg = Some("ES256".into());
            jwk.use_ = Some("sig".into());
            write_file(&paths[0], root.to_pkcs8_pem()?.as_bytes(), true, force)?;
            write_file(
                &paths[1],
                serde_json::to_string_pretty(&jwk)?.as_bytes(),
                false,
                force,
            )?;
            write_file(
                &paths[2],
                (serde_json::to_string_pretty(&TrustList::new(now))? + "\n").as_bytes(),
                false,
                force,
            )?;
            crate::print_json(&serde_json::json!({
                "out": out.display().to_string(),
                "root_kid": jwk.kid,
            }))?;
            Ok(Outcome::Ok)
        }
        Command::AddIssuer {
            list,
            id,
            name,
            iaca,
            status_key,
            offline_key,
            replace,
        } => {
            let roots = iaca
                .iter()
                .map(|p| certificate_der(p))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let keys = read_jwks(&status_key)?;
            let offline = read_jwks(&offline_key)?;
            edit(&list, |l| {
                add_issuer(l, &id, &name, &roots, keys, now, replace)?;
                if !offline.is_empty() {
                    set_offline_keys(l, &id, offline)?;
                }
                Ok(())
            })
        }
        Command::SetScope {
            list,
            issuer,
            region,
            purposes,
            from,
            until,
            add,
        } => {
            let region = Scope::parse(&region).with_context(|| format!("--region {region}"))?;
            let purposes = if purposes.iter().any(|p| p == "all") {
                Purpose::ALL.to_vec()
            } else {
                purposes
                    .iter()
                    .map(|p| purpose(p))
                    .collect::<anyhow::Result<Vec<_>>>()?
            };
            let scope = AcceptanceScope {
                region,
                purposes,
                valid_from: from.unwrap_or(now),
                valid_until: until,
            };
            edit(&list, |l| Ok(set_scope(l, &issuer, scope, add)?))
        }
        Command::AddProvider {
            list,
            id,
            name,
            key,
            state,
            replace,
        } => {
            let state = match state.as_str() {
                "active" => ProviderState::Active,
                "suspended" => ProviderState::Suspended,
                other => bail!("--state is active or suspended, not {other:?}"),
            };
            let attestation_keys = read_jwks(&key)?;
            let provider = WalletProvider {
                id,
                name,
                attestation_keys,
                state,
            };
            edit(&list, |l| Ok(add_provider(l, provider, replace)?))
        }
        Command::AddRp {
            list,
            id,
            name,
            region,
            purpose: purposes,
            certificate,
            replace,
        } => {
            let region = RegionCode::parse_known(&region)
                .with_context(|| format!("--region {region} is not a known county code"))?;
            let mut registered = Vec::new();
            for entry in &purposes {
                let (name, attributes) = match entry.split_once(':') {
                    Some((name, attrs)) => (
                        name,
                        Some(attrs.split(',').map(|a| a.trim().to_owned()).collect()),
                    ),
                    None => (entry.as_str(), None),
                };
                registered.push((purpose(name)?, attributes));
            }
            let der = certificate.as_deref().map(certificate_der).transpose()?;
            edit(&list, |l| {
                Ok(add_relying_party(
                    l,
                    &id,
                    &name,
                    region,
                    &registered,
                    der.as_deref(),
                    replace,
                )?)
            })
        }
        Command::SetFaceMatch {
            list,
            purpose: name,
            required,
        } => {
            let purpose = purpose(&name)?;
            edit(&list, |l| {
                set_face_match(l, purpose, required).with_context(|| {
                    if required {
                        format!(
                            "cannot require a face match for {name}: the purpose and every registration for it must ask for the portrait (eid trust add-rp --replace … --purpose {name}:…,portrait)"
                        )
                    } else {
                        format!(
                            "cannot waive the face match for {name}: it accepts printed codes (eid trust set-paper --purpose {name} --allowed false first)"
                        )
                    }
                })
            })
        }
        Command::SetPaper {
            list,
            purpose: name,
            allowed,
        } => {
            let purpose = purpose(&name)?;
            edit(&list, |l| {
                set_paper(l, purpose, allowed).with_context(|| {
                    format!(
                        "cannot accept printed codes for {name}: require the face match first (eid trust set-face-match --purpose {name} --required true)"
                    )
                })
            })
        }
        Command::SetDelegation {
            list,
            purpose: name,
            allowed,
        } => {
            let purpose = purpose(&name)?;
            edit(&list, |l| {
                set_delegation(l, purpose, allowed).context("cannot change the delegation")
            })
        }
        Command::SetPseudonymKey { list, id, key } => {
            let jwk = read_jwks(&[key])?.remove(0);
            edit(&list, |l| {
                set_pseudonym_key(l, &id, jwk).context("cannot register the pseudonym key")
            })
        }
        Command::AnnounceRoot { list, key } => {
            let keys = read_jwks(&key)?;
            edit(&list, |l| {
                announce_root_keys(l, keys).context("cannot announce the next root keys")
            })
        }
        Command::Sign {
            list,
            key,
            valid_hours,
            out,
        } => {
            let draft = load(&list)?;
            let root = SigningKey::from_pkcs8_pem(&read(&key)?)
                .with_context(|| format!("{} is not a PKCS#8 P-256 key", key.display()))?;
            let (jws, signed) =
                eid_trust::signed::sign(&draft, &root, now, Duration::hours(valid_hours.into()))?;
            std::fs::write(&out, &jws)
                .with_context(|| format!("could not write {}", out.display()))?;
            save(&list, &signed)?;
            crate::print_json(&serde_json::json!({
                "out": out.display().to_string(),
                "version": signed.version,
                "next_update": signed.next_update.format(&Rfc3339)?,
            }))?;
            Ok(Outcome::Ok)
        }
        Command::Check {
            file,
            trust_list,
            trust_jwk,
            relying_party,
            purpose: purpose_name,
            status_list,
            request,
            nonce,
            at,
        } => check(&CheckArgs {
            file: &file,
            trust_list: &trust_list,
            trust_jwk: &trust_jwk,
            relying_party: &relying_party,
            purpose: purpose(&purpose_name)?,
            status_list: status_list.as_deref(),
            request: &request,
            nonce: &nonce,
            now: at.unwrap_or(now),
        }),
        Command::Show {
            file,
            trust_jwk,
            at,
            json,
        } => {
            let text = read(&file)?;
            let at = at.unwrap_or(now);
            let (list, signed) = if text.trim_start().starts_with('{') {
                (load(&file)?, false)
            } else {
                let keys = load_jwks(&trust_jwk)?;
                if keys.is_empty() {
                    bail!("give the national root key with --trust-jwk ROOT.jwk");
                }
                match VerifiedTrustList::read(&text, &keys, at, None) {
                    Ok(v) => (v.list().clone(), true),
                    Err(e) => {
                        crate::print_json(
                            &serde_json::json!({ "valid": false, "reason": e.to_string() }),
                        )?;
                        return Ok(Outcome::Refused);
                    }
                }
            };
            if json {
                crate::print_json(&list)?;
            } else {
                use std::io::Write as _;
                std::io::stdout()
                    .lock()
                    .write_all(render(&list, signed)?.as_bytes())?;
            }
            Ok(Outcome::Ok)
        }
    }
}

struct CheckArgs<'a> {
    file: &'a Path,
    trust_list: &'a Path,
    trust_jwk: &'a [PathBuf],
    relying_party: &'a str,
    purpose: Purpose,
    status_list: Option<&'a Path>,
    request: &'a [String],
    nonce: &'a str,
    now: OffsetDateTime,
}

/// Verifies the presentation against the trust list's roots, reads its status, decides.
fn check(args: &CheckArgs<'_>) -> anyhow::Result<Outcome> {
    let now = args.now;
    let keys = load_jwks(args.trust_jwk)?;
    let trust = VerifiedTrustList::read(&read(args.trust_list)?, &keys, now, None)
        .with_context(|| format!("{} is not a usable trust list", args.trust_list.display()))?;
    let (roots, owners) = trust.roots(now);
    let refuse = |reason: String| -> anyhow::Result<Outcome> {
        crate::print_json(&serde_json::json!({ "accepted": false, "reasons": [
            { "reason": "presentation_not_verified", "message": reason }
        ] }))?;
        Ok(Outcome::Refused)
    };
    let binding = eid_sdjwt::KeyBindingCheck {
        audience: args.relying_party,
        nonce: args.nonce,
        max_age: Duration::minutes(5),
    };
    let verified = match eid_sdjwt::UnverifiedSdJwt::parse(read(args.file)?.trim()).and_then(|sd| {
        sd.verify(&eid_sdjwt::VerifyOptions {
            trust: eid_sdjwt::IssuerTrust {
                x5c: eid_sdjwt::X5cTrust::Roots(&roots),
                keys: &[],
            },
            now,
            leeway: Duration::seconds(30),
            sd_jwt_vc: true,
            expected_vct: &[],
            key_binding: Some(&binding),
            status: None,
        })
    }) {
        Ok(v) => v,
        Err(e) => return refuse(e.to_string()),
    };
    let issuer = verified
        .issuer_root
        .and_then(|i| owners.get(i))
        .map(String::as_str);
    // Only the credential's own issuer may answer for its status (the cache checks it).
    let mut statuses = eid_verifier::StatusCache::new();
    let status = match (&verified.status_reference, args.status_list, issuer) {
        (Some(_), None, _) => StatusFinding::Undetermined("no status list given".into()),
        (Some(reference), Some(path), Some(issuer)) => {
            let token = crate::credential::read_bytes(path)?;
            match statuses.store(&trust, issuer, &reference.uri, &token, now) {
                Err(e) => StatusFinding::Undetermined(e.to_string()),
                Ok(()) => statuses.finding(Some(issuer), Some(reference), now),
            }
        }
        (reference, _, issuer) => statuses.finding(issuer, reference.as_ref(), now),
    };
    let time = |name: &str| {
        verified
            .claims
            .get(name)
            .and_then(serde_json::Value::as_i64)
            .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
    };
    let requested = if args.request.is_empty() {
        verified.disclosed.clone()
    } else {
        args.request.to_vec()
    };
    let decision = eid_trust::decide(
        &eid_trust::Presentation {
            issuer,
            wallet_provider: verified
                .claims
                .get("wallet_provider")
                .and_then(serde_json::Value::as_str),
            printed: false,
            delegated: None,
            requested: &requested,
            disclosed: &verified.disclosed,
            valid_from: time("nbf"),
            valid_until: time("exp"),
            status,
        },
        eid_trust::Registration {
            relying_party: args.relying_party,
            purpose: args.purpose,
        },
        &trust,
        now,
    );
    let reasons: Vec<serde_json::Value> = decision
        .reasons
        .iter()
        .map(|r| {
            let mut v = serde_json::to_value(r).unwrap_or_default();
            v["message"] = r.to_string().into();
            v
        })
        .collect();
    crate::print_json(&serde_json::json!({
        "accepted": decision.accepted,
        "trust_list_version": trust.list().version,
        "issuer": issuer,
        "relying_party": args.relying_party,
        "purpose": args.purpose,
        "disclosed": verified.disclosed,
        "reasons": reasons,
    }))?;
    Ok(if decision.accepted {
        Outcome::Ok
    } else {
        Outcome::Refused
    })
}

/// The list as a person reads it.
fn render(list: &TrustList, signed: bool) -> anyhow::Result<String> {
    let t = |t: OffsetDateTime| t.format(&Rfc3339).unwrap_or_default();
    let mut out = String::new();
    if signed {
        writeln!(
            out,
            "National trust list, version {} — signature verified\n  issued {}, next update due {}",
            list.version,
            t(list.issued_at),
            t(list.next_update)
        )?;
    } else {
        writeln!(
            out,
            "DRAFT trust list (unsigned; the next signature makes it version {})",
            list.version + 1
        )?;
    }
    writeln!(out, "\nIssuing authorities ({}):", list.issuers.len())?;
    for issuer in &list.issuers {
        writeln!(
            out,
            "  {} — {} ({} IACA root{}, {} status list key{})",
            issuer.id,
            issuer.name,
            issuer.iaca_roots.len(),
            if issuer.iaca_roots.len() == 1 {
                ""
            } else {
                "s"
            },
            issuer.status_list_keys.len(),
            if issuer.status_list_keys.len() == 1 {
                ""
            } else {
                "s"
            },
        )?;
        if !issuer.offline_keys.is_empty() {
            writeln!(
                out,
                "      offline QR: {} key{}",
                issuer.offline_keys.len(),
                if issuer.offline_keys.len() == 1 {
                    ""
                } else {
                    "s"
                }
            )?;
        }
        if issuer.scopes.is_empty() {
            writeln!(out, "      accepted nowhere (no scope)")?;
        }
        for scope in &issuer.scopes {
            let region = match scope.region {
                Scope::Nation => "the whole nation".to_owned(),
                other => {
                    let code = format!("{:0<6}", other.to_string());
                    let name = RegionCode::parse(&code)
                        .ok()
                        .and_then(eid_core::region::lookup)
                        .map(|r| r.full_name())
                        .unwrap_or_default();
                    format!("{other} {name}")
                }
            };
            let purposes: Vec<&str> = scope.purposes.iter().map(|p| p.as_str()).collect();
            writeln!(
                out,
                "      accepted in {region} for {} from {}{}",
                purposes.join(", "),
                t(scope.valid_from),
                scope
                    .valid_until
                    .map(|u| format!(" until {}", t(u)))
                    .unwrap_or_default()
            )?;
        }
    }
    writeln!(out, "\nWallet providers ({}):", list.wallet_providers.len())?;
    for p in &list.wallet_providers {
        let state = match p.state {
            ProviderState::Active => "active",
            ProviderState::Suspended => "SUSPENDED",
        };
        writeln!(
            out,
            "  {} — {}: {state}, {} attestation key{}",
            p.id,
            p.name,
            p.attestation_keys.len(),
            if p.attestation_keys.len() == 1 {
                ""
            } else {
                "s"
            }
        )?;
    }
    writeln!(out, "\nRelying parties ({}):", list.relying_parties.len())?;
    for rp in &list.relying_parties {
        let place = eid_core::region::lookup(rp.region)
            .map(|r| r.full_name())
            .unwrap_or_default();
        writeln!(
            out,
            "  {} — {} in {} {place}{}",
            rp.id,
            rp.name,
            rp.region,
            if rp.certificate.is_some() {
                " (reader certificate registered)"
            } else {
                ""
            }
        )?;
        for (purpose, attributes) in &rp.purposes {
            writeln!(out, "      {purpose}: {}", attributes.join(", "))?;
        }
    }
    writeln!(out, "\nPurposes:")?;
    for p in &list.purposes {
        writeln!(
            out,
            "  {} — {}; status at most {} old{}\n      may see: {}",
            p.purpose,
            p.name,
            age(p.max_status_age_seconds),
            [
                (p.face_match_required, "; the face must match"),
                (p.paper_allowed, "; a printed code is accepted"),
                (
                    p.delegation_allowed,
                    "; a parent's or guardian's credential for the resident is accepted"
                ),
            ]
            .iter()
            .filter(|(holds, _)| *holds)
            .map(|(_, says)| *says)
            .collect::<String>(),
            p.attributes.join(", ")
        )?;
    }
    Ok(out)
}

fn age(seconds: u64) -> String {
    match seconds {
        s if s % 3600 == 0 => format!("{} h", s / 3600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}
