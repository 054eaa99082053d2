//! `eid verify`: the desk's side. With `--engagement`, read the phone's QR text, connect,
//! ask for what the relying party's registration allows for the purpose; with
//! `--offline-qr` (or `--offline-qr-file`), check the code a scanner read. Either way print
//! the verifier's JSON report (exit 0 accepted, 1 refused).

use std::net::TcpStream;
use std::path::PathBuf;

use anyhow::Context;
use clap::{ArgGroup, Args};
use eid_core::{Clock, SystemClock};
use eid_crypto::SigningKey;
use eid_mdoc::engagement::DeviceEngagement;
use eid_mdoc::transport::Framed;
use eid_trust::VerifiedTrustList;
use eid_verifier::in_person::{ReaderIdentity, present_in_person};
use eid_verifier::{Channel, Check, Verifier};

use crate::Outcome;
use crate::credential::{load_jwks, read, read_bytes};

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("presentation").required(true).args(["engagement", "offline_qr", "offline_qr_file"])))]
pub struct VerifyArgs {
    /// The phone's engagement QR text (mdoc:…), for an in-person presentation
    #[arg(long)]
    engagement: Option<String>,
    /// An offline QR code's bytes in base64url, as the wallet prints them
    #[arg(long)]
    offline_qr: Option<String>,
    /// A file holding an offline QR code's bytes, as a scanner delivers them
    #[arg(long)]
    offline_qr_file: Option<PathBuf>,
    /// The purpose of this verification (hotel_check_in, airport_security, …)
    #[arg(long)]
    purpose: String,
    /// The relying party's id in the trust list
    #[arg(long)]
    relying_party: String,
    /// The relying party's reader key (PKCS#8 PEM), in person
    #[arg(long, requires = "engagement")]
    reader_key: Option<PathBuf>,
    /// The relying party's reader certificate (PEM), as registered in the trust list, in
    /// person
    #[arg(long, requires = "engagement")]
    reader_certificate: Option<PathBuf>,
    /// The signed trust list
    #[arg(long)]
    trust_list: PathBuf,
    /// The national root key (JWK)
    #[arg(long, required = true)]
    trust_jwk: Vec<PathBuf>,
    /// Status list tokens held by this desk (JWT or CWT files); repeat for several
    #[arg(long)]
    status_list: Vec<PathBuf>,
    /// The attributes to ask for (default: all the registration allows for the purpose)
    #[arg(long, value_delimiter = ',')]
    attributes: Vec<String>,
    /// The private key (PKCS#8 PEM, P-256) the relying party's pairwise pseudonyms are
    /// sealed to: required when the trust list registers one for it and it is registered for
    /// a pseudonym
    #[arg(long, env = "EID_VERIFIER_PSEUDONYM_KEY")]
    pseudonym_key: Option<PathBuf>,
}

pub fn run(args: VerifyArgs) -> anyhow::Result<Outcome> {
    let now = SystemClock.now();
    let purpose = crate::credential::purpose(&args.purpose)?;
    let trust = VerifiedTrustList::read(
        &read(&args.trust_list)?,
        &load_jwks(&args.trust_jwk)?,
        now,
        None,
    )
    .with_context(|| format!("{} is not a usable trust list", args.trust_list.display()))?;
    let mut verifier = crate::verifier::with_pseudonym_key(
        Verifier::new(trust, &args.relying_party, now),
        args.pseudonym_key.as_deref(),
    )?;
    hold_status_lists(&mut verifier, &args.status_list, now)?;
    let attributes = if args.attributes.is_empty() {
        verifier.registered_attributes(purpose)
    } else {
        args.attributes.clone()
    };
    let report = match &args.engagement {
        Some(engagement) => in_person(&args, engagement, &verifier, purpose, &attributes)?,
        None => {
            let code = match (&args.offline_qr, &args.offline_qr_file) {
                (Some(text), _) => eid_crypto::b64url_decode(text.trim())
                    .context("--offline-qr must be the code's bytes in base64url")?,
                (None, Some(path)) => read_bytes(path)?,
                (None, None) => {
                    anyhow::bail!("give --engagement, --offline-qr or --offline-qr-file")
                }
            };
            verifier.verify_offline(
                &code,
                &Check {
                    purpose,
                    requested: &attributes,
                    channel: Channel::OfflineQr,
                    now: SystemClock.now(),
                },
            )
        }
    };
    // The command line has no camera: where the purpose requires the face match (every
    // purpose accepting a printed code does), it refuses as a desk without a face model.
    let report = verifier.with_face_check(
        report,
        eid_verifier::FaceCheck::NotCompared(
            "the command line compares no face: verify at a desk that does".into(),
        ),
    );
    crate::print_json(&report)?;
    Ok(if report.accepted {
        Outcome::Ok
    } else {
        Outcome::Refused
    })
}

/// Stores the status list tokens in `paths` (JWT or CWT files) in the verifier's cache,
/// each owned by the listed issuer that signed it.
pub(crate) fn hold_status_lists(
    verifier: &mut Verifier,
    paths: &[PathBuf],
    now: time::OffsetDateTime,
) -> anyhow::Result<()> {
    for path in paths {
        let token = read_bytes(path)?;
        let trust = verifier.trust().clone();
        verifier
            .statuses_mut()
            .store_published(&trust, &token, now)
            .with_context(|| {
                format!("{} is not a status list of a listed issuer", path.display())
            })?;
    }
    Ok(())
}

/// The ISO 18013-5 exchange with the phone whose engagement QR says where it listens.
fn in_person(
    args: &VerifyArgs,
    engagement: &str,
    verifier: &Verifier,
    purpose: eid_trust::Purpose,
    attributes: &[String],
) -> anyhow::Result<eid_verifier::Report> {
    let (Some(key_path), Some(certificate_path)) = (&args.reader_key, &args.reader_certificate)
    else {
        anyhow::bail!("in person, the desk needs --reader-key and --reader-certificate");
    };
    let key = SigningKey::from_pkcs8_pem(&read(key_path)?)
        .with_context(|| format!("{} is not a PKCS#8 key", key_path.display()))?;
    let certificate = eid_crypto::pem::decode("CERTIFICATE", &read(certificate_path)?)
        .with_context(|| format!("{} is not a PEM certificate", certificate_path.display()))?;
    let engagement = DeviceEngagement::from_qr_uri(engagement.trim())
        .context("the engagement is not an mdoc: QR code's text")?;
    let address = engagement
        .tcp_address
        .clone()
        .context("the engagement offers no way to connect that this desk has (TCP)")?;
    let stream = TcpStream::connect(&address)
        .with_context(|| format!("could not reach the phone at {address}"))?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(120)))?;
    Ok(present_in_person(
        &mut Framed(stream),
        &engagement,
        &ReaderIdentity {
            signer: &key,
            certificate: &certificate,
            relying_party: verifier.relying_party(),
        },
        verifier,
        purpose,
        attributes,
        || SystemClock.now(),
    ))
}
