//! A small world for the verifier's tests: a national root, the Nanning issuer (accepted in
//! Guangxi), two wallet providers (one suspended), relying parties with reader
//! certificates — a Nanning hotel, a Hangzhou hotel, a Nanning bar registered for age
//! checks only, a Nanning bank (online), a Nanning airport gate with only a scanner (no reader certificate) — and a
//! holder with a credential and its status list. Nanning's document-signer key also signs
//! its compact credentials for the offline QR (listed as its offline key).

#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is a failed test"
)]

use eid_core::OsRandom;
use eid_crypto::x509::AuthorityPki;
use eid_crypto::{Signer, SigningKey};
use eid_mdoc::issue::{ElementValue, IssueRequest};
use eid_status::{Bits, StatusList};
use eid_trust::model::ProviderState;
use eid_trust::{Purpose, TrustList, VerifiedTrustList};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

pub const NOW: OffsetDateTime = datetime!(2026-11-23 10:00 UTC);
pub const STATUS_URI: &str = "https://nanning.eid.example/status/0";
pub const IDX: u64 = 37;

pub struct Reader {
    pub id: &'static str,
    pub key: SigningKey,
    pub certificate: Vec<u8>,
}

pub struct World {
    pub root: SigningKey,
    pub draft: TrustList,
    pub trust: VerifiedTrustList,
    pub nanning: AuthorityPki,
    pub hotel: Reader,
    pub hangzhou_hotel: Reader,
    pub bar: Reader,
    pub bank: Reader,
    pub device_key: SigningKey,
    pub credential: Vec<u8>,
    pub status: StatusList,
}

fn reader(id: &'static str, reader: eid_testing::Reader) -> Reader {
    Reader {
        id,
        key: reader.key,
        certificate: reader.certificate,
    }
}

impl World {
    pub fn new() -> Self {
        let nanning = eid_testing::nanning(NOW);
        let [hotel, hangzhou_hotel, bar, bank] = eid_testing::PILOT_READERS
            .map(|(id, name, ..)| reader(id, eid_testing::reader(name, NOW)));
        let certificates = [&hotel, &hangzhou_hotel, &bar, &bank].map(|r| &r.certificate[..]);
        let mut draft = eid_testing::pilot(&nanning, certificates, NOW);
        // Faces are the face tests' business ([`World::requiring_face_match`]).
        draft.waive_face_match();
        eid_testing::list_provider(&mut draft, "superapp-a", None, ProviderState::Active);
        eid_testing::list_provider(&mut draft, "superapp-b", None, ProviderState::Suspended);
        let root = SigningKey::generate().unwrap();
        let trust = Self::sign(&root, &draft);
        let device_key = SigningKey::generate().unwrap();
        let credential = Self::issue(&nanning, &device_key, "superapp-a");
        Self {
            root,
            draft,
            trust,
            nanning,
            hotel,
            hangzhou_hotel,
            bar,
            bank,
            device_key,
            credential,
            status: StatusList::new(Bits::new(2).unwrap(), 1024).unwrap(),
        }
    }

    /// Nanning's SD-JWT VC for the world's device key, with the same status entry.
    pub fn sd_jwt(&self) -> String {
        let mut claims = eid_testing::her_claims("superapp-a");
        claims.remove("age_over_18");
        self.sd_jwt_with(&claims)
    }

    /// [`Self::sd_jwt`] with `claims`.
    pub fn sd_jwt_with(&self, claims: &serde_json::Map<String, serde_json::Value>) -> String {
        eid_sdjwt::issue(
            &eid_sdjwt::IssueRequest {
                claims,
                vct: eid_sdjwt::VCT_RESIDENT_IDENTITY,
                issuer: Some("https://nanning.eid.example"),
                holder_key: self.device_key.verifying_key(),
                issued_at: NOW - Duration::days(1),
                expires_at: Some(NOW + Duration::days(90)),
                status: Some(eid_core::status::StatusListReference {
                    idx: IDX,
                    uri: STATUS_URI.into(),
                }),
                x5c: std::slice::from_ref(&self.nanning.ds.0),
                decoys: 2,
            },
            &self.nanning.ds_key,
            &OsRandom,
        )
        .unwrap()
    }

    pub fn sign(root: &SigningKey, draft: &TrustList) -> VerifiedTrustList {
        eid_testing::sign_trust_list(draft, root, NOW - Duration::minutes(1)).1
    }

    /// The next version of the world's trust list, changed by `change`, signed by the root:
    /// the JWS and the list read as newer than the world's.
    pub fn next_trust_list(
        &self,
        change: impl FnOnce(&mut TrustList),
    ) -> (String, VerifiedTrustList) {
        let mut draft = self.draft.clone();
        draft.version = self.trust.list().version;
        change(&mut draft);
        let (jws, _) = eid_trust::signed::sign(&draft, &self.root, NOW, Duration::days(7)).unwrap();
        let read = VerifiedTrustList::read(
            &jws,
            &[self.root.verifying_key().clone()],
            NOW,
            Some(&self.trust),
        )
        .unwrap();
        (jws, read)
    }

    /// [`Self::next_trust_list`] requiring a face match for `purpose`.
    pub fn requiring_face_match(&self, purpose: Purpose) -> (String, VerifiedTrustList) {
        self.next_trust_list(|draft| {
            draft
                .purposes
                .iter_mut()
                .find(|p| p.purpose == purpose)
                .unwrap()
                .face_match_required = true;
        })
    }

    /// [`Self::next_trust_list`] with `purpose` requiring the face match and accepting
    /// printed codes, or not.
    pub fn with_paper(&self, purpose: Purpose, allowed: bool) -> (String, VerifiedTrustList) {
        self.next_trust_list(|draft| {
            let entry = draft
                .purposes
                .iter_mut()
                .find(|p| p.purpose == purpose)
                .unwrap();
            entry.face_match_required = true;
            entry.paper_allowed = allowed;
        })
    }

    /// A resident credential held in `provider`'s wallet.
    pub fn issue(pki: &AuthorityPki, device_key: &SigningKey, provider: &str) -> Vec<u8> {
        Self::issue_with_status(
            pki,
            device_key,
            provider,
            eid_core::status::StatusListReference {
                idx: IDX,
                uri: STATUS_URI.into(),
            },
        )
    }

    /// The same, with its status entry at `status`.
    pub fn issue_with_status(
        pki: &AuthorityPki,
        device_key: &SigningKey,
        provider: &str,
        status: eid_core::status::StatusListReference,
    ) -> Vec<u8> {
        Self::issue_with_chain(
            pki,
            device_key,
            provider,
            status,
            std::slice::from_ref(&pki.ds.0),
        )
    }

    /// The same, with `x5chain` in its header (the authority puts the DS certificate and
    /// its IACA there).
    pub fn issue_with_chain(
        pki: &AuthorityPki,
        device_key: &SigningKey,
        provider: &str,
        status: eid_core::status::StatusListReference,
        x5chain: &[Vec<u8>],
    ) -> Vec<u8> {
        Self::issue_with_portrait(
            pki,
            device_key,
            provider,
            status,
            x5chain,
            &[0xff, 0xd8, 0xff],
        )
    }

    /// The same, with `portrait` (JPEG bytes) as the portrait.
    pub fn issue_with_portrait(
        pki: &AuthorityPki,
        device_key: &SigningKey,
        provider: &str,
        status: eid_core::status::StatusListReference,
        x5chain: &[Vec<u8>],
        portrait: &[u8],
    ) -> Vec<u8> {
        let name_spaces = eid_testing::her_name_spaces(provider, portrait);
        Self::issue_name_spaces(pki, device_key, status, x5chain, &name_spaces)
    }

    /// An mdoc of `name_spaces`.
    pub fn issue_name_spaces(
        pki: &AuthorityPki,
        device_key: &SigningKey,
        status: eid_core::status::StatusListReference,
        x5chain: &[Vec<u8>],
        name_spaces: &[(String, Vec<(String, ElementValue)>)],
    ) -> Vec<u8> {
        eid_mdoc::issue::issue(
            &IssueRequest {
                doc_type: eid_mdoc::DOCTYPE_RESIDENT_IDENTITY,
                name_spaces,
                device_key: device_key.verifying_key(),
                valid_from: NOW - Duration::days(1),
                valid_until: NOW + Duration::days(90),
                status: Some(status),
                x5chain,
            },
            &pki.ds_key,
            &OsRandom,
        )
        .unwrap()
    }

    /// A verifier for `relying_party` holding the status list as fetched 5 minutes ago.
    pub fn verifier(&self, relying_party: &str) -> eid_verifier::Verifier {
        self.verifier_under(&self.trust, relying_party)
    }

    /// [`Self::verifier`] under `trust`.
    pub fn verifier_under(
        &self,
        trust: &VerifiedTrustList,
        relying_party: &str,
    ) -> eid_verifier::Verifier {
        let mut verifier = eid_verifier::Verifier::new(trust.clone(), relying_party, NOW);
        verifier
            .store_status_list(
                "cn-4501",
                STATUS_URI,
                &self.status_token(NOW - Duration::minutes(5)),
                NOW,
            )
            .unwrap();
        verifier
    }

    /// An airport credential for the offline QR (three attributes), naming `status`.
    pub fn airport_credential(
        &self,
        status: &eid_core::status::StatusListReference,
    ) -> eid_mdoc::offline::CompactCredential {
        self.airport_credential_with(status, None)
    }

    /// The same, carrying `face_template` (an `eid_face::Template`'s bytes) if given.
    pub fn airport_credential_with(
        &self,
        status: &eid_core::status::StatusListReference,
        face_template: Option<&[u8]>,
    ) -> eid_mdoc::offline::CompactCredential {
        let mut attributes = vec![
            ("family_name".to_owned(), ElementValue::Text("韦".into())),
            ("given_name".to_owned(), ElementValue::Text("小兰".into())),
            (
                "document_number".to_owned(),
                ElementValue::Text("450103199003070024".into()),
            ),
        ];
        if let Some(template) = face_template {
            attributes.push((
                eid_mdoc::offline::FACE_TEMPLATE.to_owned(),
                ElementValue::Bytes(template.to_vec()),
            ));
        }
        let bytes = eid_mdoc::offline::issue_compact(
            &eid_mdoc::offline::CompactCredentialRequest {
                purpose: "airport_security",
                provider: "superapp-a",
                attributes: &attributes,
                device_key: self.device_key.verifying_key(),
                issued_at: NOW - Duration::days(1),
                expires_at: NOW + Duration::days(90),
                status: Some(status),
            },
            &self.nanning.ds_key,
            self.nanning.ds_key.verifying_key(),
        )
        .unwrap();
        eid_mdoc::offline::CompactCredential::from_cbor(&bytes).unwrap()
    }

    /// The status list as the issuer would serve it, issued `at`.
    pub fn status_token(&self, at: OffsetDateTime) -> Vec<u8> {
        eid_testing::status_token(&self.nanning, STATUS_URI, &self.status, at).into_bytes()
    }
}
