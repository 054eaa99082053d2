//! The story's exchanges: enrolment, a desk's three channels, the trust list, the status lists.

use eid_http::post_form;
use serde_json::{Value, json};

use super::calls::{StepFailed, failed, get, http, merged, parse, post};
use super::platform::{PIN, Phone, Platform, Resident};

/// Remote enrolment with her face, or the counter's offer redeemed.
pub(crate) async fn enrol(
    platform: &Platform,
    phone: &Phone,
    resident: &Resident,
    remote: bool,
) -> Result<Value, StepFailed> {
    if remote {
        // The card's photographs: the registry portrait stands in for the card here (OCR
        // is off); the live capture is two other photographs of the same face.
        let card = platform.photo(resident.portrait.as_deref().unwrap_or_default())?;
        return post(
            &phone.url("/enrol"),
            None,
            merged(
                json!({
                    "pin": PIN,
                    "id_number": resident.id_number,
                    "full_name": resident.full_name,
                    "card_front": card,
                    "card_back": card,
                }),
                platform.live_capture(resident)?,
            ),
        )
        .await;
    }
    let nanning = platform.authority("nanning")?;
    let token = platform.token(&nanning["admin_token_file"])?;
    let offer = post(
        &format!(
            "{}/admin/enrolments",
            nanning["admin"].as_str().unwrap_or_default()
        ),
        Some(&token),
        json!({
            "id_number": resident.id_number,
            "full_name": resident.full_name,
            "officer": "demo-counter-1",
        }),
    )
    .await?;
    post(
        &phone.url("/enrol"),
        None,
        json!({ "pin": PIN, "offer": offer["offer_uri"], "tx_code": offer["tx_code"] }),
    )
    .await
}

/// The trust list's version when `issuer` is already accepted across the nation, else
/// `None` (from the platform's `GET /trust/list.json`, the list in force).
pub(super) async fn nationally_accepted(
    platform: &Platform,
    issuer: &str,
) -> Result<Option<u64>, StepFailed> {
    let base = platform.description["base"]
        .as_str()
        .ok_or_else(|| failed("platform.json names no base URL"))?;
    let list = get(&format!("{base}/trust/list.json")).await?;
    let national = list["issuers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["id"] == issuer)
        .flat_map(|i| i["scopes"].as_array().into_iter().flatten())
        .any(|s| s["region"] == "nation");
    Ok(national.then(|| list["version"].as_u64().unwrap_or_default()))
}

/// Until every desk holds a status list of Nanning's (published with the first credential).
pub(crate) async fn wait_for_lists(platform: &Platform) -> Result<(), StepFailed> {
    for desk in platform.description["desks"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let url = desk["url"].as_str().unwrap_or_default();
        for attempt in 0.. {
            let health = get(&format!("{url}/health")).await?;
            if health["status_lists"]
                .as_array()
                .is_some_and(|l| !l.is_empty())
            {
                break;
            }
            if attempt > 100 {
                return Err(failed(format!("{url} never fetched a status list")));
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    Ok(())
}

/// In person: the phone shows its engagement, the desk's service connects and asks, the
/// holder consents with the PIN; the desk's report.
pub(crate) async fn in_person(
    platform: &Platform,
    phone: &Phone,
    desk: &str,
    purpose: &str,
    face: Option<&str>,
) -> Result<Value, StepFailed> {
    let started = post(&phone.url("/in-person"), None, json!({})).await?;
    let session = started["session"].as_str().unwrap_or_default().to_owned();
    let url = format!("{}/verify/in-person", platform.desk(desk)?);
    let mut asked = json!({ "engagement": started["engagement"], "purpose": purpose });
    if let Some(face) = face {
        asked["face"] = json!(face);
    }
    let desk_asks = post(&url, None, asked);
    let holder = async {
        for _ in 0..200 {
            let state = get(&phone.url(&format!("/in-person/{session}"))).await?;
            match state["state"].as_str() {
                Some("asking") => {
                    return post(
                        &phone.url(&format!("/in-person/{session}")),
                        None,
                        json!({ "share": true, "pin": PIN }),
                    )
                    .await;
                }
                Some("waiting") => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                _ => return Ok(state),
            }
        }
        Err(failed("the desk never asked"))
    };
    let (report, _) = tokio::join!(desk_asks, holder);
    report
}

/// The phone's offline code for `purpose`, read by the desk, with the photograph `face` of
/// the person at the desk (base64) if one is taken.
pub(crate) async fn offline(
    platform: &Platform,
    phone: &Phone,
    desk: &str,
    purpose: &str,
    face: Option<&str>,
) -> Result<Value, StepFailed> {
    let code = post(
        &phone.url("/offline"),
        None,
        json!({ "pin": PIN, "purpose": purpose }),
    )
    .await?;
    let url = format!("{}/verify/offline?purpose={purpose}", platform.desk(desk)?);
    let code = code["code"].as_str().unwrap_or_default().to_owned();
    match face {
        None => parse(&post_form(&url, code).await.map_err(http(&url))?),
        Some(face) => post(&url, None, json!({ "code": code, "face": face })).await,
    }
}

/// Online: the desk's website makes a request, the phone reads it, the holder consents
/// with the PIN, the answer goes to the desk; the desk's report.
pub(crate) async fn online(
    platform: &Platform,
    phone: &Phone,
    desk: &str,
    purpose: &str,
    face: Option<&str>,
) -> Result<Value, StepFailed> {
    let desk = platform.desk(desk)?;
    let mut asked = json!({ "purpose": purpose });
    if let Some(face) = face {
        asked["face"] = json!(face);
    }
    let started = post(&format!("{desk}/vp/requests"), None, asked).await?;
    let asked = post(
        &phone.url("/online"),
        None,
        json!({ "invocation": started["invocation"] }),
    )
    .await?;
    let session = asked["session"].as_str().unwrap_or_default();
    post(
        &phone.url(&format!("/online/{session}")),
        None,
        json!({ "share": true, "pin": PIN }),
    )
    .await?;
    let outcome = get(&format!(
        "{desk}{}",
        started["result"].as_str().unwrap_or_default()
    ))
    .await?;
    Ok(outcome["report"].clone())
}
