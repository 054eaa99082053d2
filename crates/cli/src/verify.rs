//! `eid verify`: the desk's side. With `--engagement`, read the phone's QR text, connect,
//! ask for what the relying party's registration allows for the purpose, and print the
//! verifier's JSON report (exit 0 accepted, 1 refused).

use std::net::TcpStream;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use eid_core::{Clock, SystemClock};
use eid_crypto::SigningKey;
use eid_mdoc::engagement::DeviceEngagement;
use eid_mdoc::transport::Framed;
use eid_trust::VerifiedTrustList;
use eid_verifier::Verifier;
use eid_verifier::in_person::{ReaderIdentity, present_in_person};

use crate::Outcome;
use crate::credential::{load_jwks, read, read_bytes};

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The phone's engagement QR text (mdoc:…), for an in-person presentation
    #[arg(long, required = true)]
    engagement: String,
    /// The purpose of this verification (hotel_check_in, airport_security, …)
    #[arg(long)]
    purpose: String,
    /// The relying party's id in the trust list
    #[arg(long)]
    relying_party: String,
    /// The relying party's reader key (PKCS#8 PEM)
    #[arg(long)]
    reader_key: PathBuf,
    /// The relying party's reader certificate (PEM), as registered in the trust list
    #[arg(long)]
    reader_certificate: PathBuf,
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
}

pub fn run(args: VerifyArgs) -> anyhow::Result<Outcome> {
    let now = SystemClock.now();
    let purpose = crate::trust::purpose(&args.purpose)?;
    let trust = VerifiedTrustList::read(
        &read(&args.trust_list)?,
        &load_jwks(&args.trust_jwk)?,
        now,
        None,
    )
    .with_context(|| format!("{} is not a usable trust list", args.trust_list.display()))?;
    let mut verifier = Verifier::new(trust, &args.relying_party, now);
    for path in &args.status_list {
        let token = read_bytes(path)?;
        let trust = verifier.trust().clone();
        verifier
            .statuses_mut()
            .store_published(&trust, &token, now)
            .with_context(|| {
                format!("{} is not a status list of a listed issuer", path.display())
            })?;
    }
    let key = SigningKey::from_pkcs8_pem(&read(&args.reader_key)?)
        .with_context(|| format!("{} is not a PKCS#8 key", args.reader_key.display()))?;
    let certificate = eid_crypto::pem::decode("CERTIFICATE", &read(&args.reader_certificate)?)
        .with_context(|| {
            format!(
                "{} is not a PEM certificate",
                args.reader_certificate.display()
            )
        })?;
    let engagement = DeviceEngagement::from_qr_uri(args.engagement.trim())
        .context("the engagement is not an mdoc: QR code's text")?;
    let address = engagement
        .tcp_address
        .clone()
        .context("the engagement offers no way to connect that this desk has (TCP)")?;
    let stream = TcpStream::connect(&address)
        .with_context(|| format!("could not reach the phone at {address}"))?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(120)))?;
    let attributes = if args.attributes.is_empty() {
        verifier.registered_attributes(purpose)
    } else {
        args.attributes.clone()
    };
    let report = present_in_person(
        &mut Framed(stream),
        &engagement,
        &ReaderIdentity {
            signer: &key,
            certificate: &certificate,
        },
        &verifier,
        purpose,
        &attributes,
        || SystemClock.now(),
    );
    crate::print_json(&report)?;
    Ok(if report.accepted {
        Outcome::Ok
    } else {
        Outcome::Refused
    })
}
