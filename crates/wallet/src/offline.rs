//! The offline single QR, the phone's side: a compact credential for one purpose, shown as
//! a code the phone signs afresh every [`REFRESH`] while it is on screen (a desk accepts
//! each for a minute: `eid_mdoc::offline`).

use eid_crypto::{Signer, VerifyingKey};
use eid_mdoc::offline::{CompactCredential, OfflineError, present_offline};
use time::{Duration, OffsetDateTime};

/// How often a shown code is made again: half the minute a desk accepts it for, so that a
/// code scanned just before the refresh still has half a minute to reach the desk's check.
pub const REFRESH: Duration = Duration::seconds(30);

/// A compact credential the wallet holds, checked to be bound to the wallet's key.
#[derive(Debug, Clone)]
pub struct OfflineCredential {
    credential: CompactCredential,
}

impl OfflineCredential {
    /// Reads a compact credential and checks that it is bound to `device_key` (the one the
    /// wallet will sign with): a credential for another phone is refused on arrival.
    pub fn new(bytes: &[u8], device_key: &VerifyingKey) -> Result<Self, OfflineError> {
        let credential = CompactCredential::from_cbor(bytes)?;
        let bound = credential
            .claims
            .device_key
            .as_ref()
            .map(VerifyingKey::sec1);
        if bound != Some(device_key.sec1()) {
            return Err(OfflineError::NotTheDeviceKey);
        }
        Ok(Self { credential })
    }

    /// The purpose it serves.
    pub fn purpose(&self) -> &str {
        &self.credential.claims.purpose
    }

    /// The attribute names a desk will see (never their values).
    pub fn attribute_names(&self) -> Vec<&str> {
        self.credential
            .claims
            .attributes
            .keys()
            .map(String::as_str)
            .collect()
    }

    /// Until when the credential itself is valid (refresh it before).
    pub fn expires_at(&self) -> OffsetDateTime {
        self.credential.claims.expires_at
    }

    /// The code to show now: the QR code's bytes (byte mode, version 15-M at most).
    pub fn code(&self, device: &dyn Signer, now: OffsetDateTime) -> Result<Vec<u8>, OfflineError> {
        present_offline(&self.credential, device, now)
    }
}
