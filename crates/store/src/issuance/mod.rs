//! The authority's issuance and lifecycle state: offers, access tokens, nonces, logical
//! credentials with their status-list instances, the audit log, and proofing failures.
//!
//! The SQL here is the same text on both backends (`$n` parameters, which SQLite reads as
//! numbered names), run through [`on_pool!`]; the schemas differ only in types
//! (`migrations/*/0002_issuance.sql`). Bearer secrets (codes, tokens, nonces) arrive here
//! already hashed.

use eid_core::{Random, ResidentIdNumber};

use crate::{Backend, Partition, StoreError, WritePool, db, retrying, stored_number};

/// Runs `$body` with `$pool` bound to whichever pool the store has: the same SQL, compiled
/// once per driver.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.backend {
            Backend::Sqlite($pool) => $body,
            Backend::Postgres($pool) => $body,
        }
    };
}

/// Appends the [`AuditEntry`] `$entry` to the audit log within the transaction `$tx` (of
/// either backend).
macro_rules! insert_audit {
    ($tx:expr, $entry:expr) => {{
        let entry: &AuditEntry = $entry;
        sqlx::query(
            "INSERT INTO audit_log (at, actor, action, subject, outcome, detail)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(entry.at)
        .bind(&entry.actor)
        .bind(&entry.action)
        .bind(&entry.subject)
        .bind(&entry.outcome)
        .bind(&entry.detail)
        .execute(&mut *$tx)
        .await
        .map_err(db("writing the audit log"))
    }};
}

/// A credential's status, with the Token Status List values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialState {
    /// 0.
    Valid,
    /// 1: revoked, for good.
    Invalid,
    /// 2: suspended (lost phone), may be reinstated.
    Suspended,
}

impl CredentialState {
    /// The status list value.
    pub fn value(self) -> u8 {
        match self {
            Self::Valid => 0,
            Self::Invalid => 1,
            Self::Suspended => 2,
        }
    }

    /// `valid`, `invalid` or `suspended`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Invalid => "invalid",
            Self::Suspended => "suspended",
        }
    }

    /// The notice a wallet gets when its credentials move to this state
    /// (`credentials_valid`, `credentials_invalid`, `credentials_suspended`).
    pub fn notice(self) -> &'static str {
        match self {
            Self::Valid => "credentials_valid",
            Self::Invalid => "credentials_invalid",
            Self::Suspended => "credentials_suspended",
        }
    }

    pub(crate) fn from_value(value: i64) -> Result<Self, StoreError> {
        match value {
            0 => Ok(Self::Valid),
            1 => Ok(Self::Invalid),
            2 => Ok(Self::Suspended),
            _ => Err(StoreError::Corrupt("credential status")),
        }
    }

    /// The states a change to `self` may start from: suspend from valid, reinstate from
    /// suspended, revoke from either (revocation is final).
    pub(crate) fn allowed_from(self) -> &'static [i64] {
        match self {
            Self::Suspended => &[0],
            Self::Valid => &[2],
            Self::Invalid => &[0, 2],
        }
    }
}

/// A new offer, made after enrolment.
#[derive(Debug)]
pub struct NewOffer<'a> {
    /// SHA-256 of the pre-authorized code.
    pub code_hash: &'a str,
    /// Whose credential it offers.
    pub id_number: &'a ResidentIdNumber,
    /// The configuration ids offered.
    pub configurations: &'a [String],
    /// SHA-256 of the transaction code, when one is required.
    pub tx_code_hash: Option<&'a str>,
    /// Until when it can be redeemed (Unix seconds).
    pub expires_at: i64,
    /// The wallet (`provider/instance`) it is for, when only that wallet may redeem it.
    pub wallet: Option<&'a str>,
}

/// What redeeming a pre-authorized code came to.
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Redemption {
    /// An access token was stored for the offer's resident and configurations.
    Granted {
        /// The resident.
        id_number: ResidentIdNumber,
        /// The configurations the token may obtain.
        configurations: Vec<String>,
    },
    /// No offer has this code.
    UnknownCode,
    /// The offer expired.
    Expired,
    /// The code was already exchanged.
    AlreadyRedeemed,
    /// The offer requires a transaction code and none came.
    TxCodeRequired,
    /// The transaction code is wrong; the offer is void after too many tries.
    WrongTxCode {
        /// Tries left before the offer is void.
        attempts_left: i64,
    },
}

/// A valid access token's grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessGrant {
    /// The resident.
    pub id_number: ResidentIdNumber,
    /// The configurations it may obtain.
    pub configurations: Vec<String>,
    /// The wallet (`provider/instance`) the offer was made for, when remote enrolment
    /// bound it to one.
    pub wallet: Option<String>,
}

/// A logical credential to record: one batch for one wallet instance.
#[derive(Debug)]
pub struct NewCredential<'a> {
    /// Its id (random).
    pub id: &'a str,
    /// The resident.
    pub id_number: &'a ResidentIdNumber,
    /// The wallet provider.
    pub provider: &'a str,
    /// The wallet instance.
    pub wallet_instance: &'a str,
    /// The configuration issued.
    pub configuration: &'a str,
    /// Held for the resident in someone else's wallet; `None` for the resident's own.
    pub delegation: Option<Delegation<'a>>,
    /// Unix seconds.
    pub issued_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
}

/// A credential held for its resident in someone else's wallet.
#[derive(Debug, Clone, Copy)]
pub struct Delegation<'a> {
    /// The relationship (a parent's, a guardian's).
    pub relationship: &'a str,
    /// Whose wallet holds it: her freeze and her death reach it ([`Selector::HeldBy`]).
    pub holder: &'a ResidentIdNumber,
}

/// Which credentials a lifecycle action addresses.
#[derive(Debug, Clone, Copy)]
pub enum Selector<'a> {
    /// One logical credential (all instances of its batch).
    Credential(&'a str),
    /// Everything held by one wallet instance (a lost phone).
    WalletInstance {
        /// The wallet provider.
        provider: &'a str,
        /// The instance.
        instance: &'a str,
    },
    /// Everything issued to a resident.
    Resident(&'a ResidentIdNumber),
    /// What one wallet instance holds for others: the delegated credentials in it (its
    /// holder's phone gone, moved or re-bound, they go with it).
    HeldInWallet {
        /// The wallet provider.
        provider: &'a str,
        /// The instance.
        instance: &'a str,
    },
    /// What a resident holds for others, in whichever wallet (her freeze, her death).
    HeldBy(&'a ResidentIdNumber),
}

/// A credential as stored, without personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialRecord {
    /// Its id.
    pub id: String,
    /// The wallet provider.
    pub provider: String,
    /// The wallet instance.
    pub wallet_instance: String,
    /// The configuration.
    pub configuration: String,
    /// Held for the resident in someone else's wallet: the relationship; `None` for the
    /// resident's own.
    pub delegation: Option<String>,
    /// Its state.
    pub state: CredentialState,
    /// Its instances' status list positions: (shard, index).
    pub instances: Vec<(u64, u64)>,
}

/// One shard's entries that are not VALID, for publishing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardStatuses {
    /// The shard's size (entries).
    pub size: u64,
    /// Bumped by every change to an entry of the shard.
    pub version: u64,
    /// (index, status value) of every entry not VALID.
    pub entries: Vec<(u64, u8)>,
}

/// An audit entry. Subjects are credential ids, wallet instances or pseudonyms: never a
/// name or an identity number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Unix seconds.
    pub at: i64,
    /// Who acted (`wallet:…`, `admin`, `registry`).
    pub actor: String,
    /// What was done (`issue`, `suspend`, `enrol`, …).
    pub action: String,
    /// What it was done to.
    pub subject: String,
    /// `ok`, `refused`, …
    pub outcome: String,
    /// The reason, or what changed.
    pub detail: String,
}

/// Who made a change of credential states, and why: each credential changed gets an audit
/// entry (subject `credential:<id>`, outcome `ok`) in the change's own transaction.
#[derive(Debug, Clone, Copy)]
pub struct AuditStamp<'a> {
    /// Who acted (`officer:…`, `wallet:…`, `registry`).
    pub actor: &'a str,
    /// What was done (`suspend`, `reinstate`, `revoke`).
    pub action: &'a str,
    /// The reason.
    pub detail: &'a str,
}

impl AuditStamp<'_> {
    /// The entry for credential `id` changed at `at`.
    pub(crate) fn entry(&self, id: &str, at: i64) -> AuditEntry {
        AuditEntry {
            at,
            actor: self.actor.to_owned(),
            action: self.action.to_owned(),
            subject: format!("credential:{id}"),
            outcome: "ok".to_owned(),
            detail: self.detail.to_owned(),
        }
    }
}

pub(crate) fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

mod audit;
mod credentials;
mod offers;
