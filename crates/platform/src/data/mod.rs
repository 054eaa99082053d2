//! The platform's data folder (`./eid-data` by default): made on the first start, read on
//! every later one, so that a restart keeps every key, the trust list and every database.
//!
//! ```text
//! eid-data/
//!   trust/root.key.pem            the national trust-list signing key (secret)
//!   trust/list.json               the trust list as last signed (its content and version)
//!   trust/list.jws                that version, signed
//!   trust/root.jwk                its public key, for services run on their own
//!   nanning/ hangzhou/            per authority: iaca.pem, iaca.key.pem (secret), ds.pem,
//!                                 ds.key.pem (secret), chain.pem (DS then IACA, for
//!                                 `eid authority serve`) and their successors (`ds-2.pem`,
//!                                 …: `rollover`),
//!                                 admin-token, pseudonym.key (secrets), authority.db (SQLite),
//!                                 or database-url (secret) naming its PostgreSQL shard map
//!                                 instead (`scripts/cluster`)
//!   providers/<id>/attestation.key.pem   a wallet provider's attestation key (secret)
//!   providers/<id>/wallets/<instance>/   the wallets it hosts (keystore.json, wallet.db)
//!   desks/<id>/reader.key.pem, reader.pem  a relying party's reader key and certificate
//!   desks/<id>/pseudonym.key.pem  the key its pairwise pseudonyms are sealed to (secret;
//!                                 the public half is in the trust list), for a desk with one
//!   demo-residents.json           the demo residents (synthetic people) and their photographs
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};

use eid_core::identity::Portrait;
use eid_core::region::{RegionCode, Scope};
use eid_core::{Random, ResidentCard};
use eid_crypto::x509::AuthorityPki;
use eid_crypto::{Algorithm, Signer, SigningKey, pem};
use eid_store::Store;
use eid_trust::edit::{
    add_issuer, add_provider, add_relying_party, set_offline_keys, set_pseudonym_key, set_scope,
    set_web_origins,
};
use eid_trust::model::{ProviderState, WalletProvider};
use eid_trust::{AcceptanceScope, Purpose, TrustList, VerifiedTrustList};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::PlatformError;

pub mod rollover;

/// An issuing authority of the platform.
#[derive(Debug, Clone, Copy)]
pub struct AuthorityPlan {
    /// Its folder and URL segment.
    pub key: &'static str,
    /// Its id in the trust list.
    pub issuer_id: &'static str,
    /// Its name.
    pub name: &'static str,
    /// The prefecture it serves (GB/T 2260, four digits).
    pub prefecture: &'static str,
    /// Its province (two digits): the pilot scope.
    pub province: &'static str,
    /// Port offset from the platform's base port (its public listener).
    pub port_offset: u16,
}

/// Nanning (4501) and Hangzhou (3301), each accepted in its own province at first.
pub const AUTHORITIES: [AuthorityPlan; 2] = [
    AuthorityPlan {
        key: "nanning",
        issuer_id: "cn-4501",
        name: "南宁市公安局",
        prefecture: "4501",
        province: "45",
        port_offset: 1,
    },
    AuthorityPlan {
        key: "hangzhou",
        issuer_id: "cn-3301",
        name: "杭州市公安局",
        prefecture: "3301",
        province: "33",
        port_offset: 2,
    },
];

/// A wallet provider (a super-app) hosting wallets.
#[derive(Debug, Clone, Copy)]
pub struct ProviderPlan {
    /// Its id in the trust list and in URLs.
    pub id: &'static str,
    /// Its name.
    pub name: &'static str,
}

/// Two super-apps.
pub const PROVIDERS: [ProviderPlan; 2] = [
    ProviderPlan {
        id: "superapp-a",
        name: "超级应用甲 Super-app A",
    },
    ProviderPlan {
        id: "superapp-b",
        name: "超级应用乙 Super-app B",
    },
];

/// A relying party's desk.
#[derive(Debug, Clone, Copy)]
pub struct DeskPlan {
    /// Its id in the trust list and in URLs.
    pub id: &'static str,
    /// Its name.
    pub name: &'static str,
    /// Its county.
    pub region: &'static str,
    /// Its registered purpose.
    pub purpose: Purpose,
    /// Whether it has a reader certificate (in person and online); a scanner-only desk
    /// reads offline codes.
    pub reader: bool,
    /// Whether its customers' web pages are this platform's: the folder is made with the
    /// platform's web origin in its registration, so that a wallet takes an unsigned request
    /// through the Digital Credentials API from that origin to be its.
    pub web_page: bool,
    /// Whether it is registered for a pairwise pseudonym (`eid_trust::PSEUDONYM`) besides its
    /// purpose's attributes: it recognises a returning customer.
    pub pseudonym: bool,
}

/// The relying parties of the story.
pub const DESKS: [DeskPlan; 5] = [
    DeskPlan {
        id: "nanning-hotel",
        name: "南宁民族大道酒店",
        region: "450102",
        purpose: Purpose::HotelCheckIn,
        reader: true,
        web_page: false,
        pseudonym: false,
    },
    DeskPlan {
        id: "nanning-airport",
        name: "南宁吴圩国际机场",
        region: "450122",
        purpose: Purpose::AirportSecurity,
        reader: false,
        web_page: false,
        pseudonym: false,
    },
    DeskPlan {
        id: "nanning-bank",
        name: "南宁银行青秀支行",
        region: "450103",
        purpose: Purpose::BankAccountOpening,
        reader: true,
        web_page: true,
        pseudonym: true,
    },
    DeskPlan {
        id: "hangzhou-hotel",
        name: "杭州西湖酒店",
        region: "330106",
        purpose: Purpose::HotelCheckIn,
        reader: true,
        web_page: false,
        pseudonym: false,
    },
    DeskPlan {
        id: "hangzhou-station",
        name: "杭州东站",
        region: "330104",
        purpose: Purpose::RailTicketing,
        reader: false,
        web_page: false,
        pseudonym: false,
    },
];

/// A demo resident: a synthetic person of the seeded registry whose registry portrait is
/// one of the public-domain face fixtures (when they are present).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DemoResident {
    /// The authority that serves them.
    pub authority: String,
    /// Their identity number (synthetic).
    pub id_number: String,
    /// Their name (synthetic).
    pub full_name: String,
    /// The fixture that is their registry portrait, if the fixtures were present.
    pub portrait: Option<String>,
    /// Another photograph of the same face, for a selfie.
    pub selfie: Option<String>,
    /// Her live capture for remote enrolment and lost reports, where the fixtures have two
    /// photographs of her that differ by a head turn.
    #[serde(default)]
    pub capture: Option<LiveCapture>,
}

/// A live capture's pictures (fixtures) for the head-turn challenge: facing the camera,
/// then turned to her `turn`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LiveCapture {
    /// Facing the camera.
    pub facing: String,
    /// The head turned.
    pub turned: String,
    /// `"left"` or `"right"`: the way `turned` turns from `facing`.
    pub turn: String,
}

/// One authority's keys and secrets, as read from its folder.
pub struct AuthorityKeys {
    /// Which authority.
    pub plan: AuthorityPlan,
    /// Its document signers with work ahead (not ended), oldest first.
    pub signers: Vec<rollover::Generation>,
    /// The admin listener's bearer token.
    pub admin_token: String,
    /// The key of the audit log's pseudonyms.
    pub pseudonym_key: [u8; 32],
    /// Its SQLite database (`sqlite://…`).
    pub database_url: String,
}

/// A desk's reader identity.
pub struct DeskKeys {
    /// Which desk.
    pub plan: DeskPlan,
    /// The reader key and certificate (DER), for a desk with a reader.
    pub reader: Option<(SigningKey, Vec<u8>)>,
    /// The key its pairwise pseudonyms are sealed to, for a desk with one.
    pub pseudonym: Option<eid_crypto::hpke::HpkeRecipient>,
}

/// Everything the folder holds, opened.
pub struct Data {
    /// The folder.
    pub dir: PathBuf,
    /// The national trust-list key.
    pub root: SigningKey,
    /// The trust list as last signed.
    pub list: TrustList,
    /// That list, signed and verified.
    pub trust: VerifiedTrustList,
    /// Its JWS.
    pub trust_jws: String,
    /// The authorities.
    pub authorities: Vec<AuthorityKeys>,
    /// The wallet providers and their attestation keys.
    pub providers: Vec<(ProviderPlan, SigningKey)>,
    /// The desks.
    pub desks: Vec<DeskKeys>,
    /// The demo residents.
    pub residents: Vec<DemoResident>,
}

/// How long a signed trust list is valid; it is signed again when less than half is left.
const TRUST_LIST_VALIDITY: Duration = Duration::days(7);
/// Residents generated (nationwide) to seed each authority's registry with its own.
const GENERATED: u64 = 40_000;

fn io(path: &Path) -> impl Fn(std::io::Error) -> PlatformError + '_ {
    move |e| PlatformError::Data(format!("{}: {e}", path.display()))
}

fn read_text(path: &Path) -> Result<String, PlatformError> {
    std::fs::read_to_string(path).map_err(io(path))
}

/// Writes a file; secrets readable by the owner only.
pub(crate) fn write(path: &Path, bytes: &[u8], secret: bool) -> Result<(), PlatformError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    // Whole or not at all: a crash mid-write leaves the previous file.
    let tmp = path.with_extension("tmp");
    let mut file = options.open(&tmp).map_err(io(&tmp))?;
    file.write_all(bytes).map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

pub(crate) fn write_key(path: &Path, key: &SigningKey) -> Result<(), PlatformError> {
    write(path, key.to_pkcs8_pem()?.as_bytes(), true)
}

/// An authority's own IACA or DS key, of its certificate's algorithm (P-256, or SM2 in a
/// folder made so) and its certificate's key.
pub(crate) fn read_authority_key(
    path: &Path,
    certified: &eid_crypto::VerifyingKey,
) -> Result<SigningKey, PlatformError> {
    let key = SigningKey::from_pkcs8_pem_allowing(&read_text(path)?, &[certified.algorithm()])
        .map_err(|e| {
            PlatformError::Data(format!(
                "{}: not a {} key ({e})",
                path.display(),
                certified.algorithm().jose_name()
            ))
        })?;
    if key.verifying_key() != certified {
        return Err(PlatformError::Data(format!(
            "{}: not the key of its certificate",
            path.display()
        )));
    }
    Ok(key)
}

pub(crate) fn read_key(path: &Path) -> Result<SigningKey, PlatformError> {
    SigningKey::from_pkcs8_pem(&read_text(path)?)
        .map_err(|e| PlatformError::Data(format!("{}: {e}", path.display())))
}

pub(crate) fn read_certificate(path: &Path) -> Result<Vec<u8>, PlatformError> {
    pem::decode("CERTIFICATE", &read_text(path)?)
        .map_err(|e| PlatformError::Data(format!("{}: {e}", path.display())))
}

fn secret_text(random: &dyn Random, bytes: usize) -> Result<String, PlatformError> {
    let mut raw = vec![0u8; bytes];
    random
        .fill(&mut raw)
        .map_err(|_| PlatformError::Data("the random source failed".into()))?;
    Ok(hex::encode(raw))
}

/// What a new folder is made with (an existing folder keeps what it was made with).
#[derive(Debug, Clone, Copy)]
pub struct NewFolder<'a> {
    /// The folder of the face fixtures (`EID_PROOFING_DIR/fixtures`), if present: the demo
    /// residents' portraits.
    pub fixtures: Option<&'a Path>,
    /// Whether the trust list requires the catalogue's face matches: the desks can compare
    /// faces and the authorities make face templates.
    pub faces: bool,
    /// The pages' web origin, registered for the bank.
    pub web_origin: Option<&'a str>,
    /// The authorities' keys: ES256, or SM2 with SM3.
    pub algorithm: Algorithm,
}

impl Data {
    /// Opens the folder, making it first as `new` says when it holds no platform yet.
    /// `progress` hears what is being made.
    pub async fn open_or_create(
        dir: &Path,
        new: NewFolder<'_>,
        now: OffsetDateTime,
        random: &dyn Random,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Self, PlatformError> {
        if !dir.join("trust/list.jws").exists() {
            progress(&format!(
                "first start: making the platform in {}",
                dir.display()
            ));
            create(dir, new, now, random, progress).await?;
        }
        Self::open(dir, now, random, progress)
    }

    /// Opens an existing folder; rolls keys over where their schedule says
    /// ([`rollover`]), and signs the trust list again when they changed it or it
    /// nears its end.
    pub fn open(
        dir: &Path,
        now: OffsetDateTime,
        random: &dyn Random,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Self, PlatformError> {
        let root = read_key(&dir.join("trust/root.key.pem"))?;
        let jws = read_text(&dir.join("trust/list.jws"))?;
        let anchors = [root.verifying_key().clone()];
        // The signed list is the platform's list: `list.json`, its readable copy, is written
        // first, so a crash between the two leaves it ahead, and it is not read back.
        let trust = match VerifiedTrustList::read(&jws, &anchors, now, None) {
            Ok(trust) => trust,
            Err(e) => {
                // Expired while the platform was down: read as of its own issue, and signed
                // again as the next version below (signing it here, unsaved, would give a
                // second list the version of the next).
                let issued = jws
                    .split('.')
                    .nth(1)
                    .and_then(|payload| eid_crypto::b64url_decode(payload).ok())
                    .and_then(|json| serde_json::from_slice::<TrustList>(&json).ok())
                    .filter(|list| list.next_update <= now)
                    .map(|list| list.issued_at);
                match issued {
                    Some(at) => VerifiedTrustList::read(&jws, &anchors, at, None)?,
                    None => return Err(e.into()),
                }
            }
        };
        let mut data = Self {
            dir: dir.to_owned(),
            list: trust.list().clone(),
            trust,
            trust_jws: jws,
            root,
            authorities: Vec::new(),
            providers: Vec::new(),
            desks: Vec::new(),
            residents: serde_json::from_str(&read_text(&dir.join("demo-residents.json"))?)
                .map_err(|e| PlatformError::Data(format!("demo-residents.json: {e}")))?,
        };
        if !dir.join("trust/root.jwk").exists() {
            write_root_jwk(dir, &data.root)?;
        }
        if !dir.join(HISTORY).exists() {
            // A folder from before the history was kept: it starts with the current version.
            record_version(dir, &data.list)?;
        }
        let mut list = data.list.clone();
        let mut rolled = false;
        for plan in &AUTHORITIES {
            rolled |=
                rollover::authority(&dir.join(plan.key), plan, &mut list, now, random, progress)?;
        }
        for plan in DESKS.iter().filter(|d| d.reader) {
            if rollover::reader(
                &dir.join("desks").join(plan.id),
                plan,
                &mut list,
                now,
                random,
            )? {
                progress(&format!("{}: a new reader certificate", plan.name));
                rolled = true;
            }
        }
        // Each desk with a pseudonym has its key, and the list has its public half: a folder
        // made before pseudonyms were sealed gets one; a start stopped between writing the key
        // and signing the list lists it now.
        for plan in DESKS.iter().filter(|d| d.pseudonym) {
            let folder = dir.join("desks").join(plan.id);
            if !folder.join(PSEUDONYM_KEY).exists() {
                new_pseudonym_key(&folder, plan, &mut list)?;
                progress(&format!("{}: a key for its pseudonyms", plan.name));
                rolled = true;
                continue;
            }
            let public = read_key(&folder.join(PSEUDONYM_KEY))?
                .verifying_key()
                .to_jwk();
            let listed = list
                .relying_party(plan.id)
                .and_then(|rp| rp.pseudonym_key.as_ref());
            if listed != Some(&public) {
                set_pseudonym_key(&mut list, plan.id, public)?;
                rolled = true;
            }
        }
        if rolled || data.list.next_update - now < TRUST_LIST_VALIDITY / 2 {
            data.publish(list, now)?;
        }
        for plan in AUTHORITIES {
            let folder = dir.join(plan.key);
            let mut pseudonym_key = [0u8; 32];
            hex::decode_to_slice(
                read_text(&folder.join("pseudonym.key"))?.trim(),
                &mut pseudonym_key,
            )
            .map_err(|e| PlatformError::Data(format!("{}/pseudonym.key: {e}", plan.key)))?;
            let signers = rollover::generations(&folder)?
                .into_iter()
                .filter(|s| s.not_after > now)
                .collect();
            data.authorities.push(AuthorityKeys {
                plan,
                signers,
                admin_token: read_text(&folder.join("admin-token"))?.trim().to_owned(),
                pseudonym_key,
                database_url: database_url(&folder)?,
            });
        }
        for plan in PROVIDERS {
            let key = read_key(
                &dir.join("providers")
                    .join(plan.id)
                    .join("attestation.key.pem"),
            )?;
            data.providers.push((plan, key));
        }
        for plan in DESKS {
            let folder = dir.join("desks").join(plan.id);
            let reader = if plan.reader {
                Some((
                    read_key(&folder.join("reader.key.pem"))?,
                    read_certificate(&folder.join("reader.pem"))?,
                ))
            } else {
                None
            };
            let pseudonym = if plan.pseudonym {
                let path = folder.join(PSEUDONYM_KEY);
                Some(
                    eid_crypto::hpke::HpkeRecipient::from_pkcs8_pem(&read_text(&path)?)
                        .map_err(|e| PlatformError::Data(format!("{}: {e}", path.display())))?,
                )
            } else {
                None
            };
            data.desks.push(DeskKeys {
                plan,
                reader,
                pseudonym,
            });
        }
        Ok(data)
    }

    /// Signs `list` as the next version, keeps it in the folder and makes it current.
    pub fn publish(&mut self, list: TrustList, now: OffsetDateTime) -> Result<(), PlatformError> {
        let (jws, signed) = eid_trust::signed::sign(&list, &self.root, now, TRUST_LIST_VALIDITY)?;
        let trust = VerifiedTrustList::read(
            &jws,
            &[self.root.verifying_key().clone()],
            now,
            Some(&self.trust),
        )?;
        save_list(&self.dir, &signed, &jws)?;
        self.list = signed;
        self.trust = trust;
        self.trust_jws = jws;
        Ok(())
    }
}

/// A desk's pseudonym key, in its folder.
const PSEUDONYM_KEY: &str = "pseudonym.key.pem";

/// Makes desk `plan`'s pseudonym key in `folder` and registers its public half in `list`.
fn new_pseudonym_key(
    folder: &Path,
    plan: &DeskPlan,
    list: &mut TrustList,
) -> Result<(), PlatformError> {
    let key = SigningKey::generate()?;
    write_key(&folder.join(PSEUDONYM_KEY), &key)?;
    set_pseudonym_key(list, plan.id, key.verifying_key().to_jwk())?;
    Ok(())
}

/// Where an authority's data lives: the PostgreSQL shard map its `database-url` names, or
/// its folder's SQLite database.
pub fn database_url(folder: &Path) -> Result<String, PlatformError> {
    match std::fs::read_to_string(folder.join(DATABASE_URL)) {
        Ok(url) => Ok(url.trim().to_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(format!(
            "sqlite://{}",
            folder.join("authority.db").display()
        )),
        Err(e) => Err(PlatformError::Data(format!(
            "{}: {e}",
            folder.join(DATABASE_URL).display()
        ))),
    }
}

/// The file naming an authority's database when it is not the folder's SQLite.
pub const DATABASE_URL: &str = "database-url";

/// `trust/root.jwk`: the trust list's verification key, as services read it.
fn write_root_jwk(dir: &Path, root: &SigningKey) -> Result<(), PlatformError> {
    let jwk = serde_json::to_vec_pretty(&root.verifying_key().to_jwk())
        .map_err(|e| PlatformError::Data(format!("trust/root.jwk: {e}")))?;
    write(&dir.join("trust/root.jwk"), &jwk, false)
}

fn save_list(dir: &Path, list: &TrustList, jws: &str) -> Result<(), PlatformError> {
    let json = serde_json::to_vec_pretty(list)
        .map_err(|e| PlatformError::Data(format!("trust list: {e}")))?;
    // The JWS after the list: its presence marks a complete folder.
    write(&dir.join("trust/list.json"), &json, false)?;
    write(&dir.join("trust/list.jws"), jws.as_bytes(), false)?;
    record_version(dir, list)
}

/// Where every signed version is listed, one JSON line each.
pub(crate) const HISTORY: &str = "trust/history.jsonl";
/// In an authority's folder: its residents with a valid card, one JSON object a line.
pub(crate) const RESIDENTS: &str = "residents.jsonl";

/// Appends a signed version to the history: its number, when, each issuer's regions.
fn record_version(dir: &Path, list: &TrustList) -> Result<(), PlatformError> {
    let line = serde_json::json!({
        "version": list.version,
        "issued_at": list.issued_at.unix_timestamp(),
        "scopes": list.issuers.iter().map(|i| serde_json::json!({
            "issuer": i.id,
            "regions": i.scopes.iter().map(|s| s.region.to_string()).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    let history = dir.join(HISTORY);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&history)
        .map_err(io(&history))?;
    writeln!(file, "{line}").map_err(io(&history))
}

/// Makes every key, certificate, the trust list (version 1: each authority accepted in its
/// own province) and the registries.
async fn create(
    dir: &Path,
    new: NewFolder<'_>,
    now: OffsetDateTime,
    random: &dyn Random,
    progress: &mut dyn FnMut(&str),
) -> Result<(), PlatformError> {
    let NewFolder {
        fixtures,
        faces,
        web_origin,
        algorithm,
    } = new;
    // The folder holds keys and personal data: the owner's only.
    let mut folder = std::fs::DirBuilder::new();
    folder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut folder, 0o700);
    folder.create(dir).map_err(io(dir))?;
    let mut list = TrustList::new(now);
    if !faces {
        // Desks that cannot compare faces would refuse every credential where the catalogue
        // requires a match: this platform's operator waives it (`eid up` says so).
        list.waive_face_match();
    }
    let since = now - Duration::days(1);
    let mut residents = Vec::new();
    for (n, plan) in AUTHORITIES.iter().enumerate() {
        progress(&format!("{}: certificates and registry", plan.name));
        let folder = dir.join(plan.key);
        let pki = AuthorityPki::generate_for(
            algorithm,
            plan.name,
            "CN",
            &format!("https://{}.eid.example", plan.key),
            since,
            (rollover::IACA_DAYS, rollover::DS_DAYS),
            random,
        )?;
        write_key(&folder.join("iaca.key.pem"), &pki.iaca_key)?;
        write(
            &folder.join("iaca.pem"),
            pem::encode("CERTIFICATE", &pki.iaca.0).as_bytes(),
            false,
        )?;
        write(
            &folder.join("ds.pem"),
            pem::encode("CERTIFICATE", &pki.ds.0).as_bytes(),
            false,
        )?;
        write_key(&folder.join("ds.key.pem"), &pki.ds_key)?;
        write(
            &folder.join("admin-token"),
            secret_text(random, 16)?.as_bytes(),
            true,
        )?;
        write(
            &folder.join("pseudonym.key"),
            secret_text(random, 32)?.as_bytes(),
            true,
        )?;
        add_issuer(
            &mut list,
            plan.issuer_id,
            plan.name,
            std::slice::from_ref(&pki.iaca.0),
            Vec::new(),
            now,
            false,
        )?;
        set_offline_keys(
            &mut list,
            plan.issuer_id,
            vec![pki.ds_key.verifying_key().to_jwk()],
        )?;
        set_scope(
            &mut list,
            plan.issuer_id,
            AcceptanceScope {
                region: Scope::parse(plan.province)?,
                purposes: Purpose::ALL.to_vec(),
                valid_from: since,
                valid_until: None,
            },
            false,
        )?;
        let demo = seed_registry(&folder, *plan, n, fixtures, now).await?;
        residents.extend(demo);
    }
    for plan in PROVIDERS {
        let key = SigningKey::generate()?;
        write_key(
            &dir.join("providers")
                .join(plan.id)
                .join("attestation.key.pem"),
            &key,
        )?;
        add_provider(
            &mut list,
            WalletProvider {
                id: plan.id.into(),
                name: plan.name.into(),
                attestation_keys: vec![key.verifying_key().to_jwk()],
                state: ProviderState::Active,
            },
            false,
        )?;
    }
    for plan in DESKS {
        let folder = dir.join("desks").join(plan.id);
        let certificate = if plan.reader {
            let (key, certificate) = rollover::new_reader(&plan, since, random)?;
            rollover::write_reader(&folder, &key, &certificate)?;
            Some(certificate)
        } else {
            None
        };
        // Where the desk has a pseudonym, the catalogue's full set with it; else the default
        // full set, which leaves it out.
        let attributes = plan
            .pseudonym
            .then(|| list.purpose(plan.purpose).map(|p| p.attributes.clone()))
            .flatten();
        add_relying_party(
            &mut list,
            plan.id,
            plan.name,
            RegionCode::parse(plan.region)?,
            &[(plan.purpose, attributes)],
            certificate.as_deref(),
            false,
        )?;
        if let Some(origin) = web_origin.filter(|_| plan.web_page) {
            set_web_origins(&mut list, plan.id, &[origin.to_owned()])?;
        }
        if plan.pseudonym {
            new_pseudonym_key(&folder, &plan, &mut list)?;
        }
    }
    let json = serde_json::to_vec_pretty(&residents)
        .map_err(|e| PlatformError::Data(format!("demo residents: {e}")))?;
    write(&dir.join("demo-residents.json"), &json, false)?;
    let root = SigningKey::generate()?;
    write_key(&dir.join("trust/root.key.pem"), &root)?;
    let (jws, signed) = eid_trust::signed::sign(&list, &root, now, TRUST_LIST_VALIDITY)?;
    save_list(dir, &signed, &jws)
}

/// A photograph as the registry keeps a card portrait: at most 358 × 441 pixels (the
/// card's photo size), JPEG — tens of kilobytes, not the hundreds of a camera's file
/// (a credential carries it).
fn card_portrait(jpeg: &[u8]) -> Result<Vec<u8>, image::ImageError> {
    let picture = image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg)?
        .thumbnail(358, 441)
        .to_rgb8();
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85).encode_image(&picture)?;
    Ok(out)
}

/// The demo residents' photographs per authority: registry portrait, selfie, and a live
/// capture (facing, turned, the way) where the fixtures have one. `obama3.jpg` faces the
/// camera (yaw ≈ 0.11) and `obama2.jpg` shows him turned to his right (≈ −0.14): two
/// photographs standing in for a capture's two frames (`crates/face/tests/fixtures.rs`). The
/// fixtures hold one photograph of Biden: no capture.
type Photographs = (&'static str, &'static str, Option<[&'static str; 3]>);
const PHOTOGRAPHS: [Photographs; 2] = [
    (
        "obama.jpg",
        "obama2.jpg",
        Some(["obama3.jpg", "obama2.jpg", "right"]),
    ),
    ("biden.jpg", "biden.jpg", None),
];

/// Fills an authority's registry with the synthetic residents of its prefecture (from a
/// nationwide generation) and makes the first adult with a valid card its demo resident,
/// with a fixture as registry portrait.
async fn seed_registry(
    folder: &Path,
    plan: AuthorityPlan,
    n: usize,
    fixtures: Option<&Path>,
    now: OffsetDateTime,
) -> Result<Option<DemoResident>, PlatformError> {
    let mut jsonl = Vec::new();
    eid_registry::generate::Generator::new(7 + n as u64, now.date())
        .write_jsonl(GENERATED, &mut jsonl, &mut |_| {})
        .map_err(|e| PlatformError::Data(format!("generating the registry: {e}")))?;
    let mut cards = Vec::new();
    for line in jsonl.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let card: ResidentCard = serde_json::from_slice(line)
            .map_err(|e| PlatformError::Data(format!("generated record: {e}")))?;
        if card
            .residence_region
            .to_string()
            .starts_with(plan.prefecture)
            && card.id_number.expose().starts_with(plan.prefecture)
        {
            cards.push(card);
        }
    }
    let (portrait, selfie, capture) = PHOTOGRAPHS[n % PHOTOGRAPHS.len()];
    let today = now.date();
    // Her card outlives the first IACA root, so that the story plays across its rollover
    // (`eid up` with a clock moved years on).
    let outlives = today + Duration::days(rollover::IACA_DAYS + 365);
    let demo = cards.iter().position(|c| {
        c.card_expiry.is_valid_on(today)
            && c.card_expiry.is_valid_on(outlives)
            && (today.year() - c.birth_date.year()) >= 20
    });
    // With the fixtures every resident has a registry portrait, as every real one has: the
    // demo resident's, for want of other faces (desks that require a face match refuse a
    // credential without one, and no offline code is made for them without it).
    let photographed = match (demo, fixtures) {
        (Some(_), Some(fixtures)) => {
            let path = fixtures.join(portrait);
            let jpeg = card_portrait(&std::fs::read(&path).map_err(io(&path))?)
                .map_err(|e| PlatformError::Data(format!("{}: {e}", path.display())))?;
            let portrait = Portrait::from_jpeg(jpeg)
                .map_err(|e| PlatformError::Data(format!("{}: {e}", path.display())))?;
            for card in &mut cards {
                card.portrait = Some(portrait.clone());
            }
            true
        }
        _ => false,
    };
    let store = Store::connect(&database_url(folder)?).await?;
    store.import_residents(&cards, now).await?;
    store.close().await;
    // For `eid bench load` on this machine: whom counter enrolment may name (synthetic
    // residents with a valid card; owner-readable only, like the registry itself).
    let mut listed = Vec::new();
    for card in cards.iter().filter(|c| c.card_expiry.is_valid_on(today)) {
        let line = serde_json::json!({
            "id_number": card.id_number.expose(),
            "full_name": card.full_name,
        });
        listed.extend_from_slice(line.to_string().as_bytes());
        listed.push(b'\n');
    }
    write(&folder.join(RESIDENTS), &listed, true)?;
    Ok(demo.map(|i| DemoResident {
        authority: plan.key.into(),
        id_number: cards[i].id_number.expose().to_owned(),
        full_name: cards[i].full_name.clone(),
        portrait: photographed.then(|| portrait.to_owned()),
        selfie: photographed.then(|| selfie.to_owned()),
        capture: capture
            .filter(|_| photographed)
            .map(|[facing, turned, turn]| LiveCapture {
                facing: facing.into(),
                turned: turned.into(),
                turn: turn.into(),
            }),
    }))
}
