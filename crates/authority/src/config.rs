//! The configuration file (TOML) and its environment overrides.
//!
//! ```toml
//! issuer_url = "http://127.0.0.1:8080"      # the Credential Issuer Identifier
//! public_listen = "127.0.0.1:8080"
//! admin_listen = "127.0.0.1:8081"
//! database_url = "sqlite:eid-data/eid.db"    # or postgres://…
//! trust_list = "eid-data/trust/trust-list.jwt"
//! trust_anchors = ["eid-data/trust/root.jwk"]  # national root key(s) the list is signed with
//! # admin_token: set EID_AUTHORITY_ADMIN_TOKEN rather than writing it here
//!
//! [signer]                                   # the DS key, a file …
//! kind = "file"
//! key = "eid-data/pki/ds.key.pem"
//! certificates = "eid-data/pki/ds.pem"       # DS first; PEM, one or more
//!
//! # [signer]                                 # … or a key in a PKCS#11 token
//! # kind = "pkcs11"
//! # module = "/usr/lib/softhsm/libsofthsm2.so"
//! # token = "eid-issuer"
//! # key_label = "ds"
//! # certificates = "eid-data/pki/ds.pem"
//! # PIN: EID_AUTHORITY_PKCS11_PIN
//!
//! [[successors]]                             # the next DS key, made before the current ends
//! kind = "file"                              # (either kind; issuance moves to it on its
//! key = "eid-data/pki/ds-2.key.pem"          # certificate's notBefore)
//! certificates = "eid-data/pki/ds-2.pem"
//! ```
//!
//! Remote enrolment: `face_models = "/var/tmp/eid-proofing/models"` (and optionally
//! `face_threshold = 0.6`, `ocr = true`), in a build with the `face` (and `ocr`) feature.
//!
//! Every optional setting of [`crate::Settings`] can be given (`batch_size`,
//! `credential_validity_days`, `shard_size`, `status_ttl_seconds`, …). The environment wins
//! over the file: `EID_AUTHORITY_ISSUER_URL`, `EID_AUTHORITY_PUBLIC_LISTEN`,
//! `EID_AUTHORITY_ADMIN_LISTEN`, `EID_AUTHORITY_DATABASE_URL`, `EID_AUTHORITY_ADMIN_TOKEN`,
//! `EID_AUTHORITY_PKCS11_PIN`, `EID_AUTHORITY_PSEUDONYM_KEY` (64 hex digits),
//! `EID_AUTHORITY_RESOLUTION_TOKEN` (enables resolving relying parties' pseudonyms).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use eid_crypto::pkcs11::Pkcs11Signer;
use eid_crypto::{Signer, SigningKey};
use serde::Deserialize;
use time::Duration;

use crate::{DocumentSigner, DocumentSigners, Settings};

/// Why the configuration cannot be used. Messages name the setting or the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file is not valid TOML for this configuration.
    #[error("the configuration is not valid: {0}")]
    Parse(String),
    /// A file it names cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A setting has a value that cannot work.
    #[error("setting {name}: {problem}")]
    Invalid {
        /// The setting.
        name: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// The issuer key could not be opened.
    #[error("the issuer key: {0}")]
    Key(#[from] eid_crypto::CryptoError),
}

/// Where the issuer's DS key lives.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum SignerConfig {
    /// A PKCS#8 PEM file.
    File {
        /// The private key file.
        key: PathBuf,
        /// The DS certificate chain (PEM, DS first).
        certificates: PathBuf,
        /// `p256` (the default), or `sm2` for SM2 with SM3, a deployment's national
        /// algorithms (its chain and its trust list entry say SM2 too; no HSM here holds
        /// SM2 keys, so a file key only).
        #[serde(default)]
        algorithm: KeyAlgorithm,
    },
    /// A key on a PKCS#11 token, found by labels; the PIN comes from the environment.
    Pkcs11 {
        /// The module (`libsofthsm2.so`, a vendor's library).
        module: PathBuf,
        /// The token's label.
        token: String,
        /// The private key's label.
        key_label: String,
        /// The DS certificate chain (PEM, DS first).
        certificates: PathBuf,
        /// The PIN, when not given by `EID_AUTHORITY_PKCS11_PIN` (tests only).
        #[serde(default)]
        pin: Option<String>,
    },
}

/// The algorithm of a file key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyAlgorithm {
    /// ECDSA on P-256 with SHA-256 (ES256).
    #[default]
    P256,
    /// SM2 with SM3 (GB/T 32918, GB/T 32905).
    Sm2,
}

impl KeyAlgorithm {
    fn algorithm(self) -> eid_crypto::Algorithm {
        match self {
            Self::P256 => eid_crypto::Algorithm::Es256,
            Self::Sm2 => eid_crypto::Algorithm::Sm2Sm3,
        }
    }
}

/// The configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorityConfig {
    /// The Credential Issuer Identifier (the public listener's external URL).
    pub issuer_url: String,
    /// The issuer's display name.
    #[serde(default)]
    pub issuer_name: Option<String>,
    /// The public listener's address.
    #[serde(default = "default_public")]
    pub public_listen: String,
    /// The admin listener's address (keep it on an internal network).
    #[serde(default = "default_admin")]
    pub admin_listen: String,
    /// `sqlite:PATH` or `postgres://…`.
    #[serde(default = "default_database")]
    pub database_url: String,
    /// The admin bearer token (better: `EID_AUTHORITY_ADMIN_TOKEN`).
    #[serde(default)]
    pub admin_token: Option<String>,
    /// The signed trust list.
    pub trust_list: PathBuf,
    /// The national root key(s) (JWK files) the trust list must be signed with.
    pub trust_anchors: Vec<PathBuf>,
    /// The issuer key.
    pub signer: SignerConfig,
    /// The document signers that follow it, each used from its certificate's first day (a
    /// rollover: see [`crate::signers`]).
    #[serde(default)]
    pub successors: Vec<SignerConfig>,
    /// Credentials per batch request.
    #[serde(default)]
    pub batch_size: Option<u32>,
    /// Credential validity in days.
    #[serde(default)]
    pub credential_validity_days: Option<i64>,
    /// Offer lifetime in seconds.
    #[serde(default)]
    pub offer_ttl_seconds: Option<i64>,
    /// Entries per status list shard.
    #[serde(default)]
    pub shard_size: Option<u64>,
    /// The lists' `ttl` in seconds.
    #[serde(default)]
    pub status_ttl_seconds: Option<i64>,
    /// The lists' validity in seconds.
    #[serde(default)]
    pub status_validity_seconds: Option<i64>,
    /// Accepted key storage levels of wallet attestations.
    #[serde(default)]
    pub key_storage: Option<Vec<String>>,
    /// The pseudonym key, 64 hex digits (better: `EID_AUTHORITY_PSEUDONYM_KEY`).
    #[serde(default)]
    pub pseudonym_key: Option<String>,
    /// The secret resolving a relying party's pseudonym needs besides the admin token, at
    /// least 16 characters (better: `EID_AUTHORITY_RESOLUTION_TOKEN`); none, and no
    /// pseudonym is resolved.
    #[serde(default)]
    pub resolution_token: Option<String>,
    /// NATS JetStream, when status changes should also go there.
    #[serde(default)]
    pub nats: Option<NatsConfig>,
    /// The folder with the face models (`scripts/fetch-proofing-data`); enables remote
    /// enrolment in a build with the `face` feature.
    #[serde(default)]
    pub face_models: Option<PathBuf>,
    /// The largest face distance taken as the same person (default 0.6).
    #[serde(default)]
    pub face_threshold: Option<f64>,
    /// Read the card front by OCR in remote enrolment (needs the `ocr` feature).
    #[serde(default)]
    pub ocr: bool,
}

/// Where to publish events on NATS JetStream.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsConfig {
    /// `host:port` of a node, or of several nodes of one cluster separated by commas (the
    /// first that answers is used; another when it goes away).
    pub address: String,
    /// The stream (created when missing).
    #[serde(default = "default_stream")]
    pub stream: String,
    /// The subject prefix: events go to `<prefix>.status` and `<prefix>.wallet_notice`.
    #[serde(default = "default_subject")]
    pub subject_prefix: String,
    /// Copies of the stream the cluster keeps (1 for a single node, 3 for a cluster of
    /// three: one node may then stop without losing an event).
    #[serde(default = "default_replicas")]
    pub replicas: u8,
}

impl NatsConfig {
    /// The nodes' addresses.
    pub fn addresses(&self) -> Vec<String> {
        self.address
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

fn default_replicas() -> u8 {
    1
}

fn default_public() -> String {
    "127.0.0.1:8080".into()
}
fn default_admin() -> String {
    "127.0.0.1:8081".into()
}
fn default_database() -> String {
    "sqlite:eid-data/eid.db".into()
}
fn default_stream() -> String {
    "EID_EVENTS".into()
}
fn default_subject() -> String {
    "eid.events".into()
}

impl AuthorityConfig {
    /// Reads the TOML text, then applies the environment (`env` is `std::env::var` in the
    /// binary, a map in tests).
    pub fn parse(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut config: Self =
            toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        if let Some(v) = env("EID_AUTHORITY_ISSUER_URL") {
            config.issuer_url = v;
        }
        if let Some(v) = env("EID_AUTHORITY_PUBLIC_LISTEN") {
            config.public_listen = v;
        }
        if let Some(v) = env("EID_AUTHORITY_ADMIN_LISTEN") {
            config.admin_listen = v;
        }
        if let Some(v) = env("EID_AUTHORITY_DATABASE_URL") {
            config.database_url = v;
        }
        if let Some(v) = env("EID_AUTHORITY_ADMIN_TOKEN") {
            config.admin_token = Some(v);
        }
        if let Some(v) = env("EID_AUTHORITY_PSEUDONYM_KEY") {
            config.pseudonym_key = Some(v);
        }
        if let Some(v) = env("EID_AUTHORITY_RESOLUTION_TOKEN") {
            config.resolution_token = Some(v);
        }
        if let Some(pin) = env("EID_AUTHORITY_PKCS11_PIN") {
            for signer in std::iter::once(&mut config.signer).chain(&mut config.successors) {
                if let SignerConfig::Pkcs11 { pin: slot, .. } = signer {
                    *slot = Some(pin.clone());
                }
            }
        }
        Ok(config)
    }

    /// Reads the file at `path`, then the environment.
    pub fn load(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, env)
    }

    /// The settings, with `stored_key` as the pseudonym key when none is configured (the
    /// store's [`eid_store::Store::shared_key`]: the same for every replica and restart).
    pub fn settings(&self, stored_key: [u8; 32]) -> Result<Settings, ConfigError> {
        if !(self.issuer_url.starts_with("https://") || self.issuer_url.starts_with("http://")) {
            return Err(ConfigError::Invalid {
                name: "issuer_url",
                problem: "must be an http(s) URL".into(),
            });
        }
        let token =
            self.admin_token
                .clone()
                .filter(|t| t.len() >= 16)
                .ok_or(ConfigError::Invalid {
                    name: "admin_token",
                    problem: "set EID_AUTHORITY_ADMIN_TOKEN to a secret of at least 16 characters"
                        .into(),
                })?;
        let key = match &self.pseudonym_key {
            None => stored_key,
            Some(hex_key) => hex::decode(hex_key)
                .ok()
                .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                .ok_or(ConfigError::Invalid {
                    name: "pseudonym_key",
                    problem: "must be 64 hex digits".into(),
                })?,
        };
        let mut settings = Settings::new(&self.issuer_url, &token, key);
        if let Some(resolution) = &self.resolution_token {
            if resolution.len() < 16 || *resolution == token {
                return Err(ConfigError::Invalid {
                    name: "resolution_token",
                    problem: "must be a secret of at least 16 characters, not the admin token"
                        .into(),
                });
            }
            settings.resolution_token = Some(resolution.clone());
        }
        if let Some(name) = &self.issuer_name {
            settings.issuer_name = name.clone();
        }
        if let Some(n) = self.batch_size {
            if !(1..=32).contains(&n) {
                return Err(ConfigError::Invalid {
                    name: "batch_size",
                    problem: "must be 1 to 32".into(),
                });
            }
            settings.batch_size = n;
        }
        if let Some(days) = self.credential_validity_days {
            settings.credential_validity = Duration::days(days.clamp(1, 3650));
        }
        if let Some(s) = self.offer_ttl_seconds {
            settings.offer_ttl = Duration::seconds(s.clamp(30, 86_400));
        }
        if let Some(size) = self.shard_size {
            if size < 1024 {
                return Err(ConfigError::Invalid {
                    name: "shard_size",
                    problem: "must be at least 1024 (herd privacy wants 131072 or more)".into(),
                });
            }
            settings.shard_size = size;
        }
        if let Some(s) = self.status_ttl_seconds {
            settings.status_ttl = Duration::seconds(s.clamp(1, 86_400));
        }
        if let Some(s) = self.status_validity_seconds {
            settings.status_validity = Duration::seconds(s.clamp(60, 7 * 86_400));
        }
        if let Some(levels) = &self.key_storage {
            settings.key_storage = levels.clone();
        }
        Ok(settings)
    }
}

impl AuthorityConfig {
    /// The remote proofing the configuration asks for: `None` without `face_models`; an
    /// error when it names models but this build cannot use them.
    pub fn remote_proofing(&self) -> Result<Option<crate::proofing::RemoteProofing>, ConfigError> {
        let Some(dir) = &self.face_models else {
            return Ok(None);
        };
        #[cfg(feature = "face")]
        {
            let threshold = self.face_threshold.unwrap_or(0.6);
            if !(0.2..=1.0).contains(&threshold) {
                return Err(ConfigError::Invalid {
                    name: "face_threshold",
                    problem: "must be between 0.2 and 1.0 (dlib's default is 0.6)".into(),
                });
            }
            let invalid = |problem: String| ConfigError::Invalid {
                name: "face_models",
                problem,
            };
            let face = crate::proofing::FaceMatcher::load(dir, threshold)
                .map_err(|e| invalid(e.to_string()))?;
            crate::proofing::RemoteProofing::new(face, self.ocr)
                .map(Some)
                .map_err(|e| invalid(e.to_string()))
        }
        #[cfg(not(feature = "face"))]
        Err(ConfigError::Invalid {
            name: "face_models",
            problem: format!(
                "{} is set but this build has no face matching: build with --features face (see docs/authority.md) or remove the setting",
                dir.display()
            ),
        })
    }
}

fn read_text(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })
}

impl SignerConfig {
    /// The certificate chain (DER, DS first).
    fn chain(&self) -> Result<Vec<Vec<u8>>, ConfigError> {
        let (Self::File { certificates, .. } | Self::Pkcs11 { certificates, .. }) = self;
        let chain = eid_crypto::pem::decode_all("CERTIFICATE", &read_text(certificates)?)?;
        if chain.is_empty() {
            return Err(ConfigError::Invalid {
                name: "signer.certificates",
                problem: "the file holds no certificate".into(),
            });
        }
        Ok(chain)
    }

    /// Opens the issuer key and reads its certificate chain (DER, DS first), checking that
    /// the first certificate is a DS certificate of that very key.
    pub fn open(&self) -> Result<DocumentSigner, ConfigError> {
        let signer: Arc<dyn Signer> = match self {
            Self::File { key, algorithm, .. } => {
                let text = read_text(key)?;
                let key = SigningKey::from_pkcs8_pem_allowing(&text, &[algorithm.algorithm()])
                    .map_err(|e| ConfigError::Invalid {
                        name: "signer.key",
                        problem: format!(
                            "{}: not a PKCS#8 {} key ({e}); `algorithm` in this signer's entry says which (\"p256\", the default, or \"sm2\")",
                            key.display(),
                            match algorithm {
                                KeyAlgorithm::P256 => "P-256",
                                KeyAlgorithm::Sm2 => "SM2",
                            }
                        ),
                    })?;
                Arc::new(key)
            }
            Self::Pkcs11 {
                module,
                token,
                key_label,
                pin,
                ..
            } => Arc::new(Pkcs11Signer::open(module, token, pin_of(pin)?, key_label)?),
        };
        with_chain(signer, self.chain()?)
    }
}

fn pin_of(pin: &Option<String>) -> Result<&str, ConfigError> {
    pin.as_deref().ok_or(ConfigError::Invalid {
        name: "signer.pin",
        problem: "set EID_AUTHORITY_PKCS11_PIN".into(),
    })
}

/// The key must be the DS certificate's: a mismatch would issue unverifiable credentials.
fn with_chain(signer: Arc<dyn Signer>, chain: Vec<Vec<u8>>) -> Result<DocumentSigner, ConfigError> {
    DocumentSigner::new(signer, chain).map_err(|e| ConfigError::Invalid {
        name: "signer",
        problem: e.to_string(),
    })
}

impl AuthorityConfig {
    /// The document signers: [`Self::signer`] and its [`Self::successors`], one of them
    /// valid at `now` (an authority whose every certificate ended cannot start).
    pub fn document_signers(
        &self,
        now: time::OffsetDateTime,
    ) -> Result<DocumentSigners, ConfigError> {
        let configs: Vec<&SignerConfig> = std::iter::once(&self.signer)
            .chain(&self.successors)
            .collect();
        let mut signers = Vec::with_capacity(configs.len());
        // A PKCS#11 module is initialised once per process: the keys of one token are
        // opened together, the first time that token comes up.
        let mut tokens_opened: Vec<(&Path, &str)> = Vec::new();
        for config in &configs {
            match config {
                SignerConfig::File { .. } => signers.push(config.open()?),
                SignerConfig::Pkcs11 {
                    module, token, pin, ..
                } => {
                    if tokens_opened.contains(&(module.as_path(), token.as_str())) {
                        continue;
                    }
                    tokens_opened.push((module, token));
                    let of_token: Vec<&SignerConfig> = configs
                        .iter()
                        .copied()
                        .filter(|c| {
                            matches!(c, SignerConfig::Pkcs11 { module: m, token: t, .. } if m == module && t == token)
                        })
                        .collect();
                    let labels: Vec<&str> = of_token
                        .iter()
                        .filter_map(|c| match c {
                            SignerConfig::Pkcs11 { key_label, .. } => Some(key_label.as_str()),
                            SignerConfig::File { .. } => None,
                        })
                        .collect();
                    let keys = Pkcs11Signer::open_keys(module, token, pin_of(pin)?, &labels)?;
                    for (key, config) in keys.into_iter().zip(of_token) {
                        signers.push(with_chain(Arc::new(key), config.chain()?)?);
                    }
                }
            }
        }
        let signers = DocumentSigners::new(signers).map_err(|e| ConfigError::Invalid {
            name: "successors",
            problem: e.to_string(),
        })?;
        if signers.at(now).is_none() {
            return Err(ConfigError::Invalid {
                name: "signer",
                problem: format!(
                    "no DS certificate is valid now (the last ends {}): make a successor and list it under [[successors]]",
                    signers.last_ends()
                ),
            });
        }
        let covered = signers.covered_until(now);
        if covered < signers.last_ends() {
            return Err(ConfigError::Invalid {
                name: "successors",
                problem: format!(
                    "no DS certificate is valid from {covered} until a later one begins: the authority could sign nothing in between; give the successor an earlier notBefore"
                ),
            });
        }
        Ok(signers)
    }
}
