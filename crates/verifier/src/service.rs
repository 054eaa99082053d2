//! The verifier as a service (`eid verifier serve`): one relying party's desk, gate or
//! website back end, on every channel, keeping its trust and status lists fresh.
//!
//! | route | what |
//! |---|---|
//! | `POST /verify/offline?purpose=P` | an offline QR code's bytes (`application/octet-stream`, or base64url text) → report |
//! | `POST /verify/in-person` | `{"engagement": "mdoc:…", "purpose", ?"attributes"}`: connects to the phone over TCP, runs the ISO 18013-5 exchange → report |
//! | `POST /vp/requests` | `{"purpose", ?"attributes"}` → `{"id", "result", "invocation", "request_uri"}` (OpenID4VP); `result` is the requester's secret path to the outcome |
//! | `GET /vp/request/{id}` | the signed request object (`application/oauth-authz-req+jwt`) |
//! | `POST /vp/response` | the wallet's `direct_post.jwt` answer (`response=<JWE>`, or an error response as plain `error` and `state` fields) → `{"accepted"}`; a refused or declined answer leaves the request open (up to 5 answers), an accepted one closes it |
//! | `GET /vp/results/{handle}` | `{"status": "pending"}`, or `"accepted"` / `"refused"` with the report |
//! | `PUT /trust-list` | a newer signed trust list (checked against the root keys and the one held) |
//! | `GET /health` | relying party, trust list version, status lists held and their age |
//! | `GET /ready` | 200 when it can decide (trust list in force, a status list held from each source followed), else 503 saying what is missing |
//! | `GET /metrics` | Prometheus: requests by route template, verifications by channel and outcome code, trust list version, status lists held |
//!
//! Every report is the [`Report`] JSON, with HTTP 200 whether accepted or refused; a request
//! that is not one (unknown purpose, unreadable body) gets 400 with `{"error", "error_description"}`
//! (the shape every eid service answers errors in).
//!
//! [`keep_fresh`] runs beside the routes: it fetches the configured status lists at start
//! and every half of the strictest staleness bound among the relying party's purposes (at
//! least 5 s, at most an hour) — every second while one is missing (not published yet, or
//! unreachable) — and follows the authority's pushed changes, reconnecting
//! with a growing pause (1 s to 30 s) and refetching every list after each reconnection —
//! pushes sent while disconnected are lost, the lists have them.

use std::sync::{Arc, RwLock};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use eid_core::{Clock, Random};
use eid_crypto::{Signer, VerifyingKey};
use eid_trust::{Purpose, VerifiedTrustList};
use serde::Deserialize;
use serde_json::json;
use time::Duration;

use crate::openid4vp::OnlineTerms;
use crate::report::Report;
use crate::sessions::{LocalSessions, Online, SessionError, SessionStore, Taken};
use crate::{Channel, Check, Verifier};

/// How the service runs.
pub struct ServiceConfig {
    /// Its external base URL (`http://host:port`): request and response URIs hang off it.
    pub public_url: String,
    /// The national root keys new trust lists must be signed with.
    pub trust_roots: Vec<VerifyingKey>,
    /// Status lists to keep fresh, by URI.
    pub status_lists: Vec<String>,
    /// Authorities whose every status list shard is kept fresh: each a base such as
    /// `https://authority/status/`, followed as `…/0`, `…/1`, … up to the first shard not
    /// published. An authority opens a shard (empty) before it allocates into it, so the
    /// shards a credential can point to are held before it is shown.
    pub status_shards: Vec<String>,
    /// The authorities' event streams (`…/events`) to follow, one per pushing authority.
    pub events: Vec<String>,
    /// The relying party's request-signing (and reader) key and registered certificate
    /// (DER): needed for in person and online, not for the offline QR.
    pub identity: Option<(Arc<dyn Signer>, Vec<u8>)>,
    /// How long an online request may be answered.
    pub request_lifetime: Duration,
    /// The face model that compares the person at the desk with the credential's portrait
    /// (`eid verifier serve --face-models`); without one, no face is compared, and a purpose
    /// that requires a match refuses with `face_not_checked`.
    pub face: Option<Arc<dyn eid_face::CompareFaces>>,
}

/// Face comparisons at once (each holds a blocking thread and the model's lock for a few
/// hundred milliseconds); beyond them a check waits up to [`FACE_WAIT`], then the faces are
/// not compared, and the report says so.
const FACE_COMPARISONS: usize = 2;

/// Face templates made at once for online requests being made: their own places, so that
/// anyone making requests cannot take the places of the checks.
const FACE_TEMPLATES: usize = 1;

/// How long a check waits for a face comparison place before reporting the faces as not
/// compared (a desk's queue, not a refusal at the first busy moment).
const FACE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// In-person exchanges at once (each holds a socket and up to 1 MiB for up to two minutes
/// while a holder decides); more are refused with 503 at once.
const EXCHANGES: usize = 512;

/// Digital Credentials API requests waiting for their answer at once (each holds an HPKE key
/// and, with a photograph, a face template, for the request's lifetime); more are refused
/// with 503 until some are answered or expire.
const DC_REQUESTS: usize = 4096;

/// Answers taken for one request before it stops listening (a refused answer does not
/// close a request: anyone can read the request object and post a well-formed refusal).
const MAX_ANSWERS: u32 = 5;

/// The service's state.
pub struct Service {
    verifier: Arc<RwLock<Verifier>>,
    config: ServiceConfig,
    sessions: Box<dyn SessionStore>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    /// Wakes the list fetcher at once: a presentation named a list not held.
    wanted: tokio::sync::Notify,
    /// Requests by route, method and status, with their latency (`GET /metrics`).
    http: Arc<eid_serve::metrics::HttpMetrics>,
    /// Verifications by channel and outcome: `accepted`, or the first reason's code.
    outcomes: eid_serve::metrics::Counters,
    /// Places for face comparisons ([`FACE_COMPARISONS`]).
    faces: Arc<tokio::sync::Semaphore>,
    /// Places for the templates of online requests' photographs ([`FACE_TEMPLATES`]).
    face_templates: Arc<tokio::sync::Semaphore>,
    /// Places for in-person exchanges ([`EXCHANGES`]).
    exchanges: tokio::sync::Semaphore,
    /// Digital Credentials API requests waiting for their answer, by handle, in this
    /// process ([`DC_REQUESTS`]).
    dc_requests: std::sync::Mutex<std::collections::HashMap<String, DcPending>>,
    /// Digital Credentials API requests being made: they hold places too.
    dc_making: std::sync::atomic::AtomicUsize,
}

/// One Digital Credentials API request waiting for its answer: the page offers the wallet
/// each protocol, and the wallet answers in one.
struct DcPending {
    /// `org-iso-mdoc`.
    mdoc: crate::dc_api::MdocDcApiRequest,
    /// `openid4vp-v1-signed`.
    signed: crate::openid4vp::OnlineSession,
    /// `openid4vp-v1-unsigned`, offered when the relying party's registration lists the
    /// page's origin (a wallet knows who asks by nothing else).
    unsigned: Option<crate::openid4vp::OnlineSession>,
    expires: time::OffsetDateTime,
    /// The customer's face template, when a photograph came with the request, and whether
    /// they passed a head turn then.
    face: Option<Vec<u8>>,
    face_live: bool,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("public_url", &self.config.public_url)
            .finish_non_exhaustive()
    }
}

impl Service {
    /// A service around `verifier`, keeping its online requests in itself.
    pub fn new(
        verifier: Verifier,
        config: ServiceConfig,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
    ) -> Arc<Self> {
        Self::with_sessions(
            verifier,
            config,
            Box::new(LocalSessions::default()),
            clock,
            random,
        )
    }

    /// A service around `verifier`, keeping its online requests in `sessions` (Redis, for
    /// replicas behind one address).
    pub fn with_sessions(
        verifier: Verifier,
        config: ServiceConfig,
        sessions: Box<dyn SessionStore>,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
    ) -> Arc<Self> {
        Arc::new(Self {
            verifier: Arc::new(RwLock::new(verifier)),
            config,
            sessions,
            clock,
            random,
            wanted: tokio::sync::Notify::new(),
            http: eid_serve::metrics::HttpMetrics::new(),
            outcomes: eid_serve::metrics::Counters::new(
                "eid_verifications_total",
                "Verifications, by channel and outcome (accepted, or the first reason's code).",
                &["channel", "outcome"],
            ),
            faces: Arc::new(tokio::sync::Semaphore::new(FACE_COMPARISONS)),
            face_templates: Arc::new(tokio::sync::Semaphore::new(FACE_TEMPLATES)),
            exchanges: tokio::sync::Semaphore::new(EXCHANGES),
            dc_requests: std::sync::Mutex::default(),
            dc_making: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// The verifier, shared with the push follower.
    pub fn verifier(&self) -> &Arc<RwLock<Verifier>> {
        &self.verifier
    }

    /// Fetches every configured status list, and every published shard of each authority
    /// followed, once. Returns whether one that should be there is missing (not published
    /// yet, unreachable or refused): the caller tries again soon.
    pub async fn refresh_status_lists(&self) -> bool {
        let mut missing = false;
        for uri in &self.config.status_lists {
            missing |= !matches!(self.refresh_one(uri).await, Fetched::Stored);
        }
        for base in &self.config.status_shards {
            // Shards are numbered densely from 0; the first one not published ends the walk.
            // Shard 0 missing means the authority has issued nothing yet, or is down.
            for shard in 0u64.. {
                let uri = format!("{base}{shard}");
                match self.refresh_one(&uri).await {
                    Fetched::Stored => {}
                    Fetched::NotPublished if shard > 0 => break,
                    Fetched::NotPublished | Fetched::Failed => {
                        missing = true;
                        break;
                    }
                }
            }
        }
        missing
    }

    async fn refresh_one(&self, uri: &str) -> Fetched {
        let token = match crate::online::fetch_status_list(uri).await {
            Ok(token) => token,
            // Not published yet: no credential points into it so far.
            Err(eid_http::HttpError::Status(404, _)) => return Fetched::NotPublished,
            Err(e) => {
                tracing::warn!(target: "eid::verifier", uri = %uri, cause = %e, "a status list could not be fetched");
                return Fetched::Failed;
            }
        };
        let now = self.clock.now();
        let Ok(mut verifier) = self.verifier.write() else {
            return Fetched::Failed;
        };
        let trust = verifier.trust().clone();
        match verifier
            .statuses_mut()
            .store_fetched(&trust, uri, &token, now)
        {
            Ok(_) => Fetched::Stored,
            Err(e) => {
                tracing::warn!(target: "eid::verifier", uri = %uri, cause = %e, "a status list was not stored");
                Fetched::Failed
            }
        }
    }

    /// A refused report whose status could not be determined wakes the list fetcher, so a
    /// shard opened since the last walk is held for the holder's next try.
    fn notice(&self, report: &Report) {
        let channel = match report.channel {
            Channel::InPerson => "in_person",
            Channel::OfflineQr => "offline_qr",
            Channel::Online => "online",
        };
        let outcome = match report.reasons.first() {
            _ if report.accepted => "accepted",
            Some(reason) => reason.reason.as_str(),
            None => "refused",
        };
        self.outcomes.add(&[channel, outcome]);
        if report
            .reasons
            .iter()
            .any(|r| r.reason == "status_undetermined")
        {
            self.wanted.notify_one();
        }
    }

    /// Half the strictest staleness bound of the relying party's purposes, within [5 s, 1 h].
    pub fn refetch_interval(&self) -> Duration {
        let Ok(verifier) = self.verifier.read() else {
            return Duration::seconds(5);
        };
        let list = verifier.trust().list();
        let strictest = list
            .relying_party(verifier.relying_party())
            .into_iter()
            .flat_map(|rp| rp.purposes.keys())
            .filter_map(|p| list.purpose(*p))
            .map(|p| p.max_status_age_seconds)
            .min()
            .unwrap_or(3600);
        Duration::seconds(i64::try_from(strictest / 2).unwrap_or(1800).clamp(5, 3600))
    }
}

/// Keeps the status lists fresh and follows pushes, for as long as the service runs.
pub async fn keep_fresh(service: Arc<Service>) {
    let fetcher = {
        let service = service.clone();
        async move {
            loop {
                let missing = service.refresh_status_lists().await;
                // A list not published yet (a shard no credential points to so far) or not
                // reachable is tried again within a second; all held, on the schedule — or
                // sooner, when a presentation named a list not held (at most once a second).
                let pause = if missing {
                    Duration::seconds(1)
                } else {
                    service.refetch_interval()
                };
                tokio::select! {
                    () = tokio::time::sleep(std::time::Duration::from_secs(
                        u64::try_from(pause.whole_seconds()).unwrap_or(5),
                    )) => {}
                    () = service.wanted.notified() => {
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    }
                }
            }
        }
    };
    let mut followers = tokio::task::JoinSet::new();
    for events in service.config.events.clone() {
        followers.spawn(follow(service.clone(), events));
    }
    tokio::join!(fetcher, followers.join_all());
}

/// Follows one authority's pushes, reconnecting with backoff from the last event seen
/// (`Last-Event-ID`: an authority on NATS sends what was missed), and refetching the lists
/// once the stream is open — whatever changed before it opened is in them (an authority
/// without NATS sends nothing missed).
async fn follow(service: Arc<Service>, events: String) {
    // Milliseconds: the first reconnection at once (a replica killed behind the balancer:
    // the other one serves), then doubling up to 30 s while nothing answers.
    let mut pause = 0u64;
    let mut last = None;
    loop {
        let mut connected = false;
        let result =
            crate::online::follow_pushes_from(&events, &mut last, &service.verifier, |f| {
                match f {
                    crate::online::Followed::Connected => {
                        connected = true;
                        service.wanted.notify_one();
                    }
                    // A reinstatement: the signed list lifts the suspension, fetched within
                    // about a second rather than on the schedule.
                    crate::online::Followed::Eased(_) => service.wanted.notify_one(),
                    crate::online::Followed::Applied(_) => {}
                }
            })
            .await;
        if let Err(e) = result {
            tracing::warn!(target: "eid::verifier", events = %events, cause = %e, "the event stream broke");
        }
        if connected {
            pause = 0;
        }
        tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
        pause = (pause * 2).clamp(250, 30_000);
    }
}

/// What fetching one list came to.
enum Fetched {
    Stored,
    NotPublished,
    Failed,
}

/// The routes.
pub fn router(service: Arc<Service>) -> Router {
    let http = service.http.clone();
    Router::new()
        .route("/verify/offline", post(verify_offline))
        .route("/verify/in-person", post(verify_in_person))
        .route("/vp/requests", post(create_request))
        .route("/vp/results/{handle}", get(request_outcome))
        .route("/vp/request/{id}", get(request_object))
        .route("/vp/response", post(response))
        .route("/dc/requests", post(create_dc_request))
        .route("/dc/responses/{handle}", post(dc_response))
        .route("/trust-list", put(replace_trust_list))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .with_state(service)
        .layer(axum::middleware::from_fn_with_state(
            http,
            eid_serve::metrics::track,
        ))
        // One error shape: the framework's plain-text rejections become JSON too.
        .layer(axum::middleware::map_response(eid_serve::json_errors))
}

fn bad_request(code: &str, message: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(
            json!({"error": code, "error_description": eid_serve::cut(&message.into(), 300)}),
        ),
    )
        .into_response()
}

fn purpose(name: &str) -> Result<Purpose, Box<Response>> {
    Purpose::parse(name).ok_or_else(|| {
        Box::new(bad_request(
            "unknown_purpose",
            format!(
                "{} is not a purpose of the catalogue",
                eid_serve::excerpt(name)
            ),
        ))
    })
}

fn report(report: &Report) -> Response {
    axum::Json(report).into_response()
}

/// Runs `work` on the online requests: off the async workers where the store may wait on
/// the network (Redis), in place where it is in memory.
async fn in_store<T: Send + 'static>(
    service: &Arc<Service>,
    work: impl FnOnce(&dyn SessionStore) -> Result<T, SessionError> + Send + 'static,
) -> Result<T, Response> {
    let done = if service.sessions.may_block() {
        let service = service.clone();
        tokio::task::spawn_blocking(move || work(service.sessions.as_ref())).await
    } else {
        Ok(work(service.sessions.as_ref()))
    };
    match done {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err((
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "1")],
            axum::Json(json!({"error": "unavailable", "error_description": e.to_string()})),
        )
            .into_response()),
        Err(_) => Err(poisoned()),
    }
}

/// 503 `busy`, to try again in a second.
fn busy(description: &str) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "1")],
        axum::Json(json!({"error": "busy", "error_description": description})),
    )
        .into_response()
}

fn poisoned() -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "the verifier's lock is poisoned",
    )
        .into_response()
}

#[derive(Deserialize)]
struct PurposeQuery {
    purpose: String,
}

async fn verify_offline(
    State(service): State<Arc<Service>>,
    Query(query): Query<PurposeQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let purpose = match purpose(&query.purpose) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    if let Some(refused) = without_face_model(&service, purpose) {
        return refused;
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let mut face = None;
    let mut turned = None;
    let code = if content_type.starts_with("application/octet-stream") {
        body.to_vec()
    } else if content_type.starts_with("application/json") {
        // `{"code": base64url, "face": base64 photograph}`: a desk that matches faces; with
        // `"face_turned"` and `"turn"`, the head turn too.
        #[derive(Deserialize)]
        struct WithFace {
            code: String,
            #[serde(default)]
            face: Option<String>,
            #[serde(default)]
            face_turned: Option<String>,
            #[serde(default)]
            turn: Option<String>,
        }
        match serde_json::from_slice::<WithFace>(&body) {
            Ok(w) => match eid_crypto::b64url_decode(w.code.trim()) {
                Ok(code) => {
                    turned = match Turned::read(w.face.as_deref(), w.face_turned, w.turn) {
                        Ok(turned) => turned,
                        Err(refused) => return *refused,
                    };
                    face = w.face;
                    code
                }
                Err(_) => return bad_request("invalid_request", "the code is not base64url"),
            },
            Err(e) => {
                return bad_request(
                    "invalid_request",
                    format!("the body is not {{\"code\", \"face\"}}: {e}"),
                );
            }
        }
    } else {
        match std::str::from_utf8(&body)
            .ok()
            .and_then(|t| eid_crypto::b64url_decode(t.trim()).ok())
        {
            Some(code) => code,
            None => {
                return bad_request(
                    "invalid_request",
                    "send the code's bytes as application/octet-stream, or as base64url text",
                );
            }
        }
    };
    // Off the async workers: the check may wait on the shared replay memory (Redis).
    let checking = service.clone();
    let verified = tokio::task::spawn_blocking(move || {
        let verifier = checking.verifier.read().ok()?;
        let requested = verifier.registered_attributes(purpose);
        Some(verifier.verify_offline(
            &code,
            &Check {
                purpose,
                requested: &requested,
                channel: Channel::OfflineQr,
                now: checking.clock.now(),
            },
        ))
    })
    .await;
    let Ok(Some(verified)) = verified else {
        return poisoned();
    };
    match with_face(&service, verified, Live::Photograph(face, turned)).await {
        Some(verified) => {
            service.notice(&verified);
            report(&verified)
        }
        None => poisoned(),
    }
}

#[derive(Deserialize)]
struct InPersonRequest {
    engagement: String,
    purpose: String,
    #[serde(default)]
    attributes: Option<Vec<String>>,
    /// A photograph of the person at the desk (JPEG or PNG, base64), to compare with the
    /// disclosed portrait.
    #[serde(default)]
    face: Option<String>,
    /// The head turn: a second photograph, the person's head turned to their `turn`.
    #[serde(default)]
    face_turned: Option<String>,
    #[serde(default)]
    turn: Option<String>,
}

/// The head turn's second photograph as a request gives it, and the way asked.
struct Turned {
    picture: Vec<u8>,
    turn: eid_face::Turn,
}

impl Turned {
    /// `face_turned` and `turn` of a request whose first photograph is `face`: both or
    /// neither, and with a first photograph.
    fn read(
        face: Option<&str>,
        picture: Option<String>,
        turn: Option<String>,
    ) -> Result<Option<Self>, Box<Response>> {
        let (picture, turn) = match (picture, turn) {
            (None, None) => return Ok(None),
            (Some(picture), Some(turn)) => (picture, turn),
            _ => {
                return Err(Box::new(bad_request(
                    "invalid_request",
                    "send face_turned and turn together (the head turn's second photograph and the way the person was asked to turn), or neither",
                )));
            }
        };
        if face.is_none() {
            return Err(Box::new(bad_request(
                "invalid_request",
                "face_turned is the head turn's second photograph: send face, the first (facing the camera), with it",
            )));
        }
        let turn = turn.parse().map_err(|()| {
            Box::new(bad_request(
                "invalid_request",
                "turn must be \"left\" or \"right\": the way the person was asked to turn their head in face_turned",
            ))
        })?;
        use base64::Engine;
        let picture = base64::engine::general_purpose::STANDARD
            .decode(picture.trim())
            .map_err(|_| {
                Box::new(bad_request(
                    "invalid_request",
                    "face_turned is not base64 (standard alphabet)",
                ))
            })?;
        Ok(Some(Self { picture, turn }))
    }
}

/// Where `purpose` requires a face match and this desk has no face model, every check would
/// be refused `face_not_checked` after the holder consented (or the code was counted):
/// refused before anything is asked, saying why.
fn without_face_model(service: &Service, purpose: Purpose) -> Option<Response> {
    if service.config.face.is_some() {
        return None;
    }
    let required = service
        .verifier
        .read()
        .ok()?
        .trust()
        .list()
        .purpose(purpose)
        .is_some_and(|p| p.face_match_required);
    required.then(|| {
        bad_request(
            "face_not_supported",
            format!(
                "{purpose} requires a face match, and this desk has no face model (eid verifier serve --face-models): nothing was asked of the holder"
            ),
        )
    })
}

/// What a route that asks a phone reads first, in this order: the purpose, a face model if
/// the purpose needs one, the head turn's fields, and the relying party's reader key and
/// certificate (`channel` says in the refusal what needs them).
struct Asking {
    purpose: Purpose,
    turned: Option<Turned>,
    signer: Arc<dyn Signer>,
    certificate: Vec<u8>,
}

impl Asking {
    fn read(
        service: &Service,
        purpose_name: &str,
        face: Option<&str>,
        face_turned: Option<String>,
        turn: Option<String>,
        channel: &str,
    ) -> Result<Self, Box<Response>> {
        let purpose = purpose(purpose_name)?;
        if let Some(refused) = without_face_model(service, purpose) {
            return Err(Box::new(refused));
        }
        let turned = Turned::read(face, face_turned, turn)?;
        let Some((signer, certificate)) = service.config.identity.clone() else {
            return Err(Box::new(bad_request(
                "not_configured",
                format!("this verifier has no reader key and certificate ({channel} needs them)"),
            )));
        };
        Ok(Self {
            purpose,
            turned,
            signer,
            certificate,
        })
    }
}

/// A request for a purpose this relying party is not registered for would be refused by
/// every wallet and every check: it is not made.
fn unregistered(verifier: &Verifier, purpose: Purpose) -> Option<Response> {
    let registered = verifier
        .trust()
        .list()
        .relying_party(verifier.relying_party())
        .is_some_and(|rp| rp.purposes.contains_key(&purpose));
    (!registered).then(|| {
        bad_request(
            "purpose_not_registered",
            format!(
                "{} is not registered for {} in the trust list",
                verifier.relying_party(),
                purpose.as_str()
            ),
        )
    })
}

/// The most attributes one request may name.
const MAX_ATTRIBUTES: usize = 64;

/// The attributes a request asks for: those `given`, each once — every one registered for
/// this relying party and `purpose` (a wallet would refuse the rest, and a caller's list is
/// not kept beyond what the registration allows) — or, when none are given, all of those.
fn asked_attributes(
    verifier: &Verifier,
    purpose: Purpose,
    given: Option<Vec<String>>,
) -> Result<Vec<String>, Box<Response>> {
    let registered = verifier.registered_attributes(purpose);
    let Some(given) = given else {
        return Ok(registered);
    };
    if given.len() > MAX_ATTRIBUTES {
        return Err(Box::new(bad_request(
            "invalid_request",
            format!("at most {MAX_ATTRIBUTES} attributes may be asked for"),
        )));
    }
    let mut asked: Vec<String> = Vec::with_capacity(given.len());
    for attribute in given {
        if !registered.contains(&attribute) {
            return Err(Box::new(bad_request(
                "beyond_registration",
                format!(
                    "{} is not registered for {} at {purpose}: a wallet would refuse the request",
                    eid_serve::excerpt(&attribute),
                    verifier.relying_party()
                ),
            )));
        }
        if !asked.contains(&attribute) {
            asked.push(attribute);
        }
    }
    Ok(asked)
}

/// `report` with the desk's face check applied (`Verifier::with_face_check`): the person at
/// the desk (`live`) compared, for an accepted report, without the verifier's lock and on
/// the bounded places; `None` if the lock is poisoned.
async fn with_face(service: &Arc<Service>, report: Report, live: Live) -> Option<Report> {
    let mut report = if report.accepted {
        let check = face_check(service, &report, live).await;
        let verifier = service.verifier.read().ok()?;
        verifier.with_face_check(report, check)
    } else {
        report
    };
    // An offline code's template serves the comparison only: the desk has no other use for
    // a face signature, and the report does not carry it on.
    report.attributes.remove(eid_mdoc::offline::FACE_TEMPLATE);
    Some(report)
}

/// What the person at the desk is compared with.
enum Reference {
    /// The disclosed portrait (in person, online).
    Portrait(Vec<u8>),
    /// The offline code's face template.
    Template(eid_face::Template),
}

/// The person at the desk, as the request gives them.
enum Live {
    /// A photograph taken now (in person, offline), base64 as sent (`None`: none was sent),
    /// and the head turn's second one if the desk asked for a turn.
    Photograph(Option<String>, Option<Turned>),
    /// The template of the photograph taken when an online request was made (`None`: the
    /// request had none), and whether the person passed a head turn then.
    Template(Option<Vec<u8>>, bool),
}

/// The person at the desk, decoded.
enum Seen {
    Photograph(Vec<u8>, Option<(Vec<u8>, eid_face::Turn)>),
    Template(eid_face::Template, bool),
}

impl Live {
    /// A photograph as sent (base64), or why there is none.
    fn decode(photograph: Option<&str>) -> Result<Vec<u8>, String> {
        use base64::Engine;
        let photograph = photograph.ok_or("no photograph of the person at the desk was sent")?;
        base64::engine::general_purpose::STANDARD
            .decode(photograph.trim())
            .map_err(|_| "the photograph is not base64 (standard alphabet)".into())
    }
}

/// The person at the desk (`live`) against the face `report` gives (the offline code's
/// template, or the disclosed portrait), with the service's face model. When every place
/// stays taken for [`FACE_WAIT`] the faces are not compared, and the report says so: a 503
/// would throw away an exchange the holder already consented to, or a code already counted.
async fn face_check(service: &Arc<Service>, report: &Report, live: Live) -> crate::FaceCheck {
    use crate::FaceCheck::NotCompared;
    use base64::Engine;
    let Some(model) = service.config.face.clone() else {
        return NotCompared("this desk has no face model".into());
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    let live = match live {
        Live::Photograph(photograph, turned) => {
            let bytes = match Live::decode(photograph.as_deref()) {
                Ok(bytes) => bytes,
                Err(why) => return NotCompared(why),
            };
            Seen::Photograph(bytes, turned.map(|t| (t.picture, t.turn)))
        }
        Live::Template(None, _) => {
            return NotCompared(
                "no photograph of the person was taken when the request was made".into(),
            );
        }
        Live::Template(Some(bytes), live) => match eid_face::Template::from_bytes(&bytes) {
            Ok(template) => Seen::Template(template, live),
            Err(e) => return NotCompared(e.to_string()),
        },
    };
    // The offline code's template, else the disclosed portrait.
    let attribute = |name: &str| {
        report
            .attributes
            .get(name)
            .and_then(|p| p.as_str())
            .and_then(|p| b64.decode(p).ok())
    };
    let reference = match attribute(eid_mdoc::offline::FACE_TEMPLATE) {
        Some(bytes) => match eid_face::Template::from_bytes(&bytes) {
            Ok(template) => Reference::Template(template),
            Err(e) => return NotCompared(e.to_string()),
        },
        None => match attribute("portrait") {
            Some(portrait) => Reference::Portrait(portrait),
            None => {
                return NotCompared("the credential gave no portrait or face template".into());
            }
        },
    };
    let waited = tokio::time::timeout(FACE_WAIT, service.faces.clone().acquire_owned()).await;
    let Ok(Ok(place)) = waited else {
        return NotCompared(
            "every face comparison place stayed taken; the desk is overloaded: ask again in a moment"
                .into(),
        );
    };
    let compared = tokio::task::spawn_blocking(move || {
        let _place = place;
        let distance = match (&reference, &live) {
            (Reference::Portrait(portrait), Seen::Photograph(photograph, _)) => {
                model.distance(portrait, photograph)
            }
            (Reference::Template(template), Seen::Photograph(photograph, _)) => {
                model.distance_to_template(template, photograph)
            }
            (Reference::Portrait(portrait), Seen::Template(live, _)) => {
                model.distance_from_template(portrait, live)
            }
            (Reference::Template(template), Seen::Template(live, _)) => {
                Ok(template.embedding().distance(&live.embedding()))
            }
        }?;
        // The head turn, when the desk asked for one: the facing photograph is read again for
        // its landmarks, then its mirror image and the turned one (three more embeddings).
        let turned = match &live {
            Seen::Photograph(photograph, Some((turned, asked))) => {
                Some(match model.head_turn(photograph, turned, *asked) {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(not_live)) => Err(not_live.to_string()),
                    Err(e) => Err(e.to_string()),
                })
            }
            Seen::Template(_, true) => Some(Ok(())),
            Seen::Photograph(_, None) | Seen::Template(_, false) => None,
        };
        Ok::<_, eid_face::ImageError>((distance, model.threshold(), turned))
    })
    .await;
    match compared {
        Ok(Ok((distance, threshold, live))) => crate::FaceCheck::Compared {
            distance,
            threshold,
            live,
        },
        Ok(Err(e)) => NotCompared(e.to_string()),
        Err(_) => NotCompared("the face comparison failed".into()),
    }
}

async fn verify_in_person(
    State(service): State<Arc<Service>>,
    body: Result<axum::Json<InPersonRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let axum::Json(request) = match body {
        Ok(b) => b,
        Err(e) => return bad_request("invalid_request", e.body_text()),
    };
    let Asking {
        purpose,
        turned,
        signer,
        certificate,
    } = match Asking::read(
        &service,
        &request.purpose,
        request.face.as_deref(),
        request.face_turned,
        request.turn,
        "in person",
    ) {
        Ok(asking) => asking,
        Err(refused) => return *refused,
    };
    let engagement =
        match eid_mdoc::engagement::DeviceEngagement::from_qr_uri(request.engagement.trim()) {
            Ok(e) => e,
            Err(_) => return bad_request("invalid_request", "the engagement is not mdoc: text"),
        };
    let Some(address) = engagement.tcp_address.clone() else {
        return bad_request(
            "invalid_request",
            "the engagement offers no way to connect that this verifier has (TCP)",
        );
    };
    // The address comes from the phone: an IP literal only (no name to resolve), and none
    // that is no phone's (unspecified, multicast, broadcast, link-local such as a cloud's
    // metadata service).
    let address = match phone_address(&address) {
        Some(a) => a,
        None => {
            return bad_request(
                "invalid_request",
                "the engagement's address is not one a phone can have",
            );
        }
    };
    let attributes = match request.attributes {
        Some(a) => a,
        None => match service.verifier.read() {
            Ok(v) => v.registered_attributes(purpose),
            Err(_) => return poisoned(),
        },
    };
    let started = crate::in_person::ReaderSession::start(
        &engagement,
        &crate::in_person::ReaderIdentity {
            signer: signer.as_ref(),
            certificate: &certificate,
        },
        purpose,
        &attributes,
    );
    let (session, establishment) = match started {
        Ok(s) => s,
        Err(e) => return bad_request("request_failed", e.to_string()),
    };
    // The exchange runs without the verifier's lock (pushes keep applying meanwhile), and
    // holds no thread while the holder decides.
    let Ok(place) = service.exchanges.try_acquire() else {
        return busy("every in-person exchange place is taken; try again in a moment");
    };
    let outcome = exchange_with_phone(address, &establishment).await;
    drop(place);
    let now = service.clock.now();
    let finished = {
        let Ok(verifier) = service.verifier.read() else {
            return poisoned();
        };
        match outcome {
            Ok(message) => session.finish(&verifier, &message, now),
            Err(e) => {
                return report(&verifier.refuse(
                    &Check {
                        purpose,
                        requested: &attributes,
                        channel: Channel::InPerson,
                        now,
                    },
                    crate::Reason::new(
                        "transport_failed",
                        format!("the exchange with the phone failed: {e}"),
                    ),
                ));
            }
        }
    };
    match with_face(&service, finished, Live::Photograph(request.face, turned)).await {
        Some(finished) => {
            service.notice(&finished);
            report(&finished)
        }
        None => poisoned(),
    }
}

/// Connects to the phone at `address` (10 s), sends the SessionEstablishment (30 s) and
/// waits for its answer (120 s: the holder reads the request and consents), in the framing
/// of [`eid_mdoc::transport`]. Each failure is said in fixed words: no operating-system
/// error text reaches the desk's client.
async fn exchange_with_phone(
    address: std::net::SocketAddr,
    establishment: &[u8],
) -> Result<Vec<u8>, &'static str> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::time::timeout;
    let hung_up = |e: std::io::Error, when: &'static str| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            when
        } else {
            "the connection to the phone failed"
        }
    };
    let mut stream = timeout(
        std::time::Duration::from_secs(10),
        tokio::net::TcpStream::connect(address),
    )
    .await
    .map_err(|_| "the phone could not be reached in time")?
    .map_err(|_| "the phone could not be reached")?;
    stream
        .set_nodelay(true)
        .map_err(|_| "the connection to the phone failed")?;
    let header = eid_mdoc::transport::frame_header(establishment)
        .map_err(|_| "the request is too large to send")?;
    timeout(std::time::Duration::from_secs(30), async {
        stream.write_all(&header).await?;
        stream.write_all(establishment).await
    })
    .await
    .map_err(|_| "the phone did not take the request in time")?
    .map_err(|_| "the connection to the phone failed")?;
    timeout(std::time::Duration::from_secs(120), async {
        let mut header = [0u8; 4];
        stream
            .read_exact(&mut header)
            .await
            .map_err(|e| hung_up(e, "the phone hung up without answering"))?;
        let len = eid_mdoc::transport::frame_length(header)
            .map_err(|_| "the phone announced an answer above 1 MiB")?;
        let mut message = vec![0u8; len];
        stream
            .read_exact(&mut message)
            .await
            .map_err(|e| hung_up(e, "the phone hung up in the middle of its answer"))?;
        Ok(message)
    })
    .await
    .map_err(|_| "the phone did not answer in time")?
}

/// A phone's announced `ip:port`, or `None` for a name or an address no phone has.
fn phone_address(text: &str) -> Option<std::net::SocketAddr> {
    let address: std::net::SocketAddr = text.parse().ok()?;
    let ip = address.ip();
    let link_local = match ip {
        std::net::IpAddr::V4(v4) => v4.is_link_local() || v4.is_broadcast(),
        std::net::IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    };
    (!ip.is_unspecified() && !ip.is_multicast() && !link_local && address.port() != 0)
        .then_some(address)
}

#[derive(Deserialize)]
struct NewRequest {
    purpose: String,
    #[serde(default)]
    attributes: Option<Vec<String>>,
    /// A photograph of the person the request is for (a bank's customer in front of its
    /// camera), compared with the portrait the answer discloses: only its face template is
    /// kept with the request.
    #[serde(default)]
    face: Option<String>,
    /// The head turn: a second photograph, the customer's head turned to their `turn`;
    /// checked when the request is made (a request whose photographs fail it is not made).
    #[serde(default)]
    face_turned: Option<String>,
    #[serde(default)]
    turn: Option<String>,
}

async fn create_request(
    State(service): State<Arc<Service>>,
    body: Result<axum::Json<NewRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let axum::Json(new) = match body {
        Ok(b) => b,
        Err(e) => return bad_request("invalid_request", e.body_text()),
    };
    let Asking {
        purpose,
        turned,
        signer,
        certificate,
    } = match Asking::read(
        &service,
        &new.purpose,
        new.face.as_deref(),
        new.face_turned,
        new.turn,
        "online",
    ) {
        Ok(asking) => asking,
        Err(refused) => return *refused,
    };
    let now = service.clock.now();
    let base = service.config.public_url.trim_end_matches('/');
    let made = {
        let Ok(verifier) = service.verifier.read() else {
            return poisoned();
        };
        if let Some(refused) = unregistered(&verifier, purpose) {
            return refused;
        }
        let attributes = match asked_attributes(&verifier, purpose, new.attributes) {
            Ok(attributes) => attributes,
            Err(refused) => return *refused,
        };
        verifier.online_request(
            &OnlineTerms {
                purpose,
                attributes: Some(&attributes),
                intent_to_retain: false,
                signer: signer.as_ref(),
                certificate: &certificate,
                request_base: &format!("{base}/vp/request"),
                response_uri: &format!("{base}/vp/response"),
                lifetime: service.config.request_lifetime,
            },
            now,
            service.random.as_ref(),
        )
    };
    let made = match made {
        Ok(m) => m,
        Err(e) => return bad_request("request_failed", e.to_string()),
    };
    // The face work last: a request refused above costs none.
    let face = match live_template(&service, new.face.as_deref(), turned).await {
        Ok(face) => face,
        Err(refused) => return *refused,
    };
    let face_live = face.as_ref().is_some_and(|(_, live)| *live);
    let face = face.map(|(template, _)| template);
    let mut secret = [0u8; 24];
    if service.random.fill(&mut secret).is_err() {
        return poisoned();
    }
    let handle = eid_crypto::b64url(&secret);
    let id = made.session.id.clone();
    let mut online = Online::new(made.session, made.request_object, handle.clone(), face);
    online.face_live = face_live;
    if let Err(refused) = in_store(&service, move |sessions| sessions.open(online, now)).await {
        return refused;
    }
    axum::Json(json!({
        "id": id,
        "result": format!("/vp/results/{handle}"),
        "invocation": made.invocation,
        "request_uri": made.request_uri,
    }))
    .into_response()
}

/// The face template of the photograph an online request is made with, made now (the
/// photograph itself is not kept); none when none was sent (where the purpose requires a
/// face match, the answer is then refused `face_not_checked`, as at a desk that took no
/// photograph). With the head turn's second photograph, the turn is checked first: one that
/// fails refuses the request (`face_not_live`); `true` beside the template says it passed.
async fn live_template(
    service: &Arc<Service>,
    photograph: Option<&str>,
    turned: Option<Turned>,
) -> Result<Option<(Vec<u8>, bool)>, Box<Response>> {
    let Some(photograph) = photograph else {
        return Ok(None);
    };
    let Some(model) = service.config.face.clone() else {
        return Err(Box::new(bad_request(
            "face_not_supported",
            "this verifier has no face model: send the request without \"face\"",
        )));
    };
    let photograph = Live::decode(Some(photograph))
        .map_err(|why| Box::new(bad_request("invalid_request", why)))?;
    let turned = turned.map(|t| (t.picture, t.turn));
    // Nothing is lost by waiting here: no holder has answered yet.
    let Ok(place) = service.face_templates.clone().try_acquire_owned() else {
        return Err(Box::new(
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, "1")],
                axum::Json(json!({"error": "busy", "error_description": "the place for the photograph's face template is taken; try again in a moment"})),
            )
                .into_response(),
        ));
    };
    let made = tokio::task::spawn_blocking(move || {
        let _place = place;
        let live = match &turned {
            Some((picture, turn)) => Some(model.head_turn(&photograph, picture, *turn)?),
            None => None,
        };
        Ok::<_, eid_face::ImageError>((model.live_template(&photograph)?, live))
    })
    .await
    .map_err(|_| Box::new(poisoned()))?;
    match made {
        Ok((_, Some(Err(not_live)))) => Err(Box::new(bad_request(
            "face_not_live",
            format!("the customer did not pass the head turn: {not_live}"),
        ))),
        Ok((template, live)) => Ok(Some((template.as_bytes().to_vec(), live.is_some()))),
        Err(e) => Err(Box::new(bad_request("face_unusable", e.to_string()))),
    }
}

/// The origin the relying party's page calls the Digital Credentials API from: the origin of
/// the service's public URL (the page is served from the same site as its desk service).
fn page_origin(public_url: &str) -> Option<String> {
    let url = url::Url::parse(public_url).ok()?;
    let origin = url.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

/// `POST /dc/requests`: a Digital Credentials API request for the page at this service's
/// origin, as for `/vp/requests` (purpose, attributes, the customer's photographs), in each
/// protocol the wallet may answer: `org-iso-mdoc` (ISO/IEC 18013-7 Annex C),
/// `openid4vp-v1-signed`, and `openid4vp-v1-unsigned` where the relying party's registration
/// lists the origin (OpenID4VP 1.0 Appendix A). The answer comes back to
/// `POST /dc/responses/{handle}`.
async fn create_dc_request(
    State(service): State<Arc<Service>>,
    body: Result<axum::Json<NewRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let axum::Json(new) = match body {
        Ok(b) => b,
        Err(e) => return bad_request("invalid_request", e.body_text()),
    };
    let Asking {
        purpose,
        turned,
        signer,
        certificate,
    } = match Asking::read(
        &service,
        &new.purpose,
        new.face.as_deref(),
        new.face_turned,
        new.turn,
        "the Digital Credentials API",
    ) {
        Ok(asking) => asking,
        Err(refused) => return *refused,
    };
    let Some(origin) = page_origin(&service.config.public_url) else {
        return bad_request(
            "not_configured",
            "this verifier's public URL has no web origin for the Digital Credentials API",
        );
    };
    let (attributes, origin_registered) = {
        let Ok(verifier) = service.verifier.read() else {
            return poisoned();
        };
        if let Some(refused) = unregistered(&verifier, purpose) {
            return refused;
        }
        let registered = verifier
            .trust()
            .list()
            .relying_party(verifier.relying_party())
            .is_some_and(|rp| rp.web_origins.contains(&origin));
        match asked_attributes(&verifier, purpose, new.attributes) {
            Ok(attributes) => (attributes, registered),
            Err(refused) => return *refused,
        }
    };
    // A place first: a full service does none of the work below.
    let _place = match dc_place(&service) {
        Ok(place) => place,
        Err(refused) => return *refused,
    };
    let reader = crate::in_person::ReaderIdentity {
        signer: signer.as_ref(),
        certificate: &certificate,
    };
    let (mdoc, mdoc_entry) =
        match crate::dc_api::MdocDcApiRequest::new(&reader, purpose, &attributes, false, &origin) {
            Ok(made) => made,
            Err(e) => return bad_request("request_failed", e.to_string()),
        };
    let now = service.clock.now();
    let made = {
        let Ok(verifier) = service.verifier.read() else {
            return poisoned();
        };
        let terms = |signer| crate::openid4vp::DcApiTerms {
            purpose,
            attributes: Some(&attributes),
            intent_to_retain: false,
            signer,
            origin: &origin,
            lifetime: service.config.request_lifetime,
        };
        let signed = verifier.dc_api_request(
            &terms(Some((signer.as_ref(), &certificate))),
            now,
            service.random.as_ref(),
        );
        let unsigned = origin_registered
            .then(|| verifier.dc_api_request(&terms(None), now, service.random.as_ref()))
            .transpose();
        signed.and_then(|signed| Ok((signed, unsigned?)))
    };
    let ((signed, signed_entry), unsigned) = match made {
        Ok(made) => made,
        Err(e) => return bad_request("request_failed", e.to_string()),
    };
    let mut requests = vec![mdoc_entry, signed_entry];
    let unsigned = unsigned.map(|(session, entry)| {
        requests.push(entry);
        session
    });
    let face = match live_template(&service, new.face.as_deref(), turned).await {
        Ok(face) => face,
        Err(refused) => return *refused,
    };
    let mut secret = [0u8; 24];
    if service.random.fill(&mut secret).is_err() {
        return poisoned();
    }
    let handle = eid_crypto::b64url(&secret);
    {
        let Ok(mut pending) = service.dc_requests.lock() else {
            return poisoned();
        };
        pending.retain(|_, p| p.expires > now);
        if pending.len() >= DC_REQUESTS {
            return dc_busy();
        }
        pending.insert(
            handle.clone(),
            DcPending {
                mdoc,
                signed,
                unsigned,
                expires: now + service.config.request_lifetime,
                face_live: face.as_ref().is_some_and(|(_, live)| *live),
                face: face.map(|(template, _)| template),
            },
        );
    }
    (
        StatusCode::CREATED,
        axum::Json(json!({
            "response": format!("/dc/responses/{handle}"),
            "origin": origin,
            "digital": { "requests": requests },
        })),
    )
        .into_response()
}

fn dc_busy() -> Response {
    busy("too many Digital Credentials API requests are waiting for an answer")
}

/// A place for a Digital Credentials API request being made, given back when dropped.
struct DcPlace<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for DcPlace<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// A place among [`DC_REQUESTS`], shared by the requests waiting (those not expired) and
/// those being made — taken under the lock, so that a burst cannot all pass the check
/// before any is stored; the refusal when none is free.
fn dc_place(service: &Service) -> Result<DcPlace<'_>, Box<Response>> {
    let now = service.clock.now();
    let Ok(mut pending) = service.dc_requests.lock() else {
        return Err(Box::new(poisoned()));
    };
    pending.retain(|_, p| p.expires > now);
    let making = service.dc_making.load(std::sync::atomic::Ordering::Acquire);
    if pending.len() + making >= DC_REQUESTS {
        return Err(Box::new(dc_busy()));
    }
    service
        .dc_making
        .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    Ok(DcPlace(&service.dc_making))
}

/// What the page passes back: the DigitalCredential's protocol and data.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DcAnswer {
    protocol: String,
    data: serde_json::Value,
}

/// `POST /dc/responses/{handle}`: the wallet's answer as the page received it, opened,
/// verified, the customer's face checked; the report. One answer per request: the request
/// is gone after it.
async fn dc_response(
    State(service): State<Arc<Service>>,
    Path(handle): Path<String>,
    body: Result<axum::Json<DcAnswer>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let axum::Json(answer) = match body {
        Ok(b) => b,
        Err(e) => return bad_request("invalid_request", e.body_text()),
    };
    let known = [
        eid_mdoc::dcapi::PROTOCOL,
        eid_oid4vc::vp::PROTOCOL_SIGNED,
        eid_oid4vc::vp::PROTOCOL_UNSIGNED,
    ];
    if !known.contains(&answer.protocol.as_str()) {
        return bad_request(
            "unsupported_protocol",
            format!(
                "{} is not a protocol a desk asks in ({})",
                eid_serve::excerpt(&answer.protocol),
                known.join(", ")
            ),
        );
    }
    let now = service.clock.now();
    let pending = match service.dc_requests.lock() {
        Ok(mut pending) => {
            // An answer in the unsigned protocol to a request that did not offer it leaves
            // the request waiting: it is the page's mistake, not the holder's answer.
            let offered = pending.get(&handle).is_some_and(|p| {
                answer.protocol != eid_oid4vc::vp::PROTOCOL_UNSIGNED || p.unsigned.is_some()
            });
            if !offered && pending.contains_key(&handle) {
                return bad_request(
                    "unsupported_protocol",
                    "this request was not offered as openid4vp-v1-unsigned (the relying party's registration does not list the page's origin)",
                );
            }
            pending.remove(&handle).filter(|p| p.expires > now)
        }
        Err(_) => return poisoned(),
    };
    let Some(pending) = pending else {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({
                "error": "unknown_request",
                "error_description": "no such request waiting: answered already, expired, or never made here",
            })),
        )
            .into_response();
    };
    let report = service
        .verifier
        .read()
        .map(|v| {
            let session = match answer.protocol.as_str() {
                eid_oid4vc::vp::PROTOCOL_SIGNED => Some(&pending.signed),
                eid_oid4vc::vp::PROTOCOL_UNSIGNED => pending.unsigned.as_ref(),
                _ => None,
            };
            match session {
                Some(session) => v.verify_dc_api(session, &answer.data, now),
                None => pending.mdoc.finish(&v, &answer.data, now),
            }
        })
        .ok();
    let report = match report {
        Some(report) => {
            with_face(
                &service,
                report,
                Live::Template(pending.face, pending.face_live),
            )
            .await
        }
        None => None,
    };
    let Some(report) = report else {
        return poisoned();
    };
    service.notice(&report);
    axum::Json(report).into_response()
}

async fn request_object(State(service): State<Arc<Service>>, Path(id): Path<String>) -> Response {
    let found = match in_store(&service, move |sessions| sessions.request_object(&id)).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    match found {
        Some((object, expires_at)) if expires_at > service.clock.now() => (
            [(header::CONTENT_TYPE, "application/oauth-authz-req+jwt")],
            object,
        )
            .into_response(),
        _ => (StatusCode::NOT_FOUND, "no such request, or it expired").into_response(),
    }
}

/// An answer posted to the response URI.
enum Answer {
    /// `response=<JWE>`: a presentation or an error response, encrypted.
    Encrypted(String),
    /// `error=…&state=…` in the clear (OpenID4VP §8.5 with `direct_post`).
    Error { error: String, state: String },
}

async fn response(State(service): State<Arc<Service>>, body: Bytes) -> Response {
    // One pass over the form (the answer is kilobytes); the first of each field counts.
    let (mut jwe, mut error, mut state) = (None, None, None);
    for (name, value) in url::form_urlencoded::parse(&body) {
        let slot = match &*name {
            "response" => &mut jwe,
            "error" => &mut error,
            "state" => &mut state,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(value.into_owned());
        }
    }
    let answer = match (jwe, error, state) {
        (Some(jwe), _, _) => Answer::Encrypted(jwe),
        (None, Some(error), Some(state)) => Answer::Error { error, state },
        (None, Some(_), None) => {
            return bad_request("invalid_request", "the error response has no state");
        }
        (None, None, _) => {
            return bad_request(
                "invalid_request",
                "the answer has no response parameter (nor an error)",
            );
        }
    };
    // The request is found by the JWE's kid (the key was made for it), read before
    // opening, or by the state of a plain error response.
    let kid = match &answer {
        Answer::Encrypted(jwe) => jwe
            .split('.')
            .next()
            .and_then(|h| eid_crypto::b64url_decode(h).ok())
            .and_then(|h| serde_json::from_slice::<serde_json::Value>(&h).ok())
            .and_then(|h| h.get("kid").and_then(|k| k.as_str()).map(str::to_owned)),
        Answer::Error { state, .. } => {
            let state = state.clone();
            match in_store(&service, move |sessions| sessions.by_state(&state)).await {
                Ok(id) => id,
                Err(refused) => return refused,
            }
        }
    };
    let Some(kid) = kid else {
        return match answer {
            Answer::Encrypted(_) => {
                bad_request("invalid_request", "the answer names no request (kid)")
            }
            Answer::Error { .. } => bad_request("invalid_request", "no such request (state)"),
        };
    };
    // Taken, checked and put back by a task of its own: a client that hangs up mid-way
    // (dropping this handler) cannot leave the request taken and its outcome unwritten.
    let flow = tokio::spawn(answer_request(service, kid, answer));
    flow.await.unwrap_or_else(|_| poisoned())
}

/// Takes request `kid`, checks `answer` against it and puts it back with the outcome (the
/// request itself is all that is held over the decryption and the checks).
async fn answer_request(service: Arc<Service>, kid: String, answer: Answer) -> Response {
    let taken = {
        let kid = kid.clone();
        in_store(&service, move |sessions| sessions.take(&kid, MAX_ANSWERS)).await
    };
    let mut online = match taken {
        Ok(Taken::Got(online)) => *online,
        Ok(Taken::Missing) => return bad_request("invalid_request", "no such request"),
        Ok(Taken::Answered) => {
            return bad_request("invalid_request", "this request was answered already");
        }
        Ok(Taken::NoMoreAnswers) => {
            return bad_request("invalid_request", "this request takes no more answers");
        }
        Ok(Taken::Busy) => {
            return (
                StatusCode::CONFLICT,
                axum::Json(json!({"error": "busy", "error_description": "another answer to this request is being checked; try again in a moment"})),
            )
                .into_response();
        }
        Err(refused) => return refused,
    };
    // Checked in place: decrypting and verifying an answer is pure computation (no store,
    // no network; the body is bounded) of about 150 µs, and a hop to the blocking pool cost
    // a third as much again (the service benchmark).
    let now = service.clock.now();
    let report = service
        .verifier
        .read()
        .map(|v| match &answer {
            Answer::Encrypted(jwe) => v.verify_online(&online.session, jwe, now),
            Answer::Error { error, state } => {
                v.wallet_error(&online.session, error, Some(state), now)
            }
        })
        .ok();
    // The customer photographed with the request against the disclosed portrait.
    let report = match report {
        Some(report) => {
            let live = Live::Template(online.face.clone(), online.face_live);
            with_face(&service, report, live).await
        }
        None => None,
    };
    online.answers += 1;
    // The latest answer's report stands until one is accepted, which closes the request.
    if let Some(report) = &report {
        online.accepted = report.accepted;
        online.report = serde_json::to_value(report).ok();
    }
    // The customer's face template is kept no longer than it can serve.
    if online.accepted || online.answers >= MAX_ANSWERS {
        online.face = None;
    }
    let accepted = online.accepted;
    if let Some(r) = &report {
        service.notice(r);
    }
    if let Err(refused) = in_store(&service, move |sessions| sessions.put_back(online)).await {
        return refused;
    }
    axum::Json(json!({ "accepted": accepted })).into_response()
}

async fn request_outcome(
    State(service): State<Arc<Service>>,
    Path(handle): Path<String>,
) -> Response {
    // By the requester's secret handle: the request's id is public.
    match in_store(&service, move |sessions| sessions.outcome(&handle)).await {
        // The report holds the disclosed attributes: no cache keeps it.
        Ok(Some(Some(report))) => (
            [(header::CACHE_CONTROL, "no-store")],
            axum::Json(json!({
                "status": if report["accepted"] == true { "accepted" } else { "refused" },
                "report": report,
            })),
        )
            .into_response(),
        Ok(Some(None)) => axum::Json(json!({"status": "pending"})).into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, "no such request").into_response(),
        Err(refused) => refused,
    }
}

async fn replace_trust_list(State(service): State<Arc<Service>>, body: String) -> Response {
    let now = service.clock.now();
    let Ok(mut verifier) = service.verifier.write() else {
        return poisoned();
    };
    match VerifiedTrustList::read(
        &body,
        &service.config.trust_roots,
        now,
        Some(verifier.trust()),
    ) {
        Ok(newer) => {
            let version = newer.list().version;
            verifier.replace_trust(newer, now);
            axum::Json(json!({"trust_list_version": version})).into_response()
        }
        Err(e) => bad_request("trust_list_refused", e.to_string()),
    }
}

async fn health(State(service): State<Arc<Service>>) -> Response {
    let now = service.clock.now();
    let Ok(verifier) = service.verifier.read() else {
        return poisoned();
    };
    let lists: Vec<_> = verifier
        .statuses()
        .held()
        .into_iter()
        .map(|(uri, issuer, issued_at)| {
            json!({"uri": uri, "issuer": issuer, "age_seconds": (now - issued_at).whole_seconds()})
        })
        .collect();
    axum::Json(json!({
        "relying_party": verifier.relying_party(),
        "trust_list_version": verifier.trust().list().version,
        "status_lists": lists,
    }))
    .into_response()
}

/// 200 when the service can decide: its trust list in force, and a status list held from
/// every source it follows; 503 saying what is missing otherwise.
async fn ready(State(service): State<Arc<Service>>) -> Response {
    let now = service.clock.now();
    let Ok(verifier) = service.verifier.read() else {
        return poisoned();
    };
    let mut missing = Vec::new();
    if verifier.trust().list().next_update <= now {
        missing.push("the trust list has passed its next update: PUT a newer one");
    }
    let follows =
        !service.config.status_lists.is_empty() || !service.config.status_shards.is_empty();
    if follows && verifier.statuses().held().is_empty() {
        missing.push("no status list is held yet");
    }
    if missing.is_empty() {
        axum::Json(json!({"ready": true})).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"ready": false, "missing": missing})),
        )
            .into_response()
    }
}

/// Prometheus: requests, verification outcomes, the trust list and the status lists held.
async fn metrics(State(service): State<Arc<Service>>) -> Response {
    let now = service.clock.now();
    let (version, held, oldest) = match service.verifier.read() {
        Ok(verifier) => {
            let held = verifier.statuses().held();
            let oldest = held
                .iter()
                .map(|(_, _, issued_at)| (now - *issued_at).whole_seconds())
                .max()
                .unwrap_or(0);
            (verifier.trust().list().version, held.len(), oldest)
        }
        Err(_) => return poisoned(),
    };
    eid_serve::metrics::render(
        &service.http,
        &[&service.outcomes],
        &[
            (
                "eid_trust_list_version",
                "The trust list version in force.",
                version as f64,
            ),
            (
                "eid_status_lists_held",
                "Status lists held, verified.",
                held as f64,
            ),
            (
                "eid_status_list_oldest_age_seconds",
                "Age of the oldest status list held.",
                oldest as f64,
            ),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::phone_address;

    #[test]
    fn a_phone_address_is_an_ip_literal_a_phone_can_have() {
        for good in ["127.0.0.1:7000", "192.168.1.20:7000", "[2001:db8::1]:7000"] {
            assert!(phone_address(good).is_some(), "{good}");
        }
        for bad in [
            "phone.example:7000",
            "0.0.0.0:7000",
            "169.254.169.254:80",
            "224.0.0.1:7000",
            "255.255.255.255:7000",
            "[fe80::1]:7000",
            "[::]:7000",
            "127.0.0.1:0",
            "127.0.0.1",
        ] {
            assert!(phone_address(bad).is_none(), "{bad}");
        }
    }
}
