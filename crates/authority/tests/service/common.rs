//! A running authority in-process, a registry, two wallet providers and a phone.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use eid_authority::{Authority, DocumentSigners, Settings, admin_router, public_router};
use eid_core::{Clock, FixedClock, OsRandom, ResidentCard};
use eid_crypto::x509::AuthorityPki;
use eid_crypto::{Signer, SigningKey, VerifyingKey};
use eid_oid4vc::offer::CredentialOffer;
use eid_oid4vc::proof::{KeyAttestation, key_proof};
use eid_store::Store;
use eid_trust::VerifiedTrustList;
use eid_trust::model::{ProviderState, TrustList, WalletProvider};
use serde_json::Value;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use tower::ServiceExt;

pub const NOW: OffsetDateTime = datetime!(2026-11-23 10:00 UTC);
pub const ISSUER: &str = "https://authority.test";
pub const ADMIN_TOKEN: &str = "admin-token-for-tests";
/// What resolving a pseudonym needs besides the admin token.
pub const RESOLUTION_TOKEN: &str = "resolution-token-for-tests";

pub struct World {
    pub authority: Arc<Authority>,
    pub public: Router,
    pub admin: Router,
    pub pki: Arc<AuthorityPki>,
    pub providers: Arc<Vec<(String, SigningKey)>>,
    pub residents: Vec<ResidentCard>,
    /// The authority's clock: the phones and checks of the helpers below go by it.
    pub clock: Arc<dyn Clock>,
}

/// Residents from the registry generator, all with cards usable today.
pub fn residents(count: u64) -> Vec<ResidentCard> {
    eid_testing::residents(count, NOW.date())
}

impl World {
    pub async fn new(database_url: &str) -> Self {
        Self::with_signers(database_url, Arc::new(FixedClock(NOW)), pki_signer).await
    }

    /// An authority at `clock` whose document signers `issuer` makes from the authority's
    /// PKI.
    pub async fn with_signers(
        database_url: &str,
        clock: Arc<dyn Clock>,
        issuer: impl FnOnce(&AuthorityPki) -> DocumentSigners,
    ) -> Self {
        let pki =
            eid_testing::authority("Nanning PSB", ISSUER, NOW - Duration::days(1), (3650, 365));
        Self::with_pki(database_url, clock, pki, issuer).await
    }

    /// An authority at `clock` with the PKI `pki`, whose document signers `issuer` makes.
    pub async fn with_pki(
        database_url: &str,
        clock: Arc<dyn Clock>,
        pki: AuthorityPki,
        issuer: impl FnOnce(&AuthorityPki) -> DocumentSigners,
    ) -> Self {
        let store = Store::connect(database_url).await.unwrap();
        let residents = residents(40);
        store.import_residents(&residents, NOW).await.unwrap();
        let providers: Vec<(String, SigningKey)> = ["wechat", "alipay"]
            .into_iter()
            .map(|id| (id.to_owned(), SigningKey::generate().unwrap()))
            .collect();
        let signers = issuer(&pki);
        Self::assemble(
            store,
            Arc::new(pki),
            Arc::new(providers),
            residents,
            signers,
            clock,
        )
    }

    /// Another replica of this world's authority, as a second `eid authority serve` behind
    /// the load balancer: its own connections to the same store (`database_url`), the same
    /// issuer key, PKI, wallet providers and settings.
    pub async fn replica(&self, database_url: &str) -> Self {
        let store = Store::connect(database_url).await.unwrap();
        Self::assemble(
            store,
            self.pki.clone(),
            self.providers.clone(),
            self.residents.clone(),
            pki_signer(&self.pki),
            self.clock.clone(),
        )
    }

    fn assemble(
        store: Store,
        pki: Arc<AuthorityPki>,
        providers: Arc<Vec<(String, SigningKey)>>,
        residents: Vec<ResidentCard>,
        signers: DocumentSigners,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let mut list = TrustList::new(NOW);
        // Faces are the face tests' business (`require_face_match`).
        list.waive_face_match();
        list.wallet_providers = providers
            .iter()
            .map(|(id, key)| WalletProvider {
                id: id.clone(),
                name: id.clone(),
                attestation_keys: vec![key.verifying_key().to_jwk()],
                state: ProviderState::Active,
            })
            .collect();
        // The authority itself, listed as verifiers see it: its IACA, and every document
        // signer's key for the offline codes.
        eid_trust::edit::add_issuer(
            &mut list,
            "cn-4501",
            "Nanning PSB",
            std::slice::from_ref(&pki.iaca.0),
            Vec::new(),
            NOW,
            false,
        )
        .unwrap();
        eid_trust::edit::set_offline_keys(
            &mut list,
            "cn-4501",
            signers
                .all()
                .iter()
                .map(|s| s.signer().verifying_key().to_jwk())
                .collect(),
        )
        .unwrap();
        let mut settings = Settings::new(ISSUER, ADMIN_TOKEN, [7; 32]);
        settings.resolution_token = Some(RESOLUTION_TOKEN.into());
        let authority = Arc::new(Authority::new(
            settings,
            store,
            signers,
            VerifiedTrustList::dangerous_unsigned(list),
            clock.clone(),
            Arc::new(OsRandom),
        ));
        Self {
            public: public_router(authority.clone()),
            admin: admin_router(authority.clone()),
            authority,
            pki,
            providers,
            residents,
            clock,
        }
    }

    /// The same world with its authority changed by `change` (given NATS, say).
    pub async fn map_authority(self, change: impl FnOnce(Authority) -> Authority) -> Self {
        let Self {
            authority,
            public,
            admin,
            pki,
            providers,
            residents,
            clock,
        } = self;
        drop((public, admin));
        // The outbox relay holds the authority for the length of a pass: wait it out.
        let mut authority = authority;
        let authority = loop {
            match Arc::try_unwrap(authority) {
                Ok(inner) => break inner,
                Err(shared) => {
                    authority = shared;
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
            }
        };
        let authority = Arc::new(change(authority));
        Self {
            public: public_router(authority.clone()),
            admin: admin_router(authority.clone()),
            authority,
            pki,
            providers,
            residents,
            clock,
        }
    }

    /// The authority's time now.
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    pub fn provider(&self, id: &str) -> &SigningKey {
        &self.providers.iter().find(|(p, _)| p == id).unwrap().1
    }
}

/// The document signer of `pki` alone (a copy of its key).
pub fn pki_signer(pki: &AuthorityPki) -> DocumentSigners {
    let key = SigningKey::from_pkcs8_der_allowing(
        &pki.ds_key.to_pkcs8_der().unwrap(),
        &[pki.ds_key.algorithm()],
    )
    .unwrap();
    DocumentSigners::one(Arc::new(key), vec![pki.ds.0.clone()]).unwrap()
}

/// Runs `test` against a world on a scratch PostgreSQL database (dropped afterwards); when
/// `EID_TEST_POSTGRES_URL` is not set, skips saying so (fails under CI).
pub async fn on_postgres(tag: &str, test: impl AsyncFnOnce(&World)) {
    let Some(scratch) = eid_store::ScratchPostgres::create(tag).await.unwrap() else {
        return;
    };
    let world = World::new(&scratch.url).await;
    test(&world).await;
    world.authority.store().close().await;
    scratch.drop_database().await.unwrap();
}

/// A response's status and body (JSON, or a string for anything else).
pub async fn send(router: &Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
        .await
        .unwrap();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, value)
}

pub fn admin_post(path: &str, body: Value) -> Request<Body> {
    Request::post(path)
        .header(header::AUTHORIZATION, format!("Bearer {ADMIN_TOKEN}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

pub fn form_post(path: &str, form: &[(&str, &str)]) -> Request<Body> {
    let body: String = form
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&");
    Request::post(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap()
}

fn urlencode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A phone of `provider`: its wallet instance id and batch keys.
pub struct Phone {
    pub provider: String,
    pub instance: String,
    pub keys: Vec<SigningKey>,
}

impl Phone {
    pub fn new(provider: &str, instance: &str, batch: usize) -> Self {
        Self {
            provider: provider.into(),
            instance: instance.into(),
            keys: (0..batch)
                .map(|_| SigningKey::generate().unwrap())
                .collect(),
        }
    }

    pub fn public_keys(&self) -> Vec<VerifyingKey> {
        self.keys
            .iter()
            .map(|k| k.verifying_key().clone())
            .collect()
    }

    /// The provider's attestation of all its keys.
    pub fn attestation(&self, world: &World) -> String {
        KeyAttestation {
            provider: &self.provider,
            wallet_instance: &self.instance,
            keys: &self.public_keys(),
            key_storage: &["iso_18045_high"],
            user_authentication: &["iso_18045_high"],
            issued_at: world.now(),
            expires_at: world.now() + Duration::hours(1),
        }
        .sign(world.provider(&self.provider))
        .unwrap()
    }

    pub fn proofs(&self, world: &World, nonce: &str) -> Vec<String> {
        let attestation = self.attestation(world);
        self.keys
            .iter()
            .map(|k| key_proof(k, ISSUER, nonce, world.now(), Some(&attestation)).unwrap())
            .collect()
    }
}

/// The admin API's audit log, its last `limit` entries, as the JSON text served.
pub async fn audit_log(world: &World, limit: usize) -> String {
    let response = world
        .admin
        .clone()
        .oneshot(
            Request::get(format!("/admin/audit?limit={limit}"))
                .header(header::AUTHORIZATION, format!("Bearer {ADMIN_TOKEN}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// Counter enrolment of `card`, returning the offer and its transaction code.
pub async fn enrol(world: &World, card: &ResidentCard) -> (CredentialOffer, String) {
    let (status, body) = send(
        &world.admin,
        admin_post(
            "/admin/enrolments",
            serde_json::json!({
                "id_number": card.id_number.expose(),
                "full_name": card.full_name,
                "officer": "officer-7",
            }),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let offer = CredentialOffer::from_uri(body["offer_uri"].as_str().unwrap()).unwrap();
    (offer, body["tx_code"].as_str().unwrap().to_owned())
}

/// The pre-authorized flow for `configuration`: token, nonce, credential with `phone`'s
/// proofs. Returns the credentials.
pub async fn obtain(
    world: &World,
    offer: &CredentialOffer,
    tx_code: &str,
    phone: &Phone,
    configurations: &[&str],
) -> Vec<Vec<String>> {
    let access = access_token(world, offer, tx_code).await;
    let mut out = Vec::new();
    for configuration in configurations {
        let (status, body) = request_credential(world, &access, configuration, phone).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        out.push(
            body["credentials"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["credential"].as_str().unwrap().to_owned())
                .collect(),
        );
    }
    out
}

/// Makes the authority's trust list require a face match for `purpose`.
pub fn require_face_match(world: &World, purpose: eid_trust::Purpose) {
    let mut list = world.authority.trust_list().list().clone();
    list.purposes
        .iter_mut()
        .find(|p| p.purpose == purpose)
        .unwrap()
        .face_match_required = true;
    world
        .authority
        .set_trust_list(VerifiedTrustList::dangerous_unsigned(list));
}

/// The access token for `offer`'s pre-authorized code and `tx_code`.
pub async fn access_token(world: &World, offer: &CredentialOffer, tx_code: &str) -> String {
    let code = &offer.grants.pre_authorized_code.code;
    let (status, token) = send(
        &world.public,
        form_post(
            "/token",
            &[
                ("grant_type", eid_oid4vc::GRANT_PRE_AUTHORIZED_CODE),
                ("pre-authorized_code", code),
                ("tx_code", tx_code),
            ],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{token}");
    token["access_token"].as_str().unwrap().to_owned()
}

pub async fn nonce(world: &World) -> String {
    let (status, body) = send(
        &world.public,
        Request::post("/nonce").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    body["c_nonce"].as_str().unwrap().to_owned()
}

pub async fn request_credential(
    world: &World,
    access: &str,
    configuration: &str,
    phone: &Phone,
) -> (StatusCode, Value) {
    let nonce = nonce(world).await;
    let request = eid_oid4vc::credential::CredentialRequest::with_jwt_proofs(
        configuration,
        phone.proofs(world, &nonce),
    );
    post_credential(world, access, &request).await
}

/// Posts a credential request with the access token.
pub async fn post_credential(
    world: &World,
    access: &str,
    request: &eid_oid4vc::credential::CredentialRequest,
) -> (StatusCode, Value) {
    send(
        &world.public,
        Request::post("/credential")
            .header(header::AUTHORIZATION, format!("Bearer {access}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(serde_json::to_vec(request).unwrap()))
            .unwrap(),
    )
    .await
}

/// A TCP forwarder to a server (NATS, PostgreSQL) that a test can cut and restore: the
/// server "going away" without touching the shared one.
pub struct Cable {
    pub port: u16,
    task: Option<tokio::task::JoinHandle<()>>,
    target: String,
}

impl Cable {
    pub async fn new(target: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut cable = Self {
            port,
            task: None,
            target: target.to_owned(),
        };
        cable.task = Some(tokio::spawn(forward(listener, cable.target.clone())));
        cable
    }

    pub fn cut(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }

    pub async fn restore(&mut self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .unwrap();
        self.task = Some(tokio::spawn(forward(listener, self.target.clone())));
    }
}

/// Forwards every connection to `target`; aborting it closes them all.
async fn forward(listener: tokio::net::TcpListener, target: String) {
    let mut pipes = tokio::task::JoinSet::new();
    loop {
        let Ok((mut inbound, _)) = listener.accept().await else {
            return;
        };
        let target = target.clone();
        pipes.spawn(async move {
            if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
    }
}
