//! What the wallet keeps of a Credential Response: only credentials of the configuration's
//! format, one per key asked, each bound to the key it was asked for.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is a failed test"
)]

use eid_crypto::{Signer, SigningKey, b64url};
use eid_mdoc::issue::ElementValue;
use eid_mdoc::offline::{CompactCredentialRequest, issue_compact};
use eid_wallet::enrolment::{EnrolError, Enrolment, Received, accept};
use time::Duration;
use time::macros::datetime;

fn compact_for(key: &SigningKey, issuer: &SigningKey) -> String {
    let now = datetime!(2026-11-23 10:00 UTC);
    b64url(
        &issue_compact(
            &CompactCredentialRequest {
                purpose: "age_check",
                provider: "superapp-a",
                attributes: &[("age_over_18".to_owned(), ElementValue::Bool(true))],
                device_key: key.verifying_key(),
                issued_at: now,
                expires_at: now + Duration::days(30),
                status: None,
            },
            issuer,
            issuer.verifying_key(),
        )
        .unwrap(),
    )
}

fn response(credentials: &[String]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "credentials": credentials.iter().map(|c| serde_json::json!({"credential": c})).collect::<Vec<_>>(),
    }))
    .unwrap()
}

#[test]
fn credentials_are_kept_only_when_bound_to_the_keys_asked_for() {
    let issuer = SigningKey::generate().unwrap();
    let (a, b) = (
        SigningKey::generate().unwrap(),
        SigningKey::generate().unwrap(),
    );
    let keys = [a.verifying_key().clone(), b.verifying_key().clone()];
    let both = response(&[compact_for(&a, &issuer), compact_for(&b, &issuer)]);
    let kept = accept("eid_compact_cwt", &both, &keys).unwrap();
    assert!(matches!(
        [&kept[0].received, &kept[1].received],
        [Received::Compact(_), Received::Compact(_)]
    ));
    // What the wallet keeps beside each: the purpose and the end, read where checked.
    assert_eq!(kept[0].format(), "eid_compact_cwt");
    assert_eq!(kept[0].purpose.as_deref(), Some("age_check"));
    assert_eq!(
        kept[0].ends,
        Some(datetime!(2026-11-23 10:00 UTC) + Duration::days(30))
    );
    // In the other order: the first is not bound to the first key.
    let swapped = response(&[compact_for(&b, &issuer), compact_for(&a, &issuer)]);
    assert!(matches!(
        accept("eid_compact_cwt", &swapped, &keys),
        Err(EnrolError::NotOurKey { index: 0 })
    ));
    // Fewer credentials than keys, another format than the configuration's, not JSON.
    assert!(matches!(
        accept(
            "eid_compact_cwt",
            &response(&[compact_for(&a, &issuer)]),
            &keys
        ),
        Err(EnrolError::Response(_))
    ));
    assert!(matches!(
        accept("mso_mdoc", &both, &keys),
        Err(EnrolError::Unreadable { index: 0, .. })
    ));
    assert!(matches!(
        accept("eid_compact_cwt", b"<html>", &keys),
        Err(EnrolError::Response(_))
    ));
}

#[test]
fn an_offer_by_value_is_read_and_its_token_form_carries_the_code() {
    let offer = eid_oid4vc::offer::CredentialOffer::pre_authorized(
        "https://nanning.eid.example",
        vec!["resident_identity_mdoc".into()],
        "code-1".into(),
        None,
    );
    let enrolment = Enrolment::from_offer(&offer.to_uri()).unwrap();
    assert_eq!(enrolment.issuer(), "https://nanning.eid.example");
    assert_eq!(
        enrolment.metadata_urls().0,
        "https://nanning.eid.example/.well-known/openid-credential-issuer"
    );
    let form = enrolment.token_form("123456");
    assert!(form.contains("pre-authorized_code=code-1"), "{form}");
    assert!(form.contains("tx_code=123456"), "{form}");
    assert!(matches!(
        Enrolment::from_offer("https://not-an-offer.example"),
        Err(EnrolError::Offer(_))
    ));
    // Metadata of another issuer than the offer's is refused.
    let other = serde_json::json!({
        "credential_issuer": "https://elsewhere.example",
        "credential_endpoint": "https://elsewhere.example/credential",
        "nonce_endpoint": "https://elsewhere.example/nonce",
        "credential_configurations_supported": {},
    });
    let server = serde_json::json!({
        "issuer": "https://elsewhere.example",
        "token_endpoint": "https://elsewhere.example/token",
        "grant_types_supported": [eid_oid4vc::GRANT_PRE_AUTHORIZED_CODE],
        "pre-authorized_grant_anonymous_access_supported": true,
    });
    assert!(matches!(
        enrolment.endpoints(other.to_string().as_bytes(), server.to_string().as_bytes()),
        Err(EnrolError::Metadata(_))
    ));
}

#[test]
fn a_move_report_says_it_is_a_move_and_a_lost_report_does_not() {
    let mut report = eid_oid4vc::eid::LostReport {
        id_number: "450102199003070671".into(),
        full_name: "张三".into(),
        face: "/9hqcGVn".into(),
        face_turned: "/9hqcGc=".into(),
        turn: "left".into(),
        wallet_proof: "proof".into(),
        moving: false,
    };
    let lost = serde_json::to_value(&report).unwrap();
    // The authority suspends on a lost report: no `move` at all.
    assert!(lost.get("move").is_none(), "{lost}");
    report.moving = true;
    let moved = serde_json::to_value(&report).unwrap();
    assert_eq!(moved["move"], true, "{moved}");
    let mut without = moved.clone();
    without.as_object_mut().unwrap().remove("move");
    assert_eq!(without, lost);
}

#[test]
fn credentials_held_for_someone_else_say_so_and_only_in_a_delegations_offer() {
    use eid_core::Relationship;
    use eid_wallet::enrolment::{Accepted, held_for};
    let of = |credential_type: &str, delegation: Option<&str>| Accepted {
        received: Received::Mdoc(Vec::new()),
        purpose: None,
        ends: None,
        credential_type: Some(credential_type.to_owned()),
        delegation: delegation.map(str::to_owned),
    };
    let (own, delegated) = (
        eid_mdoc::DOCTYPE_RESIDENT_IDENTITY,
        eid_mdoc::DOCTYPE_DELEGATED,
    );
    // The holder's own; a delegation's, naming one relationship.
    assert_eq!(held_for(&[of(own, None)], Some(own), false), Ok(None));
    assert_eq!(
        held_for(
            &[of(delegated, Some("parent")), of(delegated, Some("parent"))],
            Some(delegated),
            true
        ),
        Ok(Some(Relationship::Parent))
    );
    // Each fault, alone.
    for (received, signed_type, for_another, said) in [
        (
            vec![of(delegated, None)],
            Some(own),
            false,
            "not of the type",
        ),
        (
            vec![of(own, Some("parent"))],
            Some(own),
            false,
            "held for someone else",
        ),
        (
            vec![of(delegated, None)],
            Some(delegated),
            true,
            "name no holder",
        ),
        (
            vec![of(delegated, Some("uncle"))],
            Some(delegated),
            true,
            "does not know",
        ),
        (
            vec![
                of(delegated, Some("parent")),
                of(delegated, Some("guardian")),
            ],
            Some(delegated),
            true,
            "different relationships",
        ),
        // Metadata that names no type: the signed type still decides.
        (
            vec![of(delegated, Some("parent"))],
            None,
            false,
            "of a delegated type",
        ),
        (
            vec![of(own, Some("parent"))],
            None,
            true,
            "not of a delegated type",
        ),
        (Vec::new(), Some(delegated), true, "none came"),
    ] {
        let refused = held_for(&received, signed_type, for_another).unwrap_err();
        assert!(refused.contains(said), "{refused}");
    }
}
