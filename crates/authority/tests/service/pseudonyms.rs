//! Pairwise pseudonyms: every credential carries, for each relying party registered for one,
//! the resident's pseudonym for it — the same in every instance, format and re-issue, on a
//! new phone too, different for every other relying party — and the authority resolves one
//! for a lawful request, in its audit log. Each is sealed to its relying party's key: the
//! wallet carries bytes it cannot read.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use eid_authority::credential::{CONFIG_MDOC, CONFIG_SD_JWT};
use eid_core::region::RegionCode;
use eid_crypto::hpke::HpkeRecipient;
use eid_crypto::pseudonym::{SEALED_OVERHEAD, open_sealed};
use eid_crypto::{Signer, SigningKey};
use eid_crypto::{b64url, b64url_decode};
use eid_mdoc::model::IssuerSigned;
use eid_sdjwt::UnverifiedSdJwt;
use eid_trust::edit::{add_relying_party, set_pseudonym_key};
use eid_trust::{PSEUDONYM, Purpose, VerifiedTrustList};
use serde_json::{Value, json};

use crate::common::*;

/// The relying parties' private keys their pseudonyms are sealed to, by id.
type Keys = BTreeMap<&'static str, HpkeRecipient>;

/// Registers `bank-a` (bank account opening) and `welfare-b` (welfare) for a pseudonym, each
/// with the key it is sealed to, `bank-c` for the bank's full set, which leaves the
/// pseudonym out, and `welfare-d` for a pseudonym without a key.
fn register_relying_parties(world: &World) -> Keys {
    let mut list = world.authority.trust_list().list().clone();
    let region = RegionCode::parse("450102").unwrap();
    let with_pseudonym = |attributes: &[&str]| {
        Some(
            attributes
                .iter()
                .chain([&PSEUDONYM])
                .map(|a| (*a).to_owned())
                .collect(),
        )
    };
    for (id, purpose, attributes) in [
        (
            "bank-a",
            Purpose::BankAccountOpening,
            with_pseudonym(&["family_name"]),
        ),
        ("welfare-b", Purpose::Welfare, with_pseudonym(&[])),
        ("bank-c", Purpose::BankAccountOpening, None),
        ("welfare-d", Purpose::Welfare, with_pseudonym(&[])),
    ] {
        add_relying_party(
            &mut list,
            id,
            id,
            region,
            &[(purpose, attributes)],
            None,
            false,
        )
        .unwrap();
    }
    assert_eq!(
        list.pseudonym_relying_parties().collect::<Vec<_>>(),
        ["bank-a", "welfare-b", "welfare-d"]
    );
    // `welfare-d` has no key, as in a list signed before pseudonyms were sealed (signing
    // refuses one now): it gets none, never one in the clear.
    let mut keys = Keys::new();
    for id in ["bank-a", "welfare-b"] {
        let key = SigningKey::generate().unwrap();
        set_pseudonym_key(&mut list, id, key.verifying_key().to_jwk()).unwrap();
        keys.insert(
            id,
            HpkeRecipient::from_pkcs8_pem(&key.to_pkcs8_pem().unwrap()).unwrap(),
        );
    }
    world
        .authority
        .set_trust_list(VerifiedTrustList::dangerous_unsigned(list));
    keys
}

/// A credential's pseudonym items, in either format: item → value (sealed), base64url.
fn pseudonyms(credential: &str) -> BTreeMap<String, String> {
    let is_pseudonym = |name: &str| name.starts_with("pseudonym:");
    if let Ok(sd) = UnverifiedSdJwt::parse(credential) {
        return sd
            .disclosures()
            .iter()
            .filter_map(|d| {
                let name = d.name.clone()?;
                is_pseudonym(&name).then(|| (name, d.value.as_str().unwrap().to_owned()))
            })
            .collect();
    }
    let signed = IssuerSigned::from_cbor(&b64url_decode(credential).unwrap()).unwrap();
    signed
        .name_spaces
        .iter()
        .flat_map(|(_, items)| items)
        .filter(|item| is_pseudonym(&item.element_identifier))
        .map(|item| {
            // A bstr, which the JSON form gives as standard base64.
            let value = eid_mdoc::model::element_to_json(&item.element_value).unwrap();
            let bytes = eid_crypto::b64_decode(value.as_str().unwrap()).unwrap();
            (item.element_identifier.clone(), b64url(&bytes))
        })
        .collect()
}

/// Every credential of `issued` (both formats, every instance) carries the same pseudonyms,
/// once each relying party opens its own with its key: item → pseudonym, base64url. What the
/// wallet holds is sealed — the pseudonym and its tag with HPKE's encapsulated key — and
/// differs between the two formats' requests.
fn the_one_set(issued: &[Vec<String>], keys: &Keys) -> BTreeMap<String, String> {
    let sealed: Vec<_> = issued.iter().flatten().map(|c| pseudonyms(c)).collect();
    assert_eq!(sealed.len(), 6);
    assert_ne!(sealed[0], sealed[5], "each request seals them anew");
    let opened: Vec<BTreeMap<String, String>> = sealed
        .iter()
        .map(|items| {
            items
                .iter()
                .map(|(item, value)| {
                    let rp = item.strip_prefix("pseudonym:").unwrap();
                    let value = b64url_decode(value).unwrap();
                    assert_eq!(value.len(), 24 + SEALED_OVERHEAD);
                    let pseudonym = open_sealed(&keys[rp], rp, &value).unwrap();
                    (item.clone(), b64url(&pseudonym))
                })
                .collect()
        })
        .collect();
    assert!(opened.iter().all(|s| *s == opened[0]), "{opened:?}");
    for items in &sealed {
        assert!(items.values().all(|v| !opened[0].values().any(|p| p == v)));
    }
    opened[0].clone()
}

/// `POST /admin/pseudonyms/resolve` with the admin token and `token` as the resolution token.
async fn resolve_with(world: &World, token: Option<&str>, body: Value) -> (StatusCode, Value) {
    let mut request = admin_post("/admin/pseudonyms/resolve", body);
    if let Some(token) = token {
        request
            .headers_mut()
            .insert("x-eid-resolution-token", token.parse().unwrap());
    }
    send(&world.admin, request).await
}

async fn resolve(world: &World, body: Value) -> (StatusCode, Value) {
    resolve_with(world, Some(RESOLUTION_TOKEN), body).await
}

#[tokio::test]
async fn each_relying_party_has_its_own_stable_pseudonym_which_only_the_authority_resolves() {
    let world = World::new("sqlite::memory:").await;
    let keys = register_relying_parties(&world);
    let (card, other) = (&world.residents[0], &world.residents[1]);

    let (offer, tx_code) = enrol(&world, card).await;
    let phone = Phone::new("wechat", "wechat-phone-A", 3);
    let issued = obtain(
        &world,
        &offer,
        &tx_code,
        &phone,
        &[CONFIG_MDOC, CONFIG_SD_JWT],
    )
    .await;
    let first = the_one_set(&issued, &keys);
    // One pseudonym per registered relying party with a key, none for the one that did not
    // name it or has no key; two relying parties' differ.
    assert_eq!(
        first.keys().collect::<Vec<_>>(),
        ["pseudonym:bank-a", "pseudonym:welfare-b"]
    );
    let (bank, welfare) = (&first["pseudonym:bank-a"], &first["pseudonym:welfare-b"]);
    assert_ne!(bank, welfare);
    assert_eq!(b64url_decode(bank).unwrap().len(), 24);

    // The move to a new phone of the other super-app: the old instances revoked, new ones
    // issued; the pseudonyms are the same.
    let (status, body) = send(
        &world.admin,
        admin_post(
            "/admin/rebind",
            json!({"id_number": card.id_number.expose(), "full_name": card.full_name, "officer": "o-1"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let offer =
        eid_oid4vc::offer::CredentialOffer::from_uri(body["offer"]["offer_uri"].as_str().unwrap())
            .unwrap();
    let new_phone = Phone::new("alipay", "alipay-phone-B", 3);
    let again = obtain(
        &world,
        &offer,
        body["offer"]["tx_code"].as_str().unwrap(),
        &new_phone,
        &[CONFIG_MDOC, CONFIG_SD_JWT],
    )
    .await;
    assert_eq!(the_one_set(&again, &keys), first);

    // Another resident: other pseudonyms, at both relying parties.
    let (offer, tx_code) = enrol(&world, other).await;
    let theirs = the_one_set(
        &obtain(
            &world,
            &offer,
            &tx_code,
            &Phone::new("wechat", "wechat-phone-C", 3),
            &[CONFIG_MDOC, CONFIG_SD_JWT],
        )
        .await,
        &keys,
    );
    assert_ne!(theirs["pseudonym:bank-a"], *bank);
    assert_ne!(theirs["pseudonym:welfare-b"], *welfare);

    // The admin token alone resolves nothing: the resolution token is its own secret.
    let lawful = json!({"relying_party": "bank-a", "pseudonym": bank,
                        "case_reference": "court order 2026-117", "officer": "officer-9"});
    for token in [
        None,
        Some("admin-token-for-tests"),
        Some("resolution-token-for-test"),
    ] {
        let (status, refused) = resolve_with(&world, token, lawful.clone()).await;
        assert_eq!(
            (status, refused["error"].as_str()),
            (StatusCode::FORBIDDEN, Some("resolution_denied")),
            "{token:?}"
        );
    }
    // The lawful request: the bank's pseudonym resolves to her, for the bank only.
    let (status, found) = resolve(
        &world,
        json!({"relying_party": "bank-a", "pseudonym": bank,
               "case_reference": "court order 2026-117", "officer": "officer-9"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["id_number"], card.id_number.expose());
    assert_eq!(found["in_registry"], true);
    // The welfare office's pseudonym is not the bank's; a changed or made-up one is nobody.
    let mut changed = b64url_decode(bank).unwrap();
    changed[3] ^= 1;
    for (relying_party, pseudonym) in [
        ("bank-a", welfare.clone()),
        ("welfare-b", bank.clone()),
        ("bank-a", b64url(&changed)),
        ("bank-a", "not base64!".to_owned()),
        ("bank-c", bank.clone()),
    ] {
        let (status, refused) = resolve(
            &world,
            json!({"relying_party": relying_party, "pseudonym": pseudonym,
                   "case_reference": "court order 2026-117", "officer": "officer-9"}),
        )
        .await;
        assert_eq!(
            (status, refused["error"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("not_a_pseudonym")),
            "{relying_party}: {refused}"
        );
    }
    // No resolution without a case reference or an officer, with fields unknown, with a
    // value or a relying party that cannot be one, or with fields too long.
    let long = "x".repeat(201);
    for body in [
        json!({"relying_party": "bank-a", "pseudonym": bank, "case_reference": " ", "officer": "o"}),
        json!({"relying_party": "bank-a", "pseudonym": bank, "officer": "o"}),
        json!({"relying_party": "bank-a", "pseudonym": bank, "case_reference": "c", "officer": ""}),
        json!({"relying_party": "bank-a", "pseudonym": bank, "case_reference": "c", "officer": "o", "id_number": "x"}),
        json!({"relying_party": "bank-a", "pseudonym": "A".repeat(65), "case_reference": "c", "officer": "o"}),
        json!({"relying_party": "Bank A", "pseudonym": bank, "case_reference": "c", "officer": "o"}),
        json!({"relying_party": "bank-a", "pseudonym": bank, "case_reference": long, "officer": "o"}),
        json!({"relying_party": "bank-a", "pseudonym": bank, "case_reference": "c\nrelying_party=x", "officer": "o"}),
    ] {
        let (status, refused) = resolve(&world, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {refused}");
    }

    // The audit log: the resolution, by whom, for which relying party and case, and whom it
    // found as the log's keyed pseudonym, never the number; the refusals too.
    let text = audit_log(&world, 200).await;
    let audit: Value = serde_json::from_str(&text).unwrap();
    let resolutions: Vec<&Value> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "resolve_pseudonym")
        .collect();
    let outcomes: Vec<&str> = resolutions
        .iter()
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes.iter().filter(|o| **o == "ok").count(),
        1,
        "{outcomes:?}"
    );
    // Five values that are no pseudonym, and three tries without the resolution token.
    assert_eq!(
        outcomes.iter().filter(|o| **o == "refused").count(),
        8,
        "{outcomes:?}"
    );
    assert_eq!(
        resolutions
            .iter()
            .filter(|e| e["detail"] == "resolution_denied")
            .count(),
        3
    );
    let done = resolutions.iter().find(|e| e["outcome"] == "ok").unwrap();
    assert_eq!(done["actor"], "officer:officer-9");
    assert!(
        done["detail"]
            .as_str()
            .unwrap()
            .contains("relying_party=bank-a case_reference=\"court order 2026-117\""),
        "{done}"
    );
    // Whom it found, under a key of its own: not the log's usual subject for her, which any
    // holder of the admin token can learn (a counter enrolment writes it).
    let subject = done["subject"].as_str().unwrap();
    assert!(subject.starts_with("resolved:"), "{subject}");
    // The usual subject: the keyed value of her number under the world's key, [7; 32].
    let usual = b64url(&eid_crypto::session::hmac_sha256(
        &[7; 32],
        card.id_number.expose().as_bytes(),
    ));
    assert_ne!(&subject["resolved:".len()..], &usual[..16]);
    assert!(!text.contains(card.id_number.expose()));
}

/// The resolution token is its own secret: the configuration is refused when it is shorter
/// than 16 characters or the admin token itself, saying which setting.
#[test]
fn the_resolution_token_is_a_secret_of_its_own() {
    let config = |resolution: &str| {
        eid_authority::config::AuthorityConfig::parse(
            &format!(
                r#"
                issuer_url = "{ISSUER}"
                trust_list = "unused.jwt"
                trust_anchors = []
                admin_token = "{ADMIN_TOKEN}"
                resolution_token = "{resolution}"
                [signer]
                kind = "file"
                key = "unused.key.pem"
                certificates = "unused.pem"
                "#
            ),
            &|_| None,
        )
        .unwrap()
        .settings([7; 32])
    };
    for (token, accepted) in [
        ("too-short", false),
        (ADMIN_TOKEN, false),
        (RESOLUTION_TOKEN, true),
    ] {
        let settings = config(token);
        assert_eq!(settings.is_ok(), accepted, "{token}: {settings:?}");
        if let Err(e) = settings {
            assert!(e.to_string().contains("resolution_token"), "{e}");
        }
    }
}
