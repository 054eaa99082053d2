//! `eid wallet`: a holder's wallet in a folder — the PIN-locked keystore with the device
//! key, the credentials bound to it — and the in-person presentation to a desk.
//!
//! The folder holds `keystore.json` (the software keystore), `device.pub.pem` (the device
//! key's public half, for issuance) and `credentials.json` (the credentials, each with the
//! id of the key it is bound to). The PIN comes from `EID_WALLET_PIN` or `--pin`.

use std::io::{BufRead, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Subcommand;
use eid_core::{Clock, OsRandom, SystemClock};
use eid_crypto::b64url;
use eid_mdoc::transport::{Framed, Transport};
use eid_trust::VerifiedTrustList;
use eid_wallet::in_person::{Engagement, refusal};
use eid_wallet::keystore::KdfCost;
use eid_wallet::{Keystore, SoftwareKeystore};
use serde::{Deserialize, Serialize};

use crate::Outcome;
use crate::credential::{load_jwks, read};

/// The device key's id in the keystore.
const DEVICE_KEY: &str = "device";
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
    /// Put a credential bound to the wallet's device key into the wallet
    Add {
        /// The wallet's folder
        #[arg(long)]
        dir: PathBuf,
        /// The credential (mso_mdoc IssuerSigned, as `eid credential issue` writes it)
        #[arg(long)]
        credential: PathBuf,
    },
    /// Present the credential to a desk in person: show the engagement QR code, wait for
    /// the desk, show who asks for what, and answer once the holder agrees
    Present {
        /// The wallet's folder
        #[arg(long)]
        dir: PathBuf,
        /// In person, over ISO 18013-5 (the only way this command presents so far)
        #[arg(long, required = true)]
        in_person: bool,
        /// The signed trust list (to check who the desk is and what it may ask)
        #[arg(long)]
        trust_list: PathBuf,
        /// The national root key (JWK)
        #[arg(long, required = true)]
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
        Command::Present {
            dir,
            in_person: _,
            trust_list,
            trust_jwk,
            listen,
            yes,
            pin,
        } => {
            let now = SystemClock.now();
            let trust =
                VerifiedTrustList::read(&read(&trust_list)?, &load_jwks(&trust_jwk)?, now, None)
                    .with_context(|| {
                        format!("{} is not a usable trust list", trust_list.display())
                    })?;
            present_in_person(&dir, &trust, &listen, yes, &pin)
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
    let issued = eid_mdoc::IssuerSigned::from_cbor(&bytes)
        .with_context(|| format!("{} is not an mdoc credential", file.display()))?;
    let payload = issued.issuer_auth.payload.as_deref().unwrap_or_default();
    let mso = eid_mdoc::MobileSecurityObject::from_payload(payload)
        .with_context(|| format!("{} has no readable MSO", file.display()))?;
    if mso.device_key()?.sec1() != store.public_key(DEVICE_KEY)?.sec1() {
        bail!(
            "{} is bound to another device key than this wallet's",
            file.display()
        );
    }
    let mut all = credentials(dir)?;
    all.push(StoredCredential {
        format: "mso_mdoc".into(),
        key: DEVICE_KEY.into(),
        credential: b64url(&bytes),
    });
    let text = serde_json::to_string_pretty(&all)?;
    crate::pki::write_file(&credentials_path(dir), text.as_bytes(), true, true)?;
    crate::print_json(&serde_json::json!({ "credentials": all.len(), "doc_type": mso.doc_type }))?;
    Ok(Outcome::Ok)
}

fn present_in_person(
    dir: &Path,
    trust: &VerifiedTrustList,
    listen: &str,
    yes: bool,
    pin: &str,
) -> anyhow::Result<Outcome> {
    let mut store = SoftwareKeystore::open(&keystore_path(dir), Box::new(OsRandom))
        .with_context(|| format!("{} holds no wallet (run eid wallet init)", dir.display()))?;
    let stored = credentials(dir)?
        .into_iter()
        .find(|c| c.format == "mso_mdoc")
        .with_context(|| format!("the wallet in {} holds no mdoc credential", dir.display()))?;
    let credential = eid_crypto::b64url_decode(&stored.credential)
        .context("the wallet's credential list is damaged")?;
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
    let consent = &pending.consent;
    {
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
    }
    let agreed = yes || {
        write!(std::io::stdout().lock(), "Share? [y/N] ")?;
        std::io::stdout().lock().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        matches!(answer.trim(), "y" | "Y" | "yes")
    };
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
    let rp = consent.relying_party.clone();
    let answer = pending.respond(&credential, &signer)?;
    transport.send(&answer)?;
    writeln!(std::io::stdout().lock(), "Shared with {rp}.")?;
    Ok(Outcome::Ok)
}
