//! `eid wallet`: a holder's wallet in a folder — the PIN-locked keystore with the device
//! key, the credentials bound to it — and the in-person presentation to a desk.
//!
//! The folder holds `keystore.json` (the software keystore), `device.pub.pem` (the device
//! key's public half, for issuance) and `wallet.db` (`eid_wallet::store`: the credentials —
//! mdocs, SD-JWT VCs and compact credentials for the offline QR — each with the key it is
//! bound to and the relying party it was shown to, and the history of presentations).
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
use eid_wallet::holder::FixedAttestation;
use eid_wallet::in_person::{Engagement, refusal};
use eid_wallet::keystore::KdfCost;
use eid_wallet::offline::{OfflineCredential, REFRESH};
use eid_wallet::store::{UsePolicy, WalletStore};
use eid_wallet::{DeviceKeys, Holder, HolderError, Keystore, SoftwareKeystore, UnlockedKeys};

use crate::Outcome;
use crate::credential::{load_jwks, read};

/// The device key's id in the keystore.
const DEVICE_KEY: &str = "device";
/// The format name of compact credentials in the store (OpenID4VCI's).
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
    /// Ask the authority for a new batch before the credentials run out or expire (no new
    /// proofing while they are valid), and keep it
    Refresh {
        /// The wallet's folder
        #[arg(long)]
        dir: PathBuf,
        /// The authority (its Credential Issuer Identifier, http://…)
        #[arg(long)]
        authority: String,
        /// The provider's key attestation of the device key (`eid provider attest`)
        #[arg(long)]
        attestation: PathBuf,
        /// The PIN, which unlocks the device key to sign the proofs
        #[arg(long, env = "EID_WALLET_PIN", hide_env_values = true)]
        pin: String,
    },
    /// List the credentials the wallet holds (what and where they went, not what they say)
    List {
        /// The wallet's folder
        #[arg(long)]
        dir: PathBuf,
    },
    /// Export the history of every presentation (who, when, why, which attributes) as JSON
    History {
        /// The wallet's folder
        #[arg(long)]
        dir: PathBuf,
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

fn keystore_path(dir: &Path) -> PathBuf {
    dir.join("keystore.json")
}

/// The wallet in its folder: the keystore, and the credential store (`wallet.db`, SQLite)
/// on a runtime of its own (the store and the network are async, the command line is not).
/// Each relying party sees one instance of its own (`UsePolicy::PerRelyingParty`); offline
/// codes are shown to whoever scans them, so their instance is the purpose's.
struct Wallet {
    runtime: tokio::runtime::Runtime,
    holder: Holder,
    keystore: SoftwareKeystore,
}

impl Wallet {
    fn open(dir: &Path) -> anyhow::Result<Self> {
        let keystore = SoftwareKeystore::open(&keystore_path(dir), Box::new(OsRandom))
            .with_context(|| format!("{} holds no wallet (run eid wallet init)", dir.display()))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let path = dir.join("wallet.db");
        let store = runtime
            .block_on(WalletStore::open(
                &path.display().to_string(),
                UsePolicy::PerRelyingParty,
            ))
            .with_context(|| format!("could not open {}", path.display()))?;
        Ok(Self {
            runtime,
            holder: Holder::new(store),
            keystore,
        })
    }

    /// Keeps a credential bound to the device key; how many the wallet holds.
    fn add(
        &self,
        format: &str,
        purpose: Option<&str>,
        bytes: &[u8],
        expires_at: time::OffsetDateTime,
    ) -> anyhow::Result<usize> {
        self.runtime.block_on(async {
            self.holder
                .store()
                .add(
                    eid_wallet::store::Whose::Mine,
                    format,
                    purpose,
                    DEVICE_KEY,
                    bytes,
                    expires_at,
                )
                .await?;
            anyhow::Ok(self.holder.store().list().await?.len())
        })
    }
}

pub fn run(command: Command) -> anyhow::Result<Outcome> {
    match command {
        Command::Init { dir, pin } => init(&dir, &pin),
        Command::Add { dir, credential } => add(&dir, &credential),
        Command::Refresh {
            dir,
            authority,
            attestation,
            pin,
        } => refresh(&dir, &authority, &attestation, &pin),
        Command::List { dir } => {
            let wallet = Wallet::open(&dir)?;
            crate::print_json(&wallet.runtime.block_on(wallet.holder.store().list())?)?;
            Ok(Outcome::Ok)
        }
        Command::History { dir } => {
            let wallet = Wallet::open(&dir)?;
            let history = wallet
                .runtime
                .block_on(wallet.holder.store().export_history())?;
            writeln!(std::io::stdout().lock(), "{history}")?;
            Ok(Outcome::Ok)
        }
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
    let wallet = Wallet::open(dir)?;
    let bytes = crate::credential::read_bytes(file)?;
    let device = wallet.keystore.public_key(DEVICE_KEY)?;
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
        let count = wallet.add(FORMAT_COMPACT, Some(&purpose), &bytes, compact.expires_at())?;
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
    let count = wallet.add("mso_mdoc", None, &bytes, mso.validity.valid_until)?;
    crate::print_json(&serde_json::json!({ "credentials": count, "doc_type": mso.doc_type }))?;
    Ok(Outcome::Ok)
}

/// The OpenID4VCI flow against the offer's issuer, every configuration offered, each bound
/// to the device key (`eid_wallet::holder`).
fn enrol(
    dir: &Path,
    offer: &str,
    tx_code: &str,
    attestation: &Path,
    pin: &str,
) -> anyhow::Result<Outcome> {
    let mut wallet = Wallet::open(dir)?;
    let attester = FixedAttestation(read(attestation)?);
    let unlocked = wallet
        .keystore
        .unlock(pin)
        .context("the PIN did not unlock the device key")?;
    let mut keys = UnlockedKeys::new(&mut wallet.keystore, unlocked, DEVICE_KEY, None);
    let enrolled = wallet.runtime.block_on(wallet.holder.redeem(
        offer,
        tx_code,
        None,
        &mut keys,
        &attester,
        SystemClock.now(),
    ))?;
    crate::print_json(&enrolled)?;
    Ok(Outcome::Ok)
}

/// A refresh: a key proof of the wallet to the authority's `POST /refresh`, then the offer
/// that comes back redeemed as at enrolment.
fn refresh(dir: &Path, authority: &str, attestation: &Path, pin: &str) -> anyhow::Result<Outcome> {
    let mut wallet = Wallet::open(dir)?;
    let attester = FixedAttestation(read(attestation)?);
    let unlocked = wallet
        .keystore
        .unlock(pin)
        .context("the PIN did not unlock the device key")?;
    let mut keys = UnlockedKeys::new(&mut wallet.keystore, unlocked, DEVICE_KEY, None);
    let enrolled = wallet
        .runtime
        .block_on(
            wallet
                .holder
                .refresh(authority, &mut keys, &attester, SystemClock.now()),
        )
        .with_context(|| format!("no refresh from {authority}"))?;
    crate::print_json(&enrolled)?;
    Ok(Outcome::Ok)
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
    let purpose = crate::credential::purpose(purpose)?;
    let mut wallet = Wallet::open(dir)?;
    // Nothing to show is said before the PIN is tried (no attempt spent on it).
    let no_credential = || {
        anyhow::anyhow!(
            "the wallet in {} holds no offline QR credential for {purpose}",
            dir.display()
        )
    };
    match wallet
        .runtime
        .block_on(wallet.holder.can_show_offline(purpose, SystemClock.now()))
    {
        Ok(()) => {}
        Err(HolderError::NoCredential(_)) => return Err(no_credential()),
        Err(e) => return Err(e.into()),
    }
    let unlocked = wallet
        .keystore
        .unlock(pin)
        .context("the PIN did not unlock the device key")?;
    let keys = UnlockedKeys::new(&mut wallet.keystore, unlocked, DEVICE_KEY, None);
    let show =
        match wallet
            .runtime
            .block_on(wallet.holder.offline(purpose, &keys, SystemClock.now()))
        {
            Ok(show) => show,
            Err(HolderError::NoCredential(_)) => return Err(no_credential()),
            Err(e) => return Err(e.into()),
        };
    let (held, signer) = (&show.credential, keys.signer(&show.key_id)?);
    let mut code = show.code.clone();
    loop {
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
        code = held.code(signer.as_ref(), SystemClock.now())?;
    }
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

/// Says why a request was refused before the holder was asked.
fn refused_without_asking(refused: &impl std::fmt::Display) -> anyhow::Result<Outcome> {
    writeln!(
        std::io::stdout().lock(),
        "Refused without asking you: {refused}"
    )?;
    Ok(Outcome::Refused)
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
    let mut wallet = Wallet::open(dir)?;
    let received = wallet.runtime.block_on(wallet.holder.receive_online(
        invocation,
        trust,
        SystemClock.now(),
    ));
    let pending = match received {
        Ok(pending) => pending,
        Err(HolderError::Request(refused)) => return refused_without_asking(&refused),
        Err(e) => return Err(e.into()),
    };
    show_consent(&pending.consent)?;
    if !agree(yes)? {
        // The relying party is told no (access_denied, nothing else), so its page stops
        // waiting: whether it could be reached (if not, the answer is still no).
        let told = wallet
            .runtime
            .block_on(wallet.holder.decline_online(&pending, &OsRandom));
        writeln!(
            std::io::stdout().lock(),
            "Declined; {}",
            if told {
                "the relying party was told no, and nothing else."
            } else {
                "the relying party could not be told, and got nothing."
            }
        )?;
        return Ok(Outcome::Refused);
    }
    let unlocked = wallet
        .keystore
        .unlock(pin)
        .context("the PIN did not unlock the device key")?;
    let keys = UnlockedKeys::new(&mut wallet.keystore, unlocked, DEVICE_KEY, None);
    wallet.runtime.block_on(wallet.holder.share_online(
        &pending,
        eid_wallet::store::Whose::Mine,
        &keys,
        &OsRandom,
        SystemClock.now(),
    ))?;
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
    let mut wallet = Wallet::open(dir)?;
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
            return refused_without_asking(&refused);
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
    let rp = pending.consent.relying_party.clone();
    let unlocked = wallet
        .keystore
        .unlock(pin)
        .context("the PIN did not unlock the device key")?;
    let keys = UnlockedKeys::new(&mut wallet.keystore, unlocked, DEVICE_KEY, None);
    let now = SystemClock.now();
    let answer = match wallet.runtime.block_on(wallet.holder.answer_in_person(
        pending,
        eid_wallet::store::Whose::Mine,
        &keys,
        now,
    )) {
        Ok(answer) => answer,
        Err(e) => {
            transport.send(&refusal())?;
            return Err(e.into());
        }
    };
    transport.send(&answer.message)?;
    wallet
        .runtime
        .block_on(wallet.holder.record_in_person(&answer, now))?;
    writeln!(std::io::stdout().lock(), "Shared with {rp}.")?;
    Ok(Outcome::Ok)
}
