//! `eid up`: the platform in one process, on loopback.
//!
//! - each authority's public listener on its own port (base + 1 Nanning, base + 2 Hangzhou:
//!   OpenID4VCI metadata lives at the issuer URL's well-known path);
//! - everything else on the base port: the wallet providers' APIs
//!   (`/providers/<id>/api/…`), each relying party's verifier service (`/desks/<id>/…`),
//!   the authorities' admin APIs (`/authorities/<key>/admin/…`, bearer token from
//!   `eid-data/<key>/admin-token`), the trust list (`GET /trust/list`, `POST /trust/scopes`
//!   with the operator token of `eid-data/trust/operator-token`) and `GET /platform.json`,
//!   which describes all of it (what `eid demo` reads), naming the token files by absolute
//!   path: the demo finds them from any folder on this machine.
//!
//! With a [`Topology`] (`eid up --topology`, what `scripts/cluster` runs) this process is only
//! the front: the wallet providers, the pages, the trust list and `/platform.json`. The
//! authorities and the desks run as their own processes (`eid authority serve`,
//! `eid verifier serve`, replicas behind a load balancer at the topology's base URL), each
//! authority's data in the PostgreSQL shard map the topology names; a widened scope is put
//! to every desk replica (`PUT /trust-list`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use eid_authority::{Authority, Settings, admin_router, public_router};
use eid_core::{Clock, Random};
use eid_crypto::Signer;
use eid_store::Store;
use eid_verifier::Verifier;
use eid_verifier::service::{Service, ServiceConfig, keep_fresh, router};
use serde::Deserialize;
use serde_json::{Value, json};
use time::Duration;
use tokio::task::JoinSet;

mod trust;

use crate::PlatformError;
use crate::data::Data;
use crate::hosted::Provider;
use crate::http::provider_router;
use trust::{
    TrustControl, keep_desks_current, set_scope, trust_list, trust_list_json, trust_versions,
};

/// How to start.
#[derive(Debug, Clone)]
pub struct Options {
    /// The data folder (a relative path is taken from the current folder at the start).
    pub dir: PathBuf,
    /// The base port (0: any free ports, for tests).
    pub port: u16,
    /// The face models and fixtures (`EID_PROOFING_DIR`), if present.
    pub proofing: Option<PathBuf>,
    /// The services run elsewhere, when this process is only the front.
    pub topology: Option<Topology>,
    /// The algorithm of a new folder's authorities: ES256, or SM2 with SM3 (an existing
    /// folder keeps its own).
    pub algorithm: eid_crypto::Algorithm,
}

/// Where the authorities and desks run when they are not in this process (a JSON file).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    /// The base URL clients use: the load balancer's, which routes `/authorities/<key>/…` to
    /// the authorities' admin listeners, `/desks/<id>/…` to the desks' replicas and the rest
    /// to this process.
    pub base: String,
    /// Per authority (`nanning`, `hangzhou`): where it is.
    pub authorities: BTreeMap<String, ExternalAuthority>,
    /// Per desk (`nanning-hotel`, …): its replicas' own URLs, each told of a new trust list.
    pub desks: BTreeMap<String, Vec<String>>,
    /// Whether the authorities match faces (remote enrolment, lost-phone reports).
    #[serde(default)]
    pub face_matching: bool,
}

/// An authority run as its own processes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalAuthority {
    /// Its public URL (the issuer's identity, through the load balancer).
    pub public: String,
    /// Its data: a PostgreSQL shard map (`postgres://…/db postgres://…/db`), where the
    /// registry is imported when the data folder is made.
    pub database_url: String,
}

/// A shard map's URLs without their user and password: which databases, not how to log in.
fn without_credentials(map: &str) -> Vec<String> {
    map.split_whitespace()
        .map(|url| match (url.split_once("://"), url.rsplit_once('@')) {
            (Some((scheme, _)), Some((_, place))) => format!("{scheme}://{place}"),
            _ => url.to_owned(),
        })
        .collect()
}

impl Topology {
    /// Reads the file.
    pub fn read(path: &Path) -> Result<Self, PlatformError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| PlatformError::Data(format!("{}: {e}", path.display())))?;
        serde_json::from_str(&text)
            .map_err(|e| PlatformError::Data(format!("{}: {e}", path.display())))
    }

    fn authority(&self, key: &str) -> Result<&ExternalAuthority, PlatformError> {
        self.authorities
            .get(key)
            .ok_or_else(|| PlatformError::Data(format!("the topology names no authority {key}")))
    }

    /// Points each authority's folder at its database before the folder is made or opened:
    /// a folder made for SQLite, or for other databases, is refused (its data is elsewhere).
    fn prepare(&self, dir: &Path) -> Result<(), PlatformError> {
        let made = dir.join("trust/list.jws").exists();
        for plan in crate::data::AUTHORITIES {
            let wanted = &self.authority(plan.key)?.database_url;
            let file = dir.join(plan.key).join(crate::data::DATABASE_URL);
            match std::fs::read_to_string(&file) {
                Ok(kept) if without_credentials(&kept) == without_credentials(wanted) => {
                    // The same databases; a changed password is taken.
                    if kept.trim() != wanted.trim() {
                        crate::data::write(&file, wanted.trim().as_bytes(), true)?;
                    }
                }
                Ok(_) => {
                    return Err(PlatformError::Data(format!(
                        "{} keeps {}'s data in other databases than the topology names ({}): use the folder made for these",
                        dir.display(),
                        plan.key,
                        file.display()
                    )));
                }
                Err(_) if made => {
                    return Err(PlatformError::Data(format!(
                        "{} was made by `eid up` with SQLite: {}'s data is there, not in the topology's PostgreSQL; give the cluster a folder of its own",
                        dir.display(),
                        plan.key
                    )));
                }
                Err(_) => crate::data::write(&file, wanted.trim().as_bytes(), true)?,
            }
        }
        Ok(())
    }
}

/// A checks that is off on this machine, and why.
#[derive(Debug, Clone)]
pub struct CheckOff {
    /// Which check.
    pub check: &'static str,
    /// Why it is off and what turns it on.
    pub why: String,
}

/// The running platform.
pub struct Running {
    /// The base URL (`http://127.0.0.1:8400`).
    pub base: String,
    /// What is off.
    pub checks_off: Vec<CheckOff>,
    /// Whether this process is only the front ([`Topology`]).
    pub front: bool,
    /// `GET /platform.json`.
    pub description: Value,
    tasks: JoinSet<()>,
    authorities: Vec<Arc<Authority>>,
    shutdown: tokio::sync::watch::Sender<bool>,
}

/// The bounds of each of `eid up`'s three listeners (the base and two authorities'): the
/// default timeouts, and a quarter of a 1,024 open-file limit each, so that all three full
/// still leave the databases and wallet files room in the one process.
fn listener_limits() -> eid_serve::Limits {
    const PER_LISTENER: std::num::NonZeroU32 = match std::num::NonZeroU32::new(256) {
        Some(max) => max,
        None => std::num::NonZeroU32::MIN,
    };
    eid_serve::Limits::default().with_max_connections(PER_LISTENER)
}

async fn bind(port: u16) -> Result<(tokio::net::TcpListener, String), PlatformError> {
    let address = format!("127.0.0.1:{port}");
    let listener = tokio::net::TcpListener::bind(&address)
        .await
        .map_err(|source| PlatformError::Listen {
            address: address.clone(),
            source,
        })?;
    let local = listener
        .local_addr()
        .map_err(|source| PlatformError::Listen { address, source })?;
    Ok((listener, format!("http://{local}")))
}

/// The web listener's address, bound but not yet listening, and its URL.
fn reserve(port: u16) -> Result<(tokio::net::TcpSocket, String), PlatformError> {
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let failed = |source| PlatformError::Listen {
        address: address.to_string(),
        source,
    };
    let socket = tokio::net::TcpSocket::new_v4().map_err(failed)?;
    socket.set_reuseaddr(true).map_err(failed)?;
    socket.bind(address).map_err(failed)?;
    let local = socket.local_addr().map_err(failed)?;
    Ok((socket, format!("http://{local}")))
}

fn offset(base: u16, by: u16) -> u16 {
    if base == 0 { 0 } else { base + by }
}

/// An authority's public listener. Its URL is the issuer's identity — in every credential
/// (status list URIs) and in the wallets' records — so it is fixed at the first start
/// (`<key>/public-url`) and bound again on every later one.
async fn authority_listener(
    dir: &Path,
    base: u16,
    plan: crate::data::AuthorityPlan,
) -> Result<(tokio::net::TcpListener, String), PlatformError> {
    let recorded = dir.join(plan.key).join("public-url");
    if let Ok(url) = std::fs::read_to_string(&recorded) {
        let port = url
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse::<u16>().ok())
            .ok_or_else(|| {
                PlatformError::Data(format!("{} is not a URL with a port", recorded.display()))
            })?;
        let (listener, url) = bind(port).await.map_err(|e| {
            PlatformError::Data(format!(
                "{}'s port {port} (fixed at the first start, {}: its credentials point there) cannot be used: {e}",
                plan.key,
                recorded.display()
            ))
        })?;
        return Ok((listener, url));
    }
    let (listener, url) = bind(offset(base, plan.port_offset)).await?;
    std::fs::write(&recorded, &url)
        .map_err(|e| PlatformError::Data(format!("{}: {e}", recorded.display())))?;
    Ok((listener, url))
}

/// In front mode: the authority's public URL, which its credentials carry, is the one the
/// folder was made with.
fn fixed_public_url(
    dir: &Path,
    plan: crate::data::AuthorityPlan,
    url: &str,
) -> Result<(), PlatformError> {
    let recorded = dir.join(plan.key).join("public-url");
    match std::fs::read_to_string(&recorded) {
        Ok(kept) if kept.trim() == url => Ok(()),
        Ok(kept) => Err(PlatformError::Data(format!(
            "{}'s public URL was fixed at {} when the folder was made ({}: its credentials point there); the topology says {url}",
            plan.key,
            kept.trim(),
            recorded.display()
        ))),
        Err(_) => crate::data::write(&recorded, url.as_bytes(), false),
    }
}

/// Face matching for remote enrolment, if this build has it and the models are present.
fn face_matching(
    proofing: Option<&Path>,
) -> (
    Option<eid_authority::proofing::RemoteProofing>,
    Option<CheckOff>,
) {
    #[cfg(feature = "face")]
    {
        let Some(dir) = proofing.map(|d| d.join("models")).filter(|d| d.is_dir()) else {
            return (
                None,
                Some(CheckOff {
                    check: "face matching and its head-turn liveness check (remote enrolment, lost-phone reports)",
                    why: "no face models: run scripts/fetch-proofing-data and set EID_PROOFING_DIR; enrolment is at the counter, lost phones by the hotline".into(),
                }),
            );
        };
        match eid_authority::proofing::FaceMatcher::load(&dir, 0.6)
            .and_then(|face| eid_authority::proofing::RemoteProofing::new(face, false))
        {
            Ok(proofing) => (Some(proofing), None),
            Err(e) => (
                None,
                Some(CheckOff {
                    check: "face matching and its head-turn liveness check (remote enrolment, lost-phone reports)",
                    why: format!(
                        "the face models did not load ({e}); enrolment is at the counter, lost phones by the hotline"
                    ),
                }),
            ),
        }
    }
    #[cfg(not(feature = "face"))]
    {
        let _ = proofing;
        (
            None,
            Some(CheckOff {
                check: "face matching and its head-turn liveness check (remote enrolment, lost-phone reports)",
                why: "this build has no face matching (build with --features face; docs/authority.md lists the system libraries); enrolment is at the counter, lost phones by the hotline".into(),
            }),
        )
    }
}

/// The desks' face model (the person at the desk against the credential's face), if this
/// build has it and the models are present; else why not.
fn desk_faces(proofing: Option<&Path>) -> Result<Arc<dyn eid_face::CompareFaces>, String> {
    #[cfg(feature = "face")]
    {
        let dir = proofing
            .map(|d| d.join("models"))
            .filter(|d| d.is_dir())
            .ok_or("no face models: run scripts/fetch-proofing-data and set EID_PROOFING_DIR")?;
        eid_face::FaceMatcher::load(&dir, DESK_FACE_THRESHOLD)
            .map(|m| Arc::new(m) as Arc<dyn eid_face::CompareFaces>)
            .map_err(|e| format!("the face models did not load ({e})"))
    }
    #[cfg(not(feature = "face"))]
    {
        let _ = proofing;
        Err("this build has no face matching (build with --features face)".into())
    }
}

/// The largest distance between two faces a desk takes as the same person
/// (docs/face-error-rates.md), as `eid verifier serve --face-threshold` defaults to.
pub const DESK_FACE_THRESHOLD: f64 = 0.6;

/// Starts the platform; `progress` hears each step.
pub async fn start(
    options: &Options,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    progress: &mut dyn FnMut(&str),
) -> Result<Running, PlatformError> {
    let now = clock.now();
    // `platform.json` names the token files by this folder: absolute, so that `eid demo`
    // and the console find them whatever folder they run from.
    let dir = std::path::absolute(&options.dir)
        .map_err(|e| PlatformError::Data(format!("{}: {e}", options.dir.display())))?;
    let fixtures = options
        .proofing
        .as_ref()
        .map(|d| d.join("fixtures"))
        .filter(|d| d.is_dir());
    let front = options.topology.as_ref();
    if front.is_some() && options.algorithm != eid_crypto::Algorithm::Es256 {
        // scripts/cluster writes its authorities' [signer] entries without an algorithm:
        // SM2 keys there would stop every replica at its start.
        return Err(PlatformError::Data(
            "--algorithm sm2 is for a platform in one process: scripts/cluster runs P-256 authorities only".into(),
        ));
    }
    if let Some(topology) = front {
        topology.prepare(&dir)?;
    }
    // The desks of this process compare faces when the models are here; a front's desks run
    // as their own processes, with the models when the authorities have them.
    let desk_face = match front {
        None => desk_faces(options.proofing.as_deref()),
        Some(topology) if topology.face_matching => Err(String::new()),
        Some(_) => Err(
            "the desks run as their own processes here without face models (scripts/cluster up --face turns them on)".into(),
        ),
    };
    let desks_compare_faces = desk_face.is_ok() || front.is_some_and(|t| t.face_matching);
    // Bound now, listening once everything is up (scripts/cluster takes an open port for a
    // ready front): its URL — the pages' web origin — goes into a folder made now.
    let (web, listening) = reserve(options.port)?;
    let base = front.map_or(listening, |t| t.base.trim_end_matches('/').to_owned());
    // The pages' web origin (scheme://host:port), registered for the bank when the folder
    // is made.
    let web_origin = base
        .split_once("://")
        .map(|(scheme, rest)| format!("{scheme}://{}", rest.split('/').next().unwrap_or_default()))
        .filter(|o| eid_trust::model::is_web_origin(o));
    let data = Data::open_or_create(
        &dir,
        crate::data::NewFolder {
            fixtures: fixtures.as_deref(),
            faces: desks_compare_faces,
            web_origin: web_origin.as_deref(),
            algorithm: options.algorithm,
        },
        now,
        random.as_ref(),
        progress,
    )
    .await?;
    let operator_path = dir.join("trust/operator-token");
    let operator_token = match std::fs::read_to_string(&operator_path) {
        Ok(token) => token.trim().to_owned(),
        Err(_) => {
            let mut raw = [0u8; 16];
            random
                .fill(&mut raw)
                .map_err(|_| PlatformError::Data("the random source failed".into()))?;
            let token = hex::encode(raw);
            crate::data::write(&operator_path, token.as_bytes(), true)?;
            token
        }
    };
    let (face, face_off) = match front {
        None => face_matching(options.proofing.as_deref()),
        Some(topology) if topology.face_matching => (None, None),
        Some(_) => (
            None,
            Some(CheckOff {
                check: "face matching and its head-turn liveness check (remote enrolment, lost-phone reports)",
                why: "the authorities run as their own processes here without face models (scripts/cluster up --face turns them on): enrolment is at the counter, lost phones by the hotline".into(),
            }),
        ),
    };
    let mut checks_off: Vec<CheckOff> = face_off.into_iter().collect();
    if let Err(why) = &desk_face
        && !why.is_empty()
    {
        let required = data
            .trust
            .list()
            .purposes
            .iter()
            .any(|p| p.face_match_required);
        checks_off.push(CheckOff {
            check: "the face at the desk",
            why: format!(
                "{why}: the desks show the credential's face and compare none{}",
                if required {
                    "; where this folder's trust list requires a face match (it was made with the models), those desks refuse every check (face_not_supported)"
                } else {
                    "; this folder's trust list requires no face match (made without the models)"
                }
            ),
        });
    }
    let desk_face = desk_face.ok();
    checks_off.push(CheckOff {
        check: "OCR of the card's front",
        why: "not wired into eid up: the demo residents' card photographs are not card images"
            .into(),
    });
    let (shutdown, _) = tokio::sync::watch::channel(false);
    let mut tasks = JoinSet::new();
    let serve = |tasks: &mut JoinSet<()>, listener: tokio::net::TcpListener, app: Router| {
        let mut stop = shutdown.subscribe();
        tasks.spawn(eid_serve::serve(
            listener,
            app,
            listener_limits(),
            async move {
                let _ = stop.wait_for(|s| *s).await;
            },
        ));
    };

    // The authorities.
    let shared = Arc::new(RwLock::new(data.trust.clone()));
    let mut authorities = Vec::new();
    let mut authority_urls = Vec::new();
    let proofing = face.map(Arc::new);
    for keys in &data.authorities {
        if let Some(topology) = front {
            let url = topology.authority(keys.plan.key)?.public.clone();
            fixed_public_url(&dir, keys.plan, &url)?;
            authority_urls.push((keys.plan, url));
            continue;
        }
        let (listener, url) = authority_listener(&dir, options.port, keys.plan).await?;
        let store = Store::connect(&keys.database_url).await?;
        let mut settings = Settings::new(&url, &keys.admin_token, keys.pseudonym_key);
        settings.issuer_name = keys.plan.name.into();
        let mut signers = Vec::new();
        for generation in &keys.signers {
            let key = eid_crypto::SigningKey::from_pkcs8_der_allowing(
                &generation.key.to_pkcs8_der()?,
                &[generation.key.algorithm()],
            )?;
            signers.push(eid_authority::DocumentSigner::new(
                Arc::new(key),
                generation.chain.clone(),
            )?);
        }
        let signers = eid_authority::DocumentSigners::new(signers)?;
        let mut authority = Authority::new(
            settings,
            store,
            signers,
            data.trust.clone(),
            clock.clone(),
            random.clone(),
        );
        if let Some(proofing) = &proofing {
            authority = authority.with_remote_proofing(proofing.clone());
        }
        let authority = Arc::new(authority);
        serve(&mut tasks, listener, public_router(authority.clone()));
        authorities.push(authority);
        authority_urls.push((keys.plan, url));
    }

    let mut app = Router::new();
    for (authority, (plan, _)) in authorities.iter().zip(&authority_urls) {
        app = app.nest(
            &format!("/authorities/{}", plan.key),
            admin_router(authority.clone()),
        );
    }

    // The wallet providers.
    let prefectures = authority_urls
        .iter()
        .map(|(plan, url)| {
            let prefecture = plan
                .prefecture
                .parse::<u32>()
                .map_err(|_| PlatformError::Data(format!("prefecture {}", plan.prefecture)))?;
            Ok((prefecture, url.clone()))
        })
        .collect::<Result<Vec<_>, PlatformError>>()?;
    for (plan, key) in &data.providers {
        let provider = Arc::new(Provider::new(
            *plan,
            eid_crypto::SigningKey::from_pkcs8_der(&key.to_pkcs8_der()?)?,
            dir.join("providers").join(plan.id).join("wallets"),
            shared.clone(),
            prefectures.clone(),
            clock.clone(),
            random.clone(),
        ));
        app = app.nest(
            &format!("/providers/{}/api", plan.id),
            provider_router(provider),
        );
    }

    // The relying parties' verifier services, following both authorities.
    let counts = crate::web::Counts::new(clock.clone());
    let mut services = Vec::new();
    for desk in data.desks.iter().filter(|_| front.is_none()) {
        let public_url = format!("{base}/desks/{}", desk.plan.id);
        let identity = match &desk.reader {
            Some((key, certificate)) => Some((
                Arc::new(eid_crypto::SigningKey::from_pkcs8_der(
                    &key.to_pkcs8_der()?,
                )?) as Arc<dyn Signer>,
                certificate.clone(),
            )),
            None => None,
        };
        let mut verifier = Verifier::new(data.trust.clone(), desk.plan.id, now);
        if let Some(key) = &desk.pseudonym {
            verifier = verifier.with_pseudonym_key(eid_crypto::hpke::HpkeRecipient::from_parts(
                key.scalar(),
                key.public_point(),
            )?);
        }
        let service = Service::new(
            verifier,
            ServiceConfig {
                public_url,
                trust_roots: vec![data.root.verifying_key().clone()],
                status_lists: Vec::new(),
                status_shards: authority_urls
                    .iter()
                    .map(|(_, url)| format!("{url}/status/"))
                    .collect(),
                events: authority_urls
                    .iter()
                    .map(|(_, url)| format!("{url}/events"))
                    .collect(),
                identity,
                request_lifetime: Duration::minutes(5),
                face: desk_face.clone(),
            },
            clock.clone(),
            random.clone(),
        );
        let mut stop = shutdown.subscribe();
        let fresh = service.clone();
        tasks.spawn(async move {
            tokio::select! {
                () = keep_fresh(fresh) => {}
                _ = stop.wait_for(|s| *s) => {}
            }
        });
        app = app.nest(
            &format!("/desks/{}", desk.plan.id),
            router(service.clone()).layer(axum::middleware::from_fn_with_state(
                counts.clone(),
                crate::web::count_verifications,
            )),
        );
        services.push(service);
    }

    let description = json!({
        "base": base,
        "authorities": authority_urls.iter().map(|(plan, url)| json!({
            "key": plan.key,
            "issuer": plan.issuer_id,
            "name": plan.name,
            "prefecture": plan.prefecture,
            "public": url,
            "admin": format!("{base}/authorities/{}", plan.key),
            "admin_token_file": dir.join(plan.key).join("admin-token"),
            // What the trust list names for it: ES256, or SM2SM3 (`--algorithm sm2`).
            "algorithm": data
                .trust
                .list()
                .issuer(plan.issuer_id)
                .map(|issuer| issuer.algorithm.jose_name()),
            "residents_file": dir.join(plan.key).join(crate::data::RESIDENTS),
        })).collect::<Vec<_>>(),
        "providers": data.providers.iter().map(|(plan, _)| json!({
            "id": plan.id,
            "name": plan.name,
            "api": format!("{base}/providers/{}/api", plan.id),
        })).collect::<Vec<_>>(),
        "desks": data.desks.iter().map(|d| json!({
            "id": d.plan.id,
            "name": d.plan.name,
            "purpose": d.plan.purpose.as_str(),
            "region": d.plan.region,
            "channels": if d.reader.is_some() { json!(["offline_qr", "in_person", "online"]) } else { json!(["offline_qr"]) },
            "compares_faces": desks_compare_faces,
            "face_match_required": data.trust.list().purpose(d.plan.purpose).is_some_and(|p| p.face_match_required),
            "url": format!("{base}/desks/{}", d.plan.id),
            // Its Digital Credentials API requests wait in its store of requests (Redis for
            // the topology's replicas): any replica takes the answer.
            "digital_credentials": d.reader.is_some(),
        })).collect::<Vec<_>>(),
        "demo_residents": data.residents,
        "checks_off": checks_off.iter().map(|c| json!({"check": c.check, "why": c.why})).collect::<Vec<_>>(),
        "trust_list": format!("{base}/trust/list"),
        "operator_token_file": operator_path,
    });
    let desks = services.clone();
    let control = Arc::new(TrustControl {
        data: tokio::sync::Mutex::new(data),
        operator_token,
        shared,
        authorities: authorities.clone(),
        services,
        desk_replicas: front
            .map(|t| t.desks.values().flatten().cloned().collect())
            .unwrap_or_default(),
        clock: clock.clone(),
    });
    if !control.desk_replicas.is_empty() {
        let mut stop = shutdown.subscribe();
        let current = control.clone();
        tasks.spawn(async move {
            tokio::select! {
                () = keep_desks_current(current) => {}
                _ = stop.wait_for(|s| *s) => {}
            }
        });
    }
    let described = description.clone();
    app = app
        .route(
            "/platform.json",
            get(move || {
                let described = described.clone();
                async move { Json(described) }
            }),
        )
        .merge(
            Router::new()
                .route("/trust/list", get(trust_list))
                .route("/trust/list.json", get(trust_list_json))
                .route("/trust/versions", get(trust_versions))
                .route("/trust/scopes", post(set_scope))
                .with_state(control),
        );
    app = app.merge(crate::web::router(counts));
    // Alive, ready (every authority of this process reaches its store) and Prometheus: every
    // request of the base listener by route template, method and status.
    let http = eid_serve::metrics::HttpMetrics::new();
    let probed = authorities.clone();
    let scraped = http.clone();
    app = app
        .route("/health", get(|| async { Json(json!({"alive": true})) }))
        .route(
            "/ready",
            get(move || {
                let probed = probed.clone();
                async move {
                    for authority in &probed {
                        if authority.store().shard_head(0).await.is_err() {
                            return refused(
                                StatusCode::SERVICE_UNAVAILABLE,
                                "not_ready",
                                format!(
                                    "{}'s store does not answer",
                                    authority.settings().issuer_name
                                ),
                            );
                        }
                    }
                    Json(json!({"ready": true})).into_response()
                }
            }),
        )
        .route(
            "/metrics",
            get(move || {
                let scraped = scraped.clone();
                async move { eid_serve::metrics::render(&scraped, &[], &[]) }
            }),
        )
        .layer(axum::middleware::from_fn_with_state(
            http,
            eid_serve::metrics::track,
        ))
        // Outermost, so that the log line of every request carries its id (the services'
        // own routers, nested, keep it).
        .layer(axum::middleware::from_fn(eid_serve::request_id));
    // One error shape on every route: what a framework rejection answers in plain text is
    // turned into `{"error", "error_description"}` here.
    let app = app.layer(axum::middleware::map_response(eid_serve::json_errors));
    let web = web.listen(1024).map_err(|source| PlatformError::Listen {
        address: base.clone(),
        source,
    })?;
    serve(&mut tasks, web, app);
    desks_decide(&desks).await;
    Ok(Running {
        base,
        checks_off,
        front: front.is_some(),
        description,
        tasks,
        authorities,
        shutdown,
    })
}

/// How long the start waits for the desks to hold their first status lists.
const DESKS_READY: std::time::Duration = std::time::Duration::from_secs(10);

/// Waits until every desk of this process holds the first status list of each authority it
/// follows (the authorities publish it at their start, the desks fetch it within a second),
/// so that the platform is up when a desk can decide, not refuse a first credential as
/// `status_undetermined`; at most [`DESKS_READY`], then it says which it still lacks.
async fn desks_decide(desks: &[Arc<Service>]) {
    let deadline = tokio::time::Instant::now() + DESKS_READY;
    loop {
        let missing: Vec<String> = desks
            .iter()
            .flat_map(|desk| desk.status_lists_missing())
            .collect();
        if missing.is_empty() {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            tracing::warn!(target: "eid::up", missing = ?missing, "desks started without these status lists: they refuse as status_undetermined until they fetch them");
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// How long open requests may take to finish once the platform is told to stop.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// How long the databases may take to close after that.
const CLOSE_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

impl Running {
    /// Stops every listener and task, then closes the databases, within a few seconds
    /// whatever is open: requests in progress get `STOP_GRACE` (2 s) to finish, then their
    /// connections are dropped. A request that never ends (a client that does not send the
    /// body it announced) would otherwise keep the platform up.
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        let finished = tokio::time::timeout(STOP_GRACE, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        if finished.is_err() {
            self.tasks.shutdown().await;
        }
        for authority in &self.authorities {
            // SQLite keeps what was committed if the close does not finish.
            let _ = tokio::time::timeout(CLOSE_GRACE, authority.store().close()).await;
        }
    }
}

fn refused(status: StatusCode, code: &str, message: String) -> Response {
    let mut response = (
        status,
        Json(json!({ "error": code, "error_description": eid_serve::cut(&message, 300) })),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        // RFC 6750 §3: a bearer-protected resource names its scheme.
        response.headers_mut().insert(
            axum::http::header::WWW_AUTHENTICATE,
            axum::http::HeaderValue::from_static("Bearer error=\"invalid_token\""),
        );
    }
    response
}
