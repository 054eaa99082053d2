//! The hosted wallets' JSON API, under `/providers/<id>/api` (what the wallet page and
//! `eid demo` call). The wallet id is the browser's handle to its wallet (128 random
//! bits); the PIN unlocks the device key for every operation that uses it.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::hosted::{Identity, Provider, Refused};

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        if status.is_server_error() {
            tracing::error!(target: "eid::provider", message = %self.message, "refused with a server error");
        }
        (
            status,
            Json(json!({ "error": self.code, "error_description": eid_serve::cut(&self.message, 300) })),
        )
            .into_response()
    }
}

type Body<T> = Result<Json<T>, axum::extract::rejection::JsonRejection>;

fn body<T>(body: Body<T>) -> Result<T, Refused> {
    body.map(|Json(b)| b).map_err(|e| Refused {
        status: 400,
        code: "invalid_request",
        message: e.body_text(),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Pin {
    pin: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Enrol {
    pin: String,
    /// Remote enrolment: the identity and the photographs (base64 JPEG).
    id_number: Option<String>,
    full_name: Option<String>,
    card_front: Option<String>,
    card_back: Option<String>,
    face: Option<String>,
    /// The face again, the head turned to the `turn` ("left" or "right") the app asked.
    face_turned: Option<String>,
    turn: Option<String>,
    /// Or an offer and its code from the counter.
    offer: Option<String>,
    tx_code: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StartBackup {
    pin: String,
    /// The recovery code is lost: replace the backup the provider keeps (its entries lost).
    #[serde(default)]
    over: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Restore {
    pin: String,
    /// The code the wallet showed when the backup was made.
    recovery_code: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Offline {
    pin: String,
    purpose: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Invocation {
    invocation: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Decision {
    share: bool,
    pin: Option<String>,
    /// The holding to show from (a credential held for someone else), not the holder's own.
    held_for: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Lost {
    pin: String,
    id_number: String,
    full_name: String,
    face: String,
    face_turned: String,
    turn: String,
    /// Moving to this wallet, which holds her credentials now: the others are revoked.
    #[serde(default, rename = "move")]
    moving: bool,
}

/// The routes of one provider.
pub fn provider_router(provider: Arc<Provider>) -> Router {
    Router::new()
        .route("/wallets", post(create))
        .route("/wallets/{wallet}", get(card))
        .route(
            "/wallets/{wallet}/enrol",
            post(enrol).layer(DefaultBodyLimit::max(12 << 20)),
        )
        .route("/wallets/{wallet}/refresh", post(refresh))
        .route("/wallets/{wallet}/history", get(history))
        .route("/wallets/{wallet}/backup", post(backup_start))
        .route("/wallets/{wallet}/backup/restore", post(backup_restore))
        .route("/wallets/{wallet}/offline", post(offline))
        .route("/wallets/{wallet}/online", post(online))
        .route("/wallets/{wallet}/online/{session}", post(online_decide))
        .route(
            "/wallets/{wallet}/digital-credentials",
            post(digital_credential),
        )
        .route("/wallets/{wallet}/in-person", post(in_person))
        .route(
            "/wallets/{wallet}/in-person/{session}",
            get(in_person_state).post(in_person_decide),
        )
        .route(
            "/wallets/{wallet}/report-lost",
            post(report_lost).layer(DefaultBodyLimit::max(6 << 20)),
        )
        .with_state(provider)
}

type Answer = Result<Json<Value>, Refused>;

async fn create(State(provider): State<Arc<Provider>>, pin: Body<Pin>) -> Answer {
    let pin = body(pin)?;
    let id = provider.create(&pin.pin).await?;
    Ok(Json(json!({ "wallet": id, "provider": provider.id() })))
}

async fn card(State(provider): State<Arc<Provider>>, Path(wallet): Path<String>) -> Answer {
    Ok(Json(provider.card(&wallet).await?))
}

async fn enrol(
    State(provider): State<Arc<Provider>>,
    Path(wallet): Path<String>,
    request: Body<Enrol>,
) -> Answer {
    let request = body(request)?;
    if let (Some(offer), Some(code)) = (&request.offer, &request.tx_code) {
        return Ok(Json(
            provider
                .enrol_with_offer(&wallet, offer, code, &request.pin)
                .await?,
        ));
    }
    let (
        Some(id_number),
        Some(full_name),
        Some(card_front),
        Some(card_back),
        Some(face),
        Some(face_turned),
        Some(turn),
    ) = (
        request.id_number,
        request.full_name,
        request.card_front,
        request.card_back,
        request.face,
        request.face_turned,
        request.turn,
    )
    else {
        return Err(Refused {
            status: 400,
            code: "invalid_request",
            message: "give either offer and tx_code (from the counter) or id_number, full_name, card_front, card_back, face, face_turned and turn".into(),
        });
    };
    let identity = Identity {
        id_number: &id_number,
        full_name: &full_name,
    };
    Ok(Json(
        provider
            .enrol_remote(
                &wallet,
                identity,
                [&card_front, &card_back],
                [&face, &face_turned, &turn],
                &request.pin,
            )
            .await?,
    ))
}

async fn refresh(
    State(provider): State<Arc<Provider>>,
    Path(wallet): Path<String>,
    pin: Body<Pin>,
) -> Answer {
    let pin = body(pin)?;
    Ok(Json(provider.refresh(&wallet, &pin.pin).await?))
}

async fn history(State(provider): State<Arc<Provider>>, Path(wallet): Path<String>) -> Answer {
    Ok(Json(json!({ "history": provider.history(&wallet).await? })))
}

async fn backup_start(
    State(provider): State<Arc<Provider>>,
    Path(wallet): Path<String>,
    request: Body<StartBackup>,
) -> Answer {
    let request = body(request)?;
    Ok(Json(
        provider
            .backup_start(&wallet, &request.pin, request.over)
            .await?,
    ))
}

async fn backup_restore(
    State(provider): State<Arc<Provider>>,
    Path(wallet): Path<String>,
    request: Body<Restore>,
) -> Answer {
    let request = body(request)?;
    Ok(Json(
        provider
            .backup_restore(&wallet, &request.pin, &request.recovery_code)
            .await?,
    ))
}

async fn offline(
    State(provider): State<Arc<Provider>>,
    Path(wallet): Path<String>,
    request: Body<Offline>,
) -> Answer {
    let request = body(request)?;
    Ok(Json(
        provider
            .offline_code(&wallet, &request.purpose, &request.pin)
            .await?,
    ))
}

async fn online(
    State(provider): State<Arc<Provider>>,
    Path(wallet): Path<String>,
    request: Body<Invocation>,
) -> Answer {
    let request = body(request)?;
    Ok(Json(
        provider
            .online_receive(&wallet, &request.invocation)
            .await?,
    ))
}

async fn online_decide(
    State(provider): State<Arc<Provider>>,
    Path((wallet, session)): Path<(String, String)>,
    request: Body<Decision>,
) -> Answer {
    let request = body(request)?;
    let pin = request.pin.unwrap_or_default();
    Ok(Json(
        provider
            .online_decide(&wallet, &session, request.share, &pin, request.held_for)
            .await?,
    ))
}

/// A web page's Digital Credentials API request, as the phone's platform hands it over.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HandedRequest {
    protocol: String,
    data: Value,
    origin: String,
    pin: String,
    /// Shares a credential the holder holds for someone else: the holding's id.
    #[serde(default)]
    held_for: Option<i64>,
}

async fn digital_credential(
    State(provider): State<Arc<Provider>>,
    Path(wallet): Path<String>,
    request: Body<HandedRequest>,
) -> Answer {
    let request = body(request)?;
    Ok(Json(
        provider
            .digital_credential(
                &wallet,
                &request.protocol,
                &request.data,
                &request.origin,
                &request.pin,
                request.held_for,
            )
            .await?,
    ))
}

async fn in_person(State(provider): State<Arc<Provider>>, Path(wallet): Path<String>) -> Answer {
    Ok(Json(provider.in_person_start(&wallet).await?))
}

async fn in_person_state(
    State(provider): State<Arc<Provider>>,
    Path((wallet, session)): Path<(String, String)>,
) -> Answer {
    Ok(Json(provider.in_person_state(&wallet, &session)?))
}

async fn in_person_decide(
    State(provider): State<Arc<Provider>>,
    Path((wallet, session)): Path<(String, String)>,
    request: Body<Decision>,
) -> Answer {
    let request = body(request)?;
    let pin = if request.share {
        Some(request.pin.ok_or(Refused {
            status: 400,
            code: "invalid_request",
            message: "sharing needs the PIN".into(),
        })?)
    } else {
        None
    };
    provider
        .in_person_decide(&wallet, &session, pin, request.held_for)
        .await?;
    Ok(Json(json!({ "decided": true })))
}

async fn report_lost(
    State(provider): State<Arc<Provider>>,
    Path(wallet): Path<String>,
    request: Body<Lost>,
) -> Answer {
    let request = body(request)?;
    let identity = Identity {
        id_number: &request.id_number,
        full_name: &request.full_name,
    };
    let capture = [
        request.face.as_str(),
        request.face_turned.as_str(),
        request.turn.as_str(),
    ];
    Ok(Json(
        provider
            .report_lost(&wallet, identity, capture, request.moving, &request.pin)
            .await?,
    ))
}
