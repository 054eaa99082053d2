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
use eid_authority::signers::HANDOVER_GRACE;
use eid_core::FixedClock;
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
    // Its successor on the same token, taking over in 300 days.
    let next = Pkcs11Signer::generate(module, "eid-authority", "user-pin-5678", "ds-4501-next")
        .unwrap()
        .verifying_key()
        .clone();
    let handover = NOW + Duration::days(300);
    let work = std::env::temp_dir().join(format!("eid-authority-pkcs11-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();

    let world = World::with_signers("sqlite::memory:", Arc::new(FixedClock(NOW)), |pki| {
        let certificate = |key, from: time::OffsetDateTime, file: &str| {
            let ds = create_document_signer(
                &Subject {
                    country: "CN".into(),
                    state: None,
                    organization: "Nanning PSB".into(),
                    common_name: "Nanning PSB DS (HSM)".into(),
                },
                &CertificateTerms {
                    not_before: from,
                    not_after: from + Duration::days(365),
                    issuer_alt_name_uri: ISSUER.into(),
                    crl_uri: format!("{ISSUER}/iaca.crl"),
                },
                key,
                &pki.iaca,
                &pki.iaca_key,
                &CryptoRandom,
            )
            .unwrap();
            std::fs::write(work.join(file), ds.to_pem()).unwrap();
        };
        certificate(&public, NOW - Duration::days(1), "ds.pem");
        certificate(&next, handover, "ds-next.pem");
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
                [[successors]]
                kind = "pkcs11"
                module = "{MODULE}"
                token = "eid-authority"
                key_label = "ds-4501-next"
                certificates = "{}"
                "#,
                work.join("ds.pem").display(),
                work.join("ds-next.pem").display()
            ),
            &|name| (name == "EID_AUTHORITY_PKCS11_PIN").then(|| "user-pin-5678".to_owned()),
        )
        .unwrap();
        // Both keys of the token open together (one module, one login), each signing.
        let signers = config.document_signers(NOW).unwrap();
        assert_eq!(signers.at(NOW).unwrap().signer().verifying_key(), &public);
        let successor = signers.at(handover + HANDOVER_GRACE).unwrap().signer();
        assert_eq!(successor.verifying_key(), &next);
        let signature = successor.sign(b"rolled over").unwrap();
        next.verify(b"rolled over", &signature).unwrap();
        signers
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

/// Copies the folder `from` into `to` (made), files and folders alike.
fn copy_folder(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_folder(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The HSM half of docs/authority.md's backup and restore, for SoftHSM: the token folder
/// copied while no process has the token open, the token lost (the key cannot be opened),
/// the copy put back: the same key opens and signs again, so the DS certificate made for it
/// (and the configuration naming it) serves on. A vendor HSM has its own backup (wrapped
/// export or cloning), which this does not test.
#[tokio::test]
#[ignore = "needs SoftHSM 2 (scripts/test installs it)"]
async fn softhsm_token_folder_restored_from_a_backup_signs_with_the_same_key() {
    let module = Path::new(MODULE);
    let Some(conf) = eid_core::testing::required_env("SOFTHSM2_CONF") else {
        return;
    };
    if eid_core::testing::required_file(module).is_none() {
        return;
    }
    let conf = Path::new(&conf);
    fresh_softhsm_store(conf).unwrap();
    init_token(module, "eid-restore", "so-pin-5678", "user-pin-5678").unwrap();
    // Made and closed: no process has the token open while it is copied.
    let public = Pkcs11Signer::generate(module, "eid-restore", "user-pin-5678", "ds-4501")
        .unwrap()
        .verifying_key()
        .clone();
    let tokens = conf.parent().unwrap().join("tokens");
    let backup = std::env::temp_dir().join(format!("eid-softhsm-backup-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&backup);
    copy_folder(&tokens, &backup);
    // Lost: an empty token store.
    fresh_softhsm_store(conf).unwrap();
    assert!(Pkcs11Signer::open(module, "eid-restore", "user-pin-5678", "ds-4501").is_err());
    // Restored: the copy put back.
    std::fs::remove_dir_all(&tokens).unwrap();
    copy_folder(&backup, &tokens);
    let signer = Pkcs11Signer::open(module, "eid-restore", "user-pin-5678", "ds-4501").unwrap();
    assert_eq!(signer.verifying_key(), &public);
    let signature = signer.sign(b"after the restore").unwrap();
    public.verify(b"after the restore", &signature).unwrap();
    std::fs::remove_dir_all(&backup).unwrap();
}
