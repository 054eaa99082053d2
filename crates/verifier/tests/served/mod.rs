//! A real authority serving its public listener on loopback, holding one credential (one
//! instance) in wallet instance `phone-1` of `superapp-a` for a resident of its registry
//! (whose valid card lets it be reinstated as well as suspended). Shared by `pushes.rs` and
//! the `kill_switch` benchmark.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use eid_authority::{Authority, Settings, admin_router, public_router};
use eid_core::status::StatusListReference;
use eid_core::{FixedClock, OsRandom};
use eid_crypto::SigningKey;
use eid_store::{NewCredential, Store};
use eid_trust::{TrustList, VerifiedTrustList};
use http_body_util::BodyExt;
use time::Duration;
use tower::ServiceExt;

use crate::common::{NOW, World};

const ADMIN: &str = "admin-token-for-tests";

pub struct Served {
    pub authority: Arc<Authority>,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The credential's status list entry.
    pub reference: StatusListReference,
}

/// Starts the authority, issuing with `world`'s Nanning PKI.
pub async fn serve(world: &World) -> Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let store = Store::connect("sqlite::memory:").await.unwrap();
    let resident = eid_testing::residents(20, NOW.date()).remove(0);
    store
        .import_residents(std::slice::from_ref(&resident), NOW)
        .await
        .unwrap();
    let positions = store
        .record_credential(
            &NewCredential {
                id: "credential-1",
                id_number: &resident.id_number,
                provider: "superapp-a",
                wallet_instance: "phone-1",
                configuration: "resident_identity_mdoc",
                delegation: None,
                issued_at: (NOW - Duration::days(1)).unix_timestamp(),
                expires_at: (NOW + Duration::days(90)).unix_timestamp(),
            },
            1,
            64,
            &OsRandom,
        )
        .await
        .unwrap();
    let (shard, idx) = positions[0];
    let ds_key = SigningKey::from_pkcs8_der(&world.nanning.ds_key.to_pkcs8_der().unwrap()).unwrap();
    let authority = Arc::new(Authority::new(
        Settings::new(&base, ADMIN, [7; 32]),
        store,
        eid_authority::DocumentSigners::one(Arc::new(ds_key), vec![world.nanning.ds.0.clone()])
            .unwrap(),
        VerifiedTrustList::dangerous_unsigned({
            let mut list = TrustList::new(NOW);
            list.waive_face_match();
            list
        }),
        Arc::new(FixedClock(NOW)),
        Arc::new(OsRandom),
    ));
    tokio::spawn(axum::serve(listener, public_router(authority.clone())).into_future());
    let reference = StatusListReference {
        idx,
        uri: format!("{base}/status/{shard}"),
    };
    Served {
        authority,
        base,
        reference,
    }
}

impl Served {
    /// The hotline's call on the admin listener: `suspend` or `reinstate` the wallet
    /// instance `phone-1`; asserts that its one instance changed.
    pub async fn wallet_action(&self, action: &str) {
        let response = admin_router(self.authority.clone())
            .oneshot(
                Request::post(format!("/admin/wallets/superapp-a/phone-1/{action}"))
                    .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let changed: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(changed["instances"], 1, "{action}: {changed}");
    }
}
