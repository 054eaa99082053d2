//! `eid wallet`: a holder's wallet in a folder — the PIN-locked keystore with the device
//! key, the credentials bound to it — and the in-person presentation to a desk.
//!
//! The folder holds `keystore.json` (the software keystore), `device.pub.pem` (the device
//! key's public half, for issuance) and `credentials.json` (the credentials — mdocs and
//! compact credentials for the offline QR — each with the id of the key it is bound to).
//! The PIN comes from `EID_WALLET_PIN` or `--pin`.

use std::io::{BufRead, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{ArgGroup, Subcommand};
use eid_core::{Clock, OsRandom, SystemClock};
use eid_crypto::b64url;
use eid_mdoc::offline::OfflineError;
use eid_mdoc::transport::{Framed, Transport};
use eid_trust::VerifiedTrustList;
use eid_wallet::in_person::{Engagement, refusal};
use eid_wallet::keystore::KdfCost;
use eid_wallet::offline::{OfflineCredential, REFRESH};
use eid_wallet::{Keystore, SoftwareKeystore};
use serde::{Deserialize, Serialize};

use crate::Outcome;
use crate::credential::{load_jwks, read};

/// The device key's id in the keystore.
const DEVICE_KEY: &str = "device";
/// The format name of compact credentials in `credentials.json` (OpenID4VCI's).
const FORMAT_COMPACT: &str = eid_oid4vc::FORMAT_EID_COMPACT;
/// Wrong PINs before the keystore locks for good.
const MAX_PIN_FAILURES: u32 = 5;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a wallet: a PIN-locked keystore with a new device key (its public half is
    /// written to device.pub.pem, for the issuer)
    Init {
        /// The wallet's folder
        #[arg(long)]
        dir: PathBuf,
        /// The PIN (6 to 12 digits)
        #[arg(long, env = "EID_WALLET_PIN", hide_env_values = true)]
        pin: String,
    },
    /// Enrol: redeem the authority's offer (OpenID4VCI) with the transaction code and the
    /// provider's key attestation, and keep every credential offered, bound to the device key
    Enrol {
        /// The wallet's folder
        #[arg(long)]
        dir: PathBuf,
        /// The offer (openid-credential-offer://…) the authority gave after proofing
        #[arg(long)]
        offer: String,
        /// The transaction code that came with it
        #[arg(long)]
        tx_code: String,
        /// The provider's key attestation of the device key (`eid provider attest`)
        #[arg(long)]
        attestation: PathBuf,
        /// The PIN, which unlocks the device key to sign the key proofs
        #[arg(long, env = "EID_WALLET_PIN", hide_env_values = true)]
        pin: String,
    },
    /// Put a credential bound to the wallet's device key into the wallet
    Add {
        /// The wallet's folder
        #[arg(long)]
        dir: PathBuf,
        /// The credential: an mso_mdoc IssuerSigned (`eid credential issue`) or a compact
        /// credential for the offline QR (`eid credential issue-offline`)
        #[arg(long)]
        credential: PathBuf,
    },
    /// Present the credential to a desk: in person (show the engagement QR code, wait for
    /// the desk, show who asks for what, answer once the holder agrees), or offline (show
    /// a signed QR code for one purpose that a scanner reads, made again every 30 s)
    #[command(group(ArgGroup::new("channel").required(true).args(["in_person", "offline", "online"])))]
    Present {
        /// The wallet's folder
        #[arg(long)]
        dir: PathBuf,
        /// In person, over ISO 18013-5
        #[arg(long)]
        in_person: bool,
        /// Offline: one QR code for --purpose, for a desk with only a scanner
        #[arg(long, requires = "purpose")]
        offline: bool,
        /// Online: the website's OpenID4VP link or QR text (openid4vp://…)
        #[arg(long, value_name = "INVOCATION")]
        online: Option<String>,
        /// The purpose of the offline code (airport_security, rail_ticketing, age_check)
        #[arg(long)]
        purpose: Option<String>,
        /// Show one offline code and stop (default: a new one every 30 s until Ctrl-C)
        #[arg(long)]
        once: bool,
        /// Also write the offline code's bytes here (what a scanner reads)
        #[arg(long)]
        out: Option<PathBuf>,
        /// The signed trust list (in person and online: to check who asks and what it may)
        #[arg(long, required_unless_present = "offline")]
        trust_list: Option<PathBuf>,
        /// The national root key (JWK)
        #[arg(long, required_unless_present = "offline")]
        trust_jwk: Vec<PathBuf>,
        /// Where to wait for the desk (announced in the QR code)
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: String,
        /// Agree without asking (for scripts; the request is still checked and printed)
        #[arg(long)]
        yes: bool,
        /// The PIN, which unlocks the device key once the holder agrees
        #[arg(long, env = "EID_WALLET_PIN", hide_env_values = true)]
        pin: String,
    },
}

#[derive(Serialize, Deserialize)]
struct StoredCredential {
    format: String,
    key: String,
    /// base64url of the credential's bytes.
    credential: String,
}

fn keystore_path(dir: &Path) -> PathBuf {
    dir.join("keystore.json")
}

fn credentials_path(dir: &Path) -> PathBuf {
    dir.join("credentials.json")
}

fn credentials(dir: &Path) -> anyhow::Result<Vec<StoredCredential>> {
    let path = credentials_path(dir);
    if !path.exists() {
        return Ok(Vec::new());
    }
    serde_json::from_str(&read(&path)?)
        .with_context(|| format!("{} is not a wallet's credential list", path.display()))
}

pub fn run(command: Command) -> anyhow::Result<Outcome> {
    match command {
        Command::Init { dir, pin } => init(&dir, &pin),
        Command::Add { dir, credential } => add(&dir, &credential),
        Command::Enrol {
            dir,
            offer,
            tx_code,
            attestation,
            pin,
        } => enrol(&dir, &offer, &tx_code, &attestation, &pin),
        Command::Present {
            dir,
            offline: true,
            purpose,
            once,
            out,
            pin,
            ..
        } => present_offline(
            &dir,
            purpose.as_deref().unwrap_or_default(),
            once,
            out,
            &pin,
        ),
        Command::Present {
            dir,
            online,
            trust_list,
            trust_jwk,
            listen,
            yes,
            pin,
            ..
        } => {
            let trust_list = trust_list.context("--trust-list is required")?;
            let now = SystemClock.now();
            let trust =
                VerifiedTrustList::read(&read(&trust_list)?, &load_jwks(&trust_jwk)?, now, None)
                    .with_context(|| {
                        format!("{} is not a usable trust list", trust_list.display())
                    })?;
            match online {
                Some(invocation) => present_online(&dir, &trust, &invocation, yes, &pin),
                None => present_in_person(&dir, &trust, &listen, yes, &pin),
            }
        }
    }
}

fn init(dir: &Path, pin: &str) -> anyhow::Result<Outcome> {
    std::fs::create_dir_all(dir).with_context(|| format!("could not create {}", dir.display()))?;
    let (mut store, unlocked) = SoftwareKeystore::create(
        &keystore_path(dir),
        pin,
        MAX_PIN_FAILURES,
        KdfCost::RECOMMENDED,
        Box::new(OsRandom),
    )
    .context("could not create the keystore")?;
    let public = store.create_key(&unlocked, DEVICE_KEY)?;
    crate::pki::write_file(
        &dir.join("device.pub.pem"),
        public.to_spki_pem().as_bytes(),
        false,
        false,
    )?;
    crate::print_json(&serde_json::json!({
        "wallet": dir.display().to_string(),
        "device_key": dir.join("device.pub.pem").display().to_string(),
        "locks_after_wrong_pins": MAX_PIN_FAILURES,
    }))?;
    Ok(Outcome::Ok)
}

fn add(dir: &Path, file: &Path) -> anyhow::Result<Outcome> {
    let store = SoftwareKeystore::open(&keystore_path(dir), Box::new(OsRandom))
        .with_context(|| format!("{} holds no wallet (run eid wallet init)", dir.display()))?;
    let bytes = crate::credential::read_bytes(file)?;
    let device = store.public_key(DEVICE_KEY)?;
    let Ok(issued) = eid_mdoc::IssuerSigned::from_cbor(&bytes) else {
        let compact = OfflineCredential::new(&bytes, &device).map_err(|e| match e {
            OfflineError::NotTheDeviceKey => anyhow::anyhow!(
                "{} is bound to another device key than this wallet's",
                file.display()
            ),
            _ => anyhow::anyhow!(
                "{} is neither an mdoc credential nor a compact credential for the offline QR",
                file.display()
            ),
        })?;
        let purpose = compact.purpose().to_owned();
        let count = store_credential(dir, FORMAT_COMPACT, &bytes)?;
        crate::print_json(&serde_json::json!({ "credentials": count, "offline_qr_for": purpose }))?;
        return Ok(Outcome::Ok);
    };
    let payload = issued.issuer_auth.payload.as_deref().unwrap_or_default();
    let mso = eid_mdoc::MobileSecurityObject::from_payload(payload)
        .with_context(|| format!("{} has no readable MSO", file.display()))?;
    if mso.device_key()?.sec1() != device.sec1() {
        bail!(
            "{} is bound to another device key than this wallet's",
            file.display()
        );
    }
    let count = store_credential(dir, "mso_mdoc", &bytes)?;
    crate::print_json(&serde_json::json!({ "credentials": count, "doc_type": mso.doc_type }))?;
    Ok(Outcome::Ok)
}

/// The OpenID4VCI flow against the offer's issuer, every configuration offered.
fn enrol(
    dir: &Path,
    offer: &str,
    tx_code: &str,
    attestation: &Path,
    pin: &str,
) -> anyhow::Result<Outcome> {
    use eid_verifier::online::{fetch, post_form, post_json};
    use eid_wallet::enrolment::{Enrolment, Received, accept};
    let mut store = SoftwareKeystore::open(&keystore_path(dir), Box::new(OsRandom))
        .with_context(|| format!("{} holds no wallet (run eid wallet init)", dir.display()))?;
    let attestation = read(attestation)?;
    let enrolment = Enrolment::from_offer(offer)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (issuer_url, server_url) = enrolment.metadata_urls();
    let (endpoints, metadata) = runtime.block_on(async {
        let issuer = fetch(&issuer_url, "application/json").await?;
        let server = fetch(&server_url, "application/json").await?;
        anyhow::Ok(enrolment.endpoints(&issuer, &server)?)
    })?;
    let token: eid_oid4vc::token::TokenResponse = serde_json::from_slice(
        &runtime
            .block_on(post_form(&endpoints.token, enrolment.token_form(tx_code)))
            .context("the token endpoint refused the code")?,
    )
    .context("the token endpoint's answer")?;
    let unlocked = store
        .unlock(pin)
        .context("the PIN did not unlock the device key")?;
    let signer = store.signer(&unlocked, DEVICE_KEY)?;
    let device = store.public_key(DEVICE_KEY)?;
    let mut kept = Vec::new();
    for configuration in enrolment.configurations() {
        let Some(format) = metadata
            .credential_configurations_supported
            .get(configuration)
            .map(|c| c.format.clone())
        else {
            continue;
        };
        let nonce: eid_oid4vc::token::NonceResponse =
            serde_json::from_slice(&runtime.block_on(post_form(&endpoints.nonce, String::new()))?)
                .context("the nonce endpoint's answer")?;
        let request = enrolment.credential_request(
            configuration,
            &[&signer],
            &nonce.c_nonce,
            attestation.trim(),
            SystemClock.now(),
        )?;
        let response = runtime
            .block_on(post_json(
                &endpoints.credential,
                Some(&token.access_token),
                request,
            ))
            .with_context(|| format!("the credential endpoint refused {configuration}"))?;
        for received in accept(&format, &response, std::slice::from_ref(&device))? {
            let (format, bytes) = match received {
                Received::Mdoc(b) => ("mso_mdoc", b),
                Received::SdJwt(t) => (eid_oid4vc::FORMAT_SD_JWT_VC, t.into_bytes()),
                Received::Compact(b) => (FORMAT_COMPACT, b),
            };
            store_credential(dir, format, &bytes)?;
            kept.push(configuration.clone());
        }
    }
    crate::print_json(&serde_json::json!({
        "issuer": enrolment.issuer(),
        "credentials": kept,
    }))?;
    Ok(Outcome::Ok)
}

/// Appends a credential bound to the device key; returns how many the wallet holds.
fn store_credential(dir: &Path, format: &str, bytes: &[u8]) -> anyhow::Result<usize> {
    let mut all = credentials(dir)?;
    all.push(StoredCredential {
        format: format.into(),
        key: DEVICE_KEY.into(),
        credential: b64url(bytes),
    });
    let text = serde_json::to_string_pretty(&all)?;
    crate::pki::write_file(&credentials_path(dir), text.as_bytes(), true, true)?;
    Ok(all.len())
}

/// Shows the offline QR for `purpose`: unlocks the device key with the PIN once, then
/// makes a code now and every 30 s (unless `once`), printing it as a terminal QR code and
/// as base64url text (what `eid verify --offline-qr` takes).
fn present_offline(
    dir: &Path,
    purpose: &str,
    once: bool,
    out: Option<PathBuf>,
    pin: &str,
) -> anyhow::Result<Outcome> {
    let purpose = crate::trust::purpose(purpose)?;
    let mut store = SoftwareKeystore::open(&keystore_path(dir), Box::new(OsRandom))
        .with_context(|| format!("{} holds no wallet (run eid wallet init)", dir.display()))?;
    let device = store.public_key(DEVICE_KEY)?;
    let held = credentials(dir)?
        .into_iter()
        .filter(|c| c.format == FORMAT_COMPACT)
        .filter_map(|c| eid_crypto::b64url_decode(&c.credential).ok())
        .filter_map(|bytes| OfflineCredential::new(&bytes, &device).ok())
        .find(|c| c.purpose() == purpose.as_str())
        .with_context(|| {
            format!(
                "the wallet in {} holds no offline QR credential for {purpose}",
                dir.display()
            )
        })?;
    let unlocked = store
        .unlock(pin)
        .context("the PIN did not unlock the device key")?;
    let signer = store.signer(&unlocked, DEVICE_KEY)?;
    loop {
        let code = held.code(&signer, SystemClock.now())?;
        if let Some(path) = &out {
            crate::pki::write_file(path, &code, false, true)?;
        }
        let qr = qrcode::QrCode::with_error_correction_level(&code, qrcode::EcLevel::M)
            .context("the code does not fit a QR code")?;
        let version = match qr.version() {
            qrcode::Version::Normal(v) | qrcode::Version::Micro(v) => v,
        };
        let picture = qr
            .render::<qrcode::render::unicode::Dense1x2>()
            .quiet_zone(true)
            .build();
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{picture}")?;
        writeln!(
            stdout,
            "Offline code for {purpose} ({} bytes, QR version {version}-M), valid for 60 s; it shows: {}",
            code.len(),
            held.attribute_names().join(", ")
        )?;
        writeln!(stdout, "{}", b64url(&code))?;
        stdout.flush()?;
        drop(stdout);
        if once {
            return Ok(Outcome::Ok);
        }
        std::thread::sleep(std::time::Duration::from_secs(
            u64::try_from(REFRESH.whole_seconds()).unwrap_or(30),
        ));
    }
}

/// The wallet's keystore and its mdoc credential (stored entry and bytes).
fn open_with_mdoc(dir: &Path) -> anyhow::Result<(SoftwareKeystore, StoredCredential, Vec<u8>)> {
    let store = SoftwareKeystore::open(&keystore_path(dir), Box::new(OsRandom))
        .with_context(|| format!("{} holds no wallet (run eid wallet init)", dir.display()))?;
    let stored = credentials(dir)?
        .into_iter()
        .find(|c| c.format == "mso_mdoc")
        .with_context(|| format!("the wallet in {} holds no mdoc credential", dir.display()))?;
    let credential = eid_crypto::b64url_decode(&stored.credential)
        .context("the wallet's credential list is damaged")?;
    Ok((store, stored, credential))
}

/// Asks the holder to share; `yes` agrees without asking.
fn agree(yes: bool) -> anyhow::Result<bool> {
    if yes {
        return Ok(true);
    }
    write!(std::io::stdout().lock(), "Share? [y/N] ")?;
    std::io::stdout().lock().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// Prints who asks for what.
fn show_consent(consent: &eid_wallet::in_person::ConsentRequest) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{} ({}, region {}) asks, for {}, to see: {}{}",
        consent.relying_party_name,
        consent.relying_party,
        consent.region,
        consent.purpose_name,
        consent.attributes.join(", "),
        if consent.intends_to_retain {
            " — and says it will keep them"
        } else {
            ""
        }
    )?;
    out.flush()?;
    Ok(())
}

/// Online (OpenID4VP): fetches the request object the invocation points to, checks it,
/// asks, and posts the encrypted answer made from the wallet's mdoc.
fn present_online(
    dir: &Path,
    trust: &VerifiedTrustList,
    invocation: &str,
    yes: bool,
    pin: &str,
) -> anyhow::Result<Outcome> {
    let (mut store, stored, credential) = open_with_mdoc(dir)?;
    let (client_id, request_uri) = eid_oid4vc::vp::parse_invocation(invocation)
        .context("the link is not an openid4vp:// invocation")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let request_object = runtime
        .block_on(eid_verifier::online::fetch(
            &request_uri,
            "application/oauth-authz-req+jwt",
        ))
        .with_context(|| format!("could not fetch the request from {request_uri}"))?;
    let request_object =
        String::from_utf8(request_object).context("the request object is not text")?;
    let pending =
        match eid_wallet::online::receive(&client_id, &request_object, trust, SystemClock.now()) {
            Ok(pending) => pending,
            Err(refused) => {
                writeln!(
                    std::io::stdout().lock(),
                    "Refused without asking you: {refused}"
                )?;
                return Ok(Outcome::Refused);
            }
        };
    show_consent(&pending.consent)?;
    if !agree(yes)? {
        writeln!(std::io::stdout().lock(), "Declined; nothing was sent.")?;
        return Ok(Outcome::Refused);
    }
    let unlocked = store
        .unlock(pin)
        .context("the PIN did not unlock the device key")?;
    let signer = store.signer(&unlocked, &stored.key)?;
    let answer = pending.respond(
        eid_wallet::online::Held::Mdoc(&credential),
        &signer,
        &OsRandom,
        SystemClock.now(),
    )?;
    runtime
        .block_on(eid_verifier::online::post_form(
            &answer.response_uri,
            answer.body,
        ))
        .with_context(|| format!("could not post the answer to {}", answer.response_uri))?;
    writeln!(
        std::io::stdout().lock(),
        "Shared with {}.",
        pending.consent.relying_party
    )?;
    Ok(Outcome::Ok)
}

fn present_in_person(
    dir: &Path,
    trust: &VerifiedTrustList,
    listen: &str,
    yes: bool,
    pin: &str,
) -> anyhow::Result<Outcome> {
    let (mut store, stored, credential) = open_with_mdoc(dir)?;
    let listener =
        TcpListener::bind(listen).with_context(|| format!("could not listen on {listen}"))?;
    let address = listener.local_addr()?.to_string();
    let engagement = Engagement::new(Some(&address))?;
    let uri = engagement.qr_uri();
    let qr = qrcode::QrCode::new(uri.as_bytes())
        .context("the engagement does not fit a QR code")?
        .render::<qrcode::render::unicode::Dense1x2>()
        .quiet_zone(true)
        .build();
    let mut out = std::io::stdout().lock();
    writeln!(out, "{qr}")?;
    writeln!(
        out,
        "Show this code to the desk, or give it the text below."
    )?;
    writeln!(out, "{uri}")?;
    out.flush()?;
    drop(out);

    let (stream, _) = listener.accept().context("no desk connected")?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(60)))?;
    let mut transport = Framed(stream);
    let establishment = transport.receive().context("the desk sent nothing")?;
    let pending = match engagement.receive(&establishment, trust, SystemClock.now()) {
        Ok(pending) => pending,
        Err(refused) => {
            transport.send(&refusal())?;
            writeln!(
                std::io::stdout().lock(),
                "Refused without asking you: {refused}"
            )?;
            return Ok(Outcome::Refused);
        }
    };
    show_consent(&pending.consent)?;
    let agreed = agree(yes)?;
    if !agreed {
        transport.send(&pending.decline())?;
        writeln!(
            std::io::stdout().lock(),
            "Declined; the desk was told nothing more."
        )?;
        return Ok(Outcome::Refused);
    }
    let unlocked = store
        .unlock(pin)
        .context("the PIN did not unlock the device key")?;
    let signer = store.signer(&unlocked, &stored.key)?;
    let rp = pending.consent.relying_party.clone();
    let answer = pending.respond(&credential, &signer)?;
    transport.send(&answer)?;
    writeln!(std::io::stdout().lock(), "Shared with {rp}.")?;
    Ok(Outcome::Ok)
}
