//! The face without the real model: a stand-in model, and the refusals before anything is asked.

use std::sync::Arc;

use eid_trust::Purpose;
use serde_json::{Value, json};

use crate::common::World;
use crate::served;
use crate::{call, start_with};

/// A stand-in face model for tests without the real one: a picture's face is its last byte,
/// and two pictures whose last bytes are within one of each other are the same person
/// (distance 0.1; else 0.9). Its templates hold the byte in every dimension.
pub(crate) struct LastByte;

impl LastByte {
    fn face(picture: &[u8]) -> Result<f64, eid_face::ImageError> {
        picture
            .last()
            .map(|&b| f64::from(b))
            .ok_or(eid_face::ImageError::NoFace("picture"))
    }

    fn of(template: &eid_face::Template) -> f64 {
        (template.embedding().0[0] * 512.0).round()
    }

    fn apart(a: f64, b: f64) -> f64 {
        if (a - b).abs() <= 1.0 { 0.1 } else { 0.9 }
    }
}

impl eid_face::CompareFaces for LastByte {
    fn distance(&self, reference: &[u8], live: &[u8]) -> Result<f64, eid_face::ImageError> {
        Ok(Self::apart(Self::face(reference)?, Self::face(live)?))
    }

    fn distance_to_template(
        &self,
        template: &eid_face::Template,
        live: &[u8],
    ) -> Result<f64, eid_face::ImageError> {
        Ok(Self::apart(Self::of(template), Self::face(live)?))
    }

    fn live_template(&self, live: &[u8]) -> Result<eid_face::Template, eid_face::ImageError> {
        let face = Self::face(live)? / 512.0;
        Ok(eid_face::Embedding([face; eid_face::DIMENSIONS]).template())
    }

    fn distance_from_template(
        &self,
        reference: &[u8],
        live: &eid_face::Template,
    ) -> Result<f64, eid_face::ImageError> {
        Ok(Self::apart(Self::face(reference)?, Self::of(live)))
    }

    fn threshold(&self) -> f64 {
        0.6
    }
}

/// A desk without a face model, under a trust list requiring a face match for its purpose,
/// refuses `face_not_supported` before asking anything: in person the phone is never
/// contacted, an offline code is not even read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desk_without_a_face_model_refuses_where_a_match_is_required_before_asking() {
    let world = World::new();
    let served = served::serve(&world).await;
    let hotel = start_with(&world, &served, "nanning-hotel", true, None, None, None).await;
    let gate = start_with(&world, &served, "nanning-airport", false, None, None, None).await;
    for (desk, purpose) in [
        (&hotel, Purpose::HotelCheckIn),
        (&gate, Purpose::AirportSecurity),
    ] {
        let (jws, _) = world.requiring_face_match(purpose);
        let (status, body) = call("PUT", &format!("{desk}/trust-list"), jws).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    }
    let phone = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    phone.set_nonblocking(true).unwrap();
    let address = phone.local_addr().unwrap().to_string();
    let engagement = eid_wallet::in_person::Engagement::new(Some(&address)).unwrap();
    let (status, body) = call(
        "POST",
        &format!("{hotel}/verify/in-person"),
        json!({"purpose": "hotel_check_in", "engagement": engagement.qr_uri()}).to_string(),
    )
    .await;
    let said = String::from_utf8_lossy(&body);
    assert_eq!(status, 400, "{said}");
    assert!(
        said.contains("face_not_supported")
            && said.contains("hotel_check_in requires a face match"),
        "{said}"
    );
    assert!(phone.accept().is_err(), "the phone was contacted");
    let (status, body) = call(
        "POST",
        &format!("{gate}/verify/offline?purpose=airport_security"),
        "not even a code".into(),
    )
    .await;
    let said = String::from_utf8_lossy(&body);
    assert_eq!(status, 400, "{said}");
    assert!(said.contains("face_not_supported"), "{said}");
}

/// What a bank's request says of a bad photograph, before any request is made: not base64
/// (`invalid_request`), no face in it (`face_unusable`), or a photograph sent to a desk with
/// no face model (`face_not_supported`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_photograph_with_an_online_request_is_refused_saying_why() {
    let world = World::new();
    let served = served::serve(&world).await;
    let faces = Some(Arc::new(LastByte) as Arc<dyn eid_face::CompareFaces>);
    let bank = start_with(&world, &served, "nanning-bank", true, None, None, faces).await;
    let plain = start_with(&world, &served, "nanning-bank", true, None, None, None).await;
    for (desk, face, error, says) in [
        (&bank, "%%% not base64", "invalid_request", "not base64"),
        (&bank, "", "face_unusable", "no face"),
        (&plain, "AAAA", "face_not_supported", "no face model"),
    ] {
        let (status, body) = call(
            "POST",
            &format!("{desk}/vp/requests"),
            json!({"purpose": "bank_account_opening", "face": face}).to_string(),
        )
        .await;
        let said = String::from_utf8_lossy(&body);
        assert_eq!(status, 400, "{said}");
        let said: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(said["error"], error, "{said}");
        assert!(
            said["error_description"].as_str().unwrap().contains(says),
            "{said}"
        );
    }
}
