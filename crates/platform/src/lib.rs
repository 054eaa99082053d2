//! The whole platform in one process: `eid up` and `eid demo`.
//!
//! - [`data`]: the data folder (`./eid-data`): keys, certificates, the trust list and the
//!   SQLite databases, made on the first start and kept across restarts;
//! - [`hosted`]: a wallet provider hosting wallets (the web wallet's back end);
//! - [`up`]: two issuing authorities (Nanning 4501, Hangzhou 3301), two wallet providers
//!   and the relying parties' verifier services, on loopback;
//! - [`demo`]: the story, played against a running platform over HTTP;
//! - [`web`]: the citizen wallet, verifier desk and authority console pages.

pub mod burst;
pub mod data;
pub mod demo;
pub mod freeze;
pub mod hosted;
pub mod http;
pub mod load;
pub mod up;
pub mod web;

/// Why the platform could not start or do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlatformError {
    /// The data folder: a file missing, unreadable or inconsistent.
    #[error("the data folder: {0}")]
    Data(String),
    /// A key or certificate.
    #[error(transparent)]
    Crypto(#[from] eid_crypto::CryptoError),
    /// The trust list.
    #[error("the trust list: {0}")]
    Trust(#[from] eid_trust::TrustError),
    /// A database.
    #[error(transparent)]
    Store(#[from] eid_store::StoreError),
    /// An authority's document signers cannot be used.
    #[error("an authority's document signer: {0}")]
    Signer(#[from] eid_authority::SignerError),
    /// A region code.
    #[error(transparent)]
    Region(#[from] eid_core::region::RegionError),
    /// A listener.
    #[error("listening on {address}: {source}")]
    Listen {
        /// Where.
        address: String,
        /// Why not.
        source: std::io::Error,
    },
}
