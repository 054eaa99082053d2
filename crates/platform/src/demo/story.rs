//! The story's steps, in order, each said and judged as it goes.

use std::path::Path;

use serde_json::{Value, json};

use super::calls::{StepFailed, failed, get, merged, post};
use super::exchanges::{enrol, in_person, nationally_accepted, offline, online, wait_for_lists};
use super::narration::{Expected, Verdicts, mask, reasons_of};
use super::platform::{PIN, Phone, Platform, Resident};

pub(super) async fn story(
    base: &str,
    proofing: Option<&Path>,
    say: &mut dyn FnMut(&str),
) -> Result<bool, StepFailed> {
    let description = get(&format!("{}/platform.json", base.trim_end_matches('/'))).await?;
    let remote = !description["checks_off"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| {
            c["check"]
                .as_str()
                .is_some_and(|c| c.starts_with("face matching"))
        });
    let platform = Platform {
        photos: proofing.map(|p| p.join("fixtures")).filter(|p| p.is_dir()),
        remote,
        description,
    };
    let resident = platform.description["demo_residents"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["authority"] == "nanning")
        .ok_or_else(|| failed("platform.json lists no demo resident of Nanning"))?;
    let resident = Resident {
        id_number: resident["id_number"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        full_name: resident["full_name"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        portrait: resident["portrait"].as_str().map(str::to_owned),
        selfie: resident["selfie"].as_str().map(str::to_owned),
        capture: serde_json::from_value(resident["capture"].clone()).unwrap_or_default(),
    };
    let remote = platform.remote && platform.photos.is_some() && resident.capture.is_some();
    // The person at each desk, where the desks compare faces: her selfie (another photograph
    // than the registry's); for one step someone else, the other city's demo resident.
    let her_face = platform.face_at_desks(resident.selfie.as_deref())?;
    let someone_else = platform.face_at_desks(
        platform.description["demo_residents"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["authority"] != "nanning")
            .and_then(|r| r["selfie"].as_str()),
    )?;
    let mut v = Verdicts {
        say,
        step: 0,
        all: true,
    };
    (v.say)(&format!(
        "The story of a Nanning resident ({}), against {base}; enrolment {}.",
        mask(&resident.id_number),
        if remote {
            "remote, with her face and a head turn"
        } else {
            "at the counter (face matching is off)"
        }
    ));

    // The bank asks a phone online, with her in front of its camera.
    let at_bank = async |phone: &Phone| {
        online(
            &platform,
            phone,
            "nanning-bank",
            "bank_account_opening",
            her_face.as_deref(),
        )
        .await
    };
    // Airport security reads a phone's code, with her at the desk.
    let at_airport = async |phone: &Phone| {
        offline(
            &platform,
            phone,
            "nanning-airport",
            "airport_security",
            her_face.as_deref(),
        )
        .await
    };

    v.step("Enrolment: her phone's wallet at super-app A gets the resident identity credentials");
    let phone = Phone::new(platform.provider(0)?).await?;
    // A hotel checks her in, in person, with her at the desk.
    let hotel_check_in = async |desk: &str| {
        in_person(
            &platform,
            &phone,
            desk,
            "hotel_check_in",
            her_face.as_deref(),
        )
        .await
    };
    let enrolled = enrol(&platform, &phone, &resident, remote).await?;
    v.verdict(
        enrolled["credentials"]
            .as_array()
            .is_some_and(|c| !c.is_empty()),
        &format!(
            "enrolled with {}: {}",
            enrolled["issuer"].as_str().unwrap_or_default(),
            enrolled["credentials"]
        ),
    );
    wait_for_lists(&platform).await?;

    v.step("A Nanning hotel checks her in, in person (QR engagement, consent, PIN)");
    let report = hotel_check_in("nanning-hotel").await?;
    v.check(&report, Expected::Accepted);

    v.step("Airport security reads her offline QR code");
    let report = at_airport(&phone).await?;
    v.check(&report, Expected::Accepted);

    if let (Some(_), Some(other)) = (&her_face, &someone_else) {
        v.step("Someone else shows her phone's code at airport security");
        let report = offline(
            &platform,
            &phone,
            "nanning-airport",
            "airport_security",
            Some(other),
        )
        .await?;
        v.check_not_her(&report, platform.face_match_required("nanning-airport"));
    }

    v.step("A bank opens an account for her online (OpenID4VP)");
    let report = at_bank(&phone).await?;
    v.check(&report, Expected::Accepted);
    // The bank's pairwise pseudonym for her (a folder made before pseudonyms has none).
    let pseudonym_at_bank = report["attributes"]["pseudonym"]
        .as_str()
        .map(str::to_owned);

    // An earlier run (or the operator) may have authorised Nanning nationally already: a
    // trust list is only ever widened here, so the refusal cannot be shown again.
    let national = nationally_accepted(&platform, "cn-4501").await?;
    v.step("The other city: a Hangzhou hotel refuses the pilot city's credential");
    if let Some(version) = national {
        v.already(&format!(
            "Nanning is already accepted nationwide, trust list v{version} (the refusal is not shown again)"
        ));
    } else {
        let report = hotel_check_in("hangzhou-hotel").await?;
        v.check(&report, Expected::Refused("issuer_not_authorised"));
    }

    v.step("The national authorisation: the operator widens Nanning's scope to the nation");
    let operator = platform.token(&platform.description["operator_token_file"])?;
    let widened = post(
        &format!("{base}/trust/scopes"),
        Some(&operator),
        json!({ "issuer": "cn-4501", "region": "nation" }),
    )
    .await?;
    let version = widened["trust_list_version"].as_u64();
    if national.is_some() {
        // The same scope again: the operator's endpoint signs nothing new and says so.
        v.verdict(
            version.is_some() && widened["unchanged"] == true,
            &format!(
                "already nationwide: trust list v{} unchanged, no new version signed",
                widened["trust_list_version"]
            ),
        );
    } else {
        v.verdict(
            version.is_some(),
            &format!("trust list version {}", widened["trust_list_version"]),
        );
    }

    v.step("The same credential, not reissued, at the Hangzhou hotel");
    let report = hotel_check_in("hangzhou-hotel").await?;
    v.check(&report, Expected::Accepted);

    v.step("Her phone is lost");
    let new_phone = Phone::new(platform.provider(1)?).await?;
    let suspended = if remote {
        // She reports it from her new phone's wallet (super-app B), with her face.
        let taken = post(
            &new_phone.url("/report-lost"),
            None,
            merged(
                json!({
                    "pin": PIN,
                    "id_number": resident.id_number,
                    "full_name": resident.full_name,
                }),
                platform.live_capture(&resident)?,
            ),
        )
        .await?;
        (
            taken["wallets_suspended"].as_u64().unwrap_or(0) >= 1,
            format!("reported from the new phone's wallet with her face: {taken}"),
        )
    } else {
        // She calls the hotline; the authority suspends the phone's wallet.
        let nanning = platform.authority("nanning")?;
        let token = platform.token(&nanning["admin_token_file"])?;
        // The wallet instance the provider attested (not the wallet's own handle).
        let instance = get(&phone.url("")).await?["instance"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let changed = post(
            &format!(
                "{}/admin/wallets/{}/{}/suspend",
                nanning["admin"].as_str().unwrap_or_default(),
                platform.provider_id(0),
                instance
            ),
            Some(&token),
            json!({}),
        )
        .await?;
        (
            changed["instances"].as_u64().unwrap_or(0) >= 1,
            format!("suspended by the hotline: {changed}"),
        )
    };
    v.verdict(suspended.0, &suspended.1);

    v.step("The lost phone's QR code at airport security");
    let mut report = Value::Null;
    for _ in 0..20 {
        report = at_airport(&phone).await?;
        if report["accepted"] == false {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    v.check(&report, Expected::Refused("status_suspended"));

    v.step("The lost phone at the bank, online");
    let report = at_bank(&phone).await?;
    v.check(&report, Expected::Refused("status_suspended"));

    if remote {
        v.step("The new phone (super-app B) is enrolled with her face, moving to it");
    } else {
        v.step("The new phone (super-app B) is enrolled");
    }
    let enrolled = enrol(&platform, &new_phone, &resident, remote).await?;
    let holds = enrolled["credentials"]
        .as_array()
        .is_some_and(|c| !c.is_empty());
    if remote {
        // "Moving to this phone": now that it holds her credentials, the old phone's are
        // revoked for good (the lost report only suspended them).
        let moved = post(
            &new_phone.url("/report-lost"),
            None,
            merged(
                json!({
                    "pin": PIN,
                    "id_number": resident.id_number,
                    "full_name": resident.full_name,
                    "move": true,
                }),
                platform.live_capture(&resident)?,
            ),
        )
        .await?;
        v.verdict(
            holds && moved["wallets_revoked"].as_u64().unwrap_or(0) >= 1,
            &format!("enrolled: {}; moved: {moved}", enrolled["credentials"]),
        );
    } else {
        v.verdict(holds, &format!("enrolled: {}", enrolled["credentials"]));
    }

    v.step("The new phone at airport security");
    let mut report = Value::Null;
    for _ in 0..50 {
        report = at_airport(&new_phone).await?;
        // The desk learns of the new entries with its next status list.
        if report["accepted"] == true {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    v.check(&report, Expected::Accepted);

    v.step("The bank sees her again, on the new phone: the same pseudonym for it");
    if let Some(before) = &pseudonym_at_bank {
        let mut report = Value::Null;
        for _ in 0..50 {
            report = at_bank(&new_phone).await?;
            if report["accepted"] == true {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        let now = report["attributes"]["pseudonym"].as_str();
        v.verdict(
            report["accepted"] == true
                && report["presence"]["matched"] != false
                && now == Some(before.as_str()),
            &match now {
                Some(now) if now == before => format!(
                    "accepted, pseudonym {}… as before the move (another relying party's would differ)",
                    before.chars().take(8).collect::<String>()
                ),
                Some(_) => "accepted, but with another pseudonym than before the move".to_owned(),
                None => format!("no pseudonym: refused ({})", reasons_of(&report).join(", ")),
            },
        );
    } else {
        v.already(
            "this folder's bank is registered without a pseudonym (made before pseudonyms): nothing to compare",
        );
    }

    if remote {
        v.step("The old phone is refused for good");
        let mut report = Value::Null;
        for _ in 0..20 {
            report = at_airport(&phone).await?;
            if reasons_of(&report).contains(&"status_invalid") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        v.check(&report, Expected::Refused("status_invalid"));
    } else {
        v.step("The old phone stays refused");
        let report = at_airport(&phone).await?;
        v.check(&report, Expected::Refused("status_suspended"));
    }

    let all = v.all;
    (v.say)(if all {
        "Every step behaved as the story says."
    } else {
        "Some steps did not behave as the story says (✗ above)."
    });
    Ok(all)
}
