//! `eid provider attest`: the wallet provider's side of enrolment — its key attestation
//! (OpenID4VCI Appendix D.1) vouching that a wallet instance's keys live in secure hardware,
//! signed with a key the trust list lists for the provider.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use eid_core::{Clock, SystemClock};
use eid_crypto::{SigningKey, VerifyingKey};
use eid_oid4vc::KeyAttestation;

use crate::Outcome;
use crate::credential::read;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Attest a wallet instance's device keys (key attestation JWT for OpenID4VCI)
    Attest {
        /// The provider's attestation key (PKCS#8 PEM), listed in the trust list
        #[arg(long)]
        key: PathBuf,
        /// The provider's id in the trust list
        #[arg(long)]
        provider: String,
        /// The wallet instance
        #[arg(long)]
        instance: String,
        /// A device public key to vouch for (SPKI PEM); repeat for a batch
        #[arg(long, required = true)]
        holder: Vec<PathBuf>,
        /// How long the attestation is valid, in minutes
        #[arg(long, default_value_t = 60)]
        valid_minutes: i64,
        /// Where to write it
        #[arg(long)]
        out: PathBuf,
    },
}

pub fn run(command: Command) -> anyhow::Result<Outcome> {
    let Command::Attest {
        key,
        provider,
        instance,
        holder,
        valid_minutes,
        out,
    } = command;
    let signer = SigningKey::from_pkcs8_pem(&read(&key)?)
        .with_context(|| format!("{} is not a PKCS#8 P-256 key", key.display()))?;
    let keys = holder
        .iter()
        .map(|path| {
            VerifyingKey::from_spki_pem(&read(path)?)
                .with_context(|| format!("{} is not a P-256 public key", path.display()))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let now = SystemClock.now();
    let attestation = KeyAttestation {
        provider: &provider,
        wallet_instance: &instance,
        keys: &keys,
        key_storage: &["iso_18045_high"],
        user_authentication: &["iso_18045_high"],
        issued_at: now,
        expires_at: now + time::Duration::minutes(valid_minutes.clamp(1, 24 * 60)),
    }
    .sign(&signer)?;
    crate::pki::write_file(&out, attestation.as_bytes(), false, true)?;
    Ok(Outcome::Ok)
}
