//! Issuance with the DS key in SoftHSM 2 through PKCS#11, chosen by configuration: a token
//! is initialised, a key generated on it, a DS certificate made for that key under the
//! authority's IACA, the `[signer] kind = "pkcs11"` configuration opened, and both formats
//! issued and verified. Skips, saying so, where SoftHSM is not installed (`.ci/run`
//! installs it). `.config/nextest.toml` runs the SoftHSM tests one at a time: they share
//! the token folder `SOFTHSM2_CONF` points into.

use std::path::Path;
use std::sync::Arc;

use eid_authority::config::AuthorityConfig;
use eid_authority::credential::{CONFIG_MDOC, CONFIG_SD_JWT};
use eid_crypto::pkcs11::{Pkcs11Signer, fresh_softhsm_store, init_token};
use eid_crypto::x509::{CertificateTerms, Subject, create_document_signer};
use eid_crypto::{CryptoRandom, Signer};
use time::Duration;

use crate::common::*;
use crate::issuance::{ServedLists, fetch_list, verify_mdoc, verify_sd_jwt};

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

#[tokio::test]
#[ignore = "needs SoftHSM 2 (scripts/test installs it)"]
async fn softhsm_issuer_key_chosen_by_configuration_issues_both_formats() {
    let module = Path::new(MODULE);
    let Some(conf) = eid_core::testing::required_env("SOFTHSM2_CONF") else {
        return;
    };
    if eid_core::testing::required_file(module).is_none() {
        return;
    }
    fresh_softhsm_store(Path::new(&conf)).unwrap();
    init_token(module, "eid-authority", "so-pin-5678", "user-pin-5678").unwrap();
    // The key is made on the token, then closed: the configuration opens it by label.
    let public = Pkcs11Signer::generate(module, "eid-authority", "user-pin-5678", "ds-4501")
        .unwrap()
        .verifying_key()
        .clone();
    let work = std::env::temp_dir().join(format!("eid-authority-pkcs11-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();

    let world = World::with_signer("sqlite::memory:", |pki| {
        let ds = create_document_signer(
            &Subject {
                country: "CN".into(),
                state: None,
                organization: "Nanning PSB".into(),
                common_name: "Nanning PSB DS (HSM)".into(),
            },
            &CertificateTerms {
                not_before: NOW - Duration::days(1),
                not_after: NOW + Duration::days(365),
                issuer_alt_name_uri: ISSUER.into(),
                crl_uri: format!("{ISSUER}/iaca.crl"),
            },
            &public,
            &pki.iaca,
            &pki.iaca_key,
            &CryptoRandom,
        )
        .unwrap();
        std::fs::write(work.join("ds.pem"), ds.to_pem()).unwrap();
        let config = AuthorityConfig::parse(
            &format!(
                r#"
                issuer_url = "{ISSUER}"
                trust_list = "unused.jwt"
                trust_anchors = []
                [signer]
                kind = "pkcs11"
                module = "{MODULE}"
                token = "eid-authority"
                key_label = "ds-4501"
                certificates = "{}"
                "#,
                work.join("ds.pem").display()
            ),
            &|name| (name == "EID_AUTHORITY_PKCS11_PIN").then(|| "user-pin-5678".to_owned()),
        )
        .unwrap();
        let (signer, chain): (Arc<dyn Signer>, _) = config.signer.open(NOW).unwrap();
        assert_eq!(signer.verifying_key(), &public);
        (signer, chain)
    })
    .await;

    let card = world.residents[14].clone();
    let (offer, tx_code) = enrol(&world, &card).await;
    let phone = Phone::new("wechat", "hsm-phone", 3);
    let issued = obtain(
        &world,
        &offer,
        &tx_code,
        &phone,
        &[CONFIG_MDOC, CONFIG_SD_JWT],
    )
    .await;
    let lists = ServedLists(vec![(
        world.authority.status_uri(0),
        fetch_list(&world, 0, true).await,
    )]);
    for (credential, key) in issued[0].iter().zip(&phone.keys) {
        verify_mdoc(&world, credential, key, &lists).unwrap();
    }
    for (credential, key) in issued[1].iter().zip(&phone.keys) {
        verify_sd_jwt(&world, credential, key, &lists).unwrap();
    }
    std::fs::remove_dir_all(&work).unwrap();
}
