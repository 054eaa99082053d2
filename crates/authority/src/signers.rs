//! The authority's document signers over the years: the one it issues with and signs its
//! status lists with today, and the successors made ahead of time. A DS certificate lives
//! 457 days at most (ISO/IEC 18013-5 Annex B), so an authority that keeps issuing rolls over
//! to a new key before the current one ends; credentials signed by either keep verifying
//! until they expire, because a credential never outlives the certificate that signed it.

use std::sync::Arc;

use eid_crypto::Signer;
use eid_crypto::x509::{CertificateError, document_signer_terms, verify_document_signer};
use eid_trust::VerifiedTrustList;
use time::{Duration, OffsetDateTime};

/// How long after its certificate's first day a successor takes over: a verifier whose
/// clock is behind by less than this still finds the signing certificate valid.
pub const HANDOVER_GRACE: Duration = Duration::hours(1);

/// A document signer: a key and its certificate chain (DER, DS first), with the DS
/// certificate's validity.
#[derive(Clone)]
pub struct DocumentSigner {
    /// Its place among the authority's signers, by first day.
    position: usize,
    signer: Arc<dyn Signer>,
    x5chain: Vec<Vec<u8>>,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
}

impl std::fmt::Debug for DocumentSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocumentSigner")
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

/// Why document signers cannot be used as given.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignerError {
    /// No certificate came with the key.
    #[error("a document signer needs its certificate chain (DS first)")]
    NoCertificate,
    /// The first certificate is not a DS certificate by the profile of Annex B.
    #[error("the DS certificate: {0}")]
    Certificate(#[from] CertificateError),
    /// The key is not the DS certificate's: it would issue credentials no one can verify.
    #[error("the key is not the one of its DS certificate")]
    KeyMismatch,
    /// No document signer at all.
    #[error("no document signer is configured")]
    None,
    /// Two document signers share a key: a successor needs a key of its own.
    #[error("two document signers share one key: a successor needs a new key")]
    SameKey,
    /// The signers are not all of one algorithm: verifiers read an issuer's keys as of the
    /// one algorithm the trust list names for it.
    #[error(
        "the document signers are of two algorithms ({0} and {1}): an authority's keys are of one"
    )]
    TwoAlgorithms(&'static str, &'static str),
    /// Two certificates begin at the same moment: which one signs would depend on the
    /// order of the configuration.
    #[error(
        "two DS certificates begin at the same moment ({0}): give the successor a later notBefore"
    )]
    SameStart(OffsetDateTime),
    /// The key does not make signatures its certificate's key verifies (a token holding
    /// two keys under one label, a broken module).
    #[error("the key's signature does not verify with its DS certificate's key: {0}")]
    DoesNotSign(String),
}

impl DocumentSigner {
    /// `signer` with its chain: the first certificate must be a DS certificate of that very
    /// key (checked against the DS profile as of its own first day).
    pub fn new(signer: Arc<dyn Signer>, x5chain: Vec<Vec<u8>>) -> Result<Self, SignerError> {
        let ds = x5chain.first().ok_or(SignerError::NoCertificate)?;
        let (key, not_before, not_after) = document_signer_terms(ds)?;
        if &key != signer.verifying_key() {
            return Err(SignerError::KeyMismatch);
        }
        // The key object the token reports may not be the one that signs: sign once and
        // check with the certificate's key.
        let probe = b"eid document signer check";
        let signature = signer
            .sign(probe)
            .map_err(|e| SignerError::DoesNotSign(e.to_string()))?;
        key.verify(probe, &signature)
            .map_err(|e| SignerError::DoesNotSign(e.to_string()))?;
        Ok(Self {
            position: 0,
            signer,
            x5chain,
            not_before,
            not_after,
        })
    }

    /// The key.
    pub fn signer(&self) -> &dyn Signer {
        self.signer.as_ref()
    }

    /// The certificate chain (DER, DS first) that goes in credentials and status lists.
    pub fn x5chain(&self) -> &[Vec<u8>] {
        &self.x5chain
    }

    /// The DS certificate's first day.
    pub fn not_before(&self) -> OffsetDateTime {
        self.not_before
    }

    /// The DS certificate's last moment: no credential it signs is valid beyond it.
    pub fn not_after(&self) -> OffsetDateTime {
        self.not_after
    }

    /// Its place among the authority's signers, ordered by first day (0: the oldest).
    pub fn position(&self) -> usize {
        self.position
    }

    fn valid_at(&self, now: OffsetDateTime) -> bool {
        self.not_before <= now && now < self.not_after
    }
}

/// The authority's document signers, ordered by their certificates' first day.
#[derive(Clone, Debug)]
pub struct DocumentSigners(Vec<DocumentSigner>);

impl DocumentSigners {
    /// The signers given, in any order; each key once.
    pub fn new(mut signers: Vec<DocumentSigner>) -> Result<Self, SignerError> {
        if signers.is_empty() {
            return Err(SignerError::None);
        }
        for (i, a) in signers.iter().enumerate() {
            if signers[i + 1..]
                .iter()
                .any(|b| a.signer.verifying_key() == b.signer.verifying_key())
            {
                return Err(SignerError::SameKey);
            }
            if a.signer.algorithm() != signers[0].signer.algorithm() {
                return Err(SignerError::TwoAlgorithms(
                    signers[0].signer.algorithm().jose_name(),
                    a.signer.algorithm().jose_name(),
                ));
            }
        }
        signers.sort_by_key(|s| (s.not_before, s.not_after));
        if let Some(pair) = signers
            .windows(2)
            .find(|pair| pair[0].not_before == pair[1].not_before)
        {
            return Err(SignerError::SameStart(pair[0].not_before));
        }
        for (position, signer) in signers.iter_mut().enumerate() {
            signer.position = position;
        }
        Ok(Self(signers))
    }

    /// The algorithm every signer uses.
    pub fn algorithm(&self) -> eid_crypto::Algorithm {
        self.0[0].signer.algorithm()
    }

    /// One signer with its chain.
    pub fn one(signer: Arc<dyn Signer>, x5chain: Vec<Vec<u8>>) -> Result<Self, SignerError> {
        Self::new(vec![DocumentSigner::new(signer, x5chain)?])
    }

    /// The signer to use at `now`: of those whose certificate is valid, the one that began
    /// last, once it has been valid for [`HANDOVER_GRACE`] — a successor takes over an hour
    /// into its first day, and the one it follows signs nothing new after that (before
    /// then, or with no other valid, the newest valid one). `None` when no certificate is
    /// valid at `now`.
    pub fn at(&self, now: OffsetDateTime) -> Option<&DocumentSigner> {
        let mut valid = self.0.iter().rev().filter(|s| s.valid_at(now));
        let newest = valid.clone().next();
        valid
            .find(|s| s.not_before + HANDOVER_GRACE <= now)
            .or(newest)
    }

    /// Until when, from `now`, some certificate is valid without a break: past it the
    /// authority can issue nothing and sign no status list. `now` itself when none is.
    pub fn covered_until(&self, now: OffsetDateTime) -> OffsetDateTime {
        let mut until = now;
        loop {
            let further = self
                .0
                .iter()
                .filter(|s| s.valid_at(until))
                .map(|s| s.not_after)
                .max();
            match further {
                Some(end) if end > until => until = end,
                _ => return until,
            }
        }
    }

    /// When the last of them ends: past this the authority cannot issue or sign a status
    /// list, so a successor must be in place well before.
    pub fn last_ends(&self) -> OffsetDateTime {
        self.0
            .iter()
            .map(|s| s.not_after)
            .max()
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// What verifiers under `trust` would refuse of the signers with work ahead (not ended
    /// at `now`), one sentence each: a DS certificate that chains to no IACA of the list
    /// (as of its first day, or now), or a key missing from its issuer's offline keys when
    /// the issuer lists any (desks would refuse its offline codes); each with the first day
    /// of the certificate concerned. Empty when all is well.
    pub fn refused_by(
        &self,
        trust: &VerifiedTrustList,
        now: OffsetDateTime,
    ) -> Vec<(OffsetDateTime, String)> {
        let mut problems = Vec::new();
        for signer in self.0.iter().filter(|s| s.not_after > now) {
            let at = signer.not_before.max(now);
            let (roots, issuers) = trust.roots(at);
            let Some(ds) = signer.x5chain.first() else {
                continue;
            };
            match verify_document_signer(ds, &roots, at) {
                Err(e) => problems.push((
                    signer.not_before,
                    format!(
                        "the DS certificate beginning {} chains to no IACA root of the trust list ({e})",
                        signer.not_before
                    ),
                )),
                Ok(verified) => {
                    let issuer = issuers
                        .get(verified.iaca_index)
                        .and_then(|id| trust.list().issuer(id));
                    if let Some(issuer) = issuer
                        && !issuer.offline_keys.is_empty()
                        && !issuer
                            .offline_keys
                            .iter()
                            .filter_map(|jwk| jwk.verifying_key_allowing(&[issuer.algorithm]).ok())
                            .any(|key| &key == signer.signer.verifying_key())
                    {
                        problems.push((
                            signer.not_before,
                            format!(
                                "the key of the DS certificate beginning {} is not among the offline keys of {} in the trust list: desks would refuse its offline codes",
                                signer.not_before, issuer.id
                            ),
                        ));
                    }
                }
            }
        }
        problems
    }

    /// All of them, by first day.
    pub fn all(&self) -> &[DocumentSigner] {
        &self.0
    }
}
