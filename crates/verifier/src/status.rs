//! The verifier's cache of status lists: verified when stored, consulted offline, made
//! stricter at once by pushed changes.
//!
//! A list is stored only after `eid_status::read` checked it against its own issuer's roots
//! and keys (never another issuer's), its `sub` against the URI it was fetched from, and its
//! times. How old it may be is the purpose's business (`max_status_age_seconds` in the
//! trust list), judged by the acceptance policy from the list's `iat`: a desk that is
//! offline keeps working until then, and refuses after.
//!
//! Pushed changes (the authority's SSE or NATS stream) are not signed; the cache therefore
//! lets them only make an entry *stricter* — a SUSPENDED or INVALID push applies at once,
//! so a lost phone is refused within a push's delay, while a VALID push (a reinstatement)
//! waits for the next signed list. A forged push can refuse a credential, never admit one.

use std::collections::HashMap;

use eid_core::status::{CredentialStatus, StatusListReference};
use eid_status::{ReadOptions, StatusError, StatusList, TokenTrust};
use eid_trust::{StatusFinding, VerifiedTrustList};
use time::OffsetDateTime;

/// One verified list.
#[derive(Debug, Clone)]
struct Cached {
    issuer: String,
    list: StatusList,
    issued_at: OffsetDateTime,
    expires_at: Option<OffsetDateTime>,
}

/// Verified status lists by URI.
#[derive(Debug, Clone, Default)]
pub struct StatusCache {
    lists: HashMap<String, Cached>,
}

impl StatusCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Verifies the token fetched from `uri` as a status list of `issuer`'s credentials and
    /// stores it, replacing an older one. A token older than the one held is refused (a
    /// replayed list would undo a suspension).
    pub fn store(
        &mut self,
        trust: &VerifiedTrustList,
        issuer: &str,
        uri: &str,
        token: &[u8],
        now: OffsetDateTime,
    ) -> Result<(), StatusError> {
        let (roots, keys) = trust.issuer_status_trust(issuer, now);
        let options = ReadOptions::new(
            TokenTrust {
                roots: &roots,
                keys: &keys,
            },
            now,
            uri,
        );
        let verified = eid_status::read(token, &options)?;
        if let Some(held) = self.lists.get(uri)
            && held.issuer == issuer
            && held.issued_at > verified.token.issued_at
        {
            return Err(StatusError::OlderThanHeld {
                held: held.issued_at.unix_timestamp(),
                offered: verified.token.issued_at.unix_timestamp(),
            });
        }
        self.lists.insert(
            uri.to_owned(),
            Cached {
                issuer: issuer.to_owned(),
                list: verified.token.list,
                issued_at: verified.token.issued_at,
                expires_at: verified.token.expires_at,
            },
        );
        Ok(())
    }

    /// Stores a token read from a file or handed over by an operator: the issuer that signed
    /// it (of those in the trust list) owns it, and it is kept under its own `sub` — so it
    /// answers only for credentials that name that URI, as if it had been fetched there.
    /// Returns the issuer's id.
    pub fn store_published(
        &mut self,
        trust: &VerifiedTrustList,
        token: &[u8],
        now: OffsetDateTime,
    ) -> Result<String, StatusError> {
        let mut last = StatusError::Malformed("the trust list names no issuers");
        for issuer in &trust.list().issuers {
            let (roots, keys) = trust.issuer_status_trust(&issuer.id, now);
            let options = ReadOptions::dangerous_any_subject(
                TokenTrust {
                    roots: &roots,
                    keys: &keys,
                },
                now,
            );
            match eid_status::read(token, &options) {
                Ok(verified) => {
                    let uri = verified.token.uri.clone();
                    self.store(trust, &issuer.id, &uri, token, now)?;
                    return Ok(issuer.id.clone());
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Stores a token fetched from `uri`: the listed issuer whose roots or keys sign it, with
    /// `sub` = `uri`, owns it. Returns the issuer's id.
    pub fn store_fetched(
        &mut self,
        trust: &VerifiedTrustList,
        uri: &str,
        token: &[u8],
        now: OffsetDateTime,
    ) -> Result<String, StatusError> {
        let mut last = StatusError::Malformed("the trust list names no issuers");
        for issuer in &trust.list().issuers {
            match self.store(trust, &issuer.id, uri, token, now) {
                Ok(()) => return Ok(issuer.id.clone()),
                // Held already newer: the issuer is this one; say so.
                Err(e @ StatusError::OlderThanHeld { .. }) => return Err(e),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// The lists held: URI, issuer, and when each was issued.
    pub fn held(&self) -> Vec<(String, String, OffsetDateTime)> {
        let mut held: Vec<_> = self
            .lists
            .iter()
            .map(|(uri, c)| (uri.clone(), c.issuer.clone(), c.issued_at))
            .collect();
        held.sort();
        held
    }

    /// Applies a pushed change: SUSPENDED and INVALID at once, VALID never (see the module
    /// documentation). Returns whether the cache changed. A push for a list not held is
    /// dropped: the list will be fetched, with the change in it, when first needed.
    pub fn apply_push(&mut self, uri: &str, idx: u64, status: CredentialStatus) -> bool {
        let value = match status {
            CredentialStatus::Valid => return false,
            CredentialStatus::Invalid => 1,
            CredentialStatus::Suspended => 2,
        };
        let Some(held) = self.lists.get_mut(uri) else {
            return false;
        };
        match held.list.get(idx) {
            // Revoked stays revoked; the same value needs no write.
            Ok(1) => false,
            Ok(current) if current == value => false,
            Ok(_) => held.list.set(idx, value).is_ok(),
            Err(_) => false,
        }
    }

    /// Whether the cache holds entry `idx` of list `uri` as suspended: a push saying it is
    /// valid again cannot lift that (pushes are unsigned), but says the list is worth
    /// fetching now.
    pub fn holds_suspended(&self, uri: &str, idx: u64) -> bool {
        self.lists
            .get(uri)
            .is_some_and(|held| held.list.get(idx).is_ok_and(|v| v == 2))
    }

    /// What the cache says of `reference`, for a credential of `issuer`.
    pub fn finding(
        &self,
        issuer: Option<&str>,
        reference: Option<&StatusListReference>,
        now: OffsetDateTime,
    ) -> StatusFinding {
        let Some(reference) = reference else {
            return StatusFinding::Undetermined("the credential names no status list".into());
        };
        let Some(issuer) = issuer else {
            return StatusFinding::Undetermined(
                "the credential's issuer is not in the trust list".into(),
            );
        };
        let Some(held) = self.lists.get(&reference.uri) else {
            return StatusFinding::Undetermined(format!(
                "the status list {} has not been fetched",
                reference.uri
            ));
        };
        if held.issuer != issuer {
            return StatusFinding::Undetermined(
                "the status list held for this URI is another issuer's".into(),
            );
        }
        if held.expires_at.is_some_and(|exp| exp <= now) {
            return StatusFinding::Undetermined(format!(
                "the status list {} held has expired",
                reference.uri
            ));
        }
        match held
            .list
            .get(reference.idx)
            .ok()
            .and_then(eid_status::list::credential_status)
        {
            Some(status) => StatusFinding::Checked {
                status,
                list_issued_at: held.issued_at,
            },
            // The index is left out: with the URI it names one credential.
            None => StatusFinding::Undetermined(
                "the list holds no VALID, INVALID or SUSPENDED status for the credential".into(),
            ),
        }
    }
}
