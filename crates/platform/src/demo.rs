//! `eid demo`: the story against a running platform, over HTTP only (what `GET
//! /platform.json` describes): a Nanning resident enrols into a wallet of super-app A,
//! checks in at a Nanning hotel in person, passes airport security by offline QR, opens a
//! bank account online; a Hangzhou hotel refuses her pilot-city credential until the
//! operator authorises Nanning nationally; her phone is lost and every desk refuses it; a
//! new phone (super-app B) is enrolled and accepted while the old one stays refused.
//!
//! With face matching on, enrolment is remote (her selfie against the registry portrait),
//! the lost phone is reported from the new phone's wallet with her face (suspended), and
//! once the new phone is enrolled she moves to it: the old phone's credentials are revoked
//! for good (`status_invalid`). With it off, enrolment is at the counter (the officer's
//! offer) and the hotline suspends the phone.
//!
//! It plays again and again against the same platform, from any folder of its machine (the
//! token files are named by absolute path): each run enrols new phones, and a step whose
//! outcome an earlier run already made true — Nanning accepted nationwide — is said as
//! such instead of checked.

use std::path::{Path, PathBuf};

use base64::Engine;
use eid_http::{HttpError, fetch, post_form, post_json};
use serde_json::{Value, json};

/// The PIN of the demo's wallets.
pub(crate) const PIN: &str = "246810";

/// One step's failure: what was expected and what happened.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StepFailed(String);

impl StepFailed {
    pub(crate) fn new(what: impl Into<String>) -> Self {
        Self(what.into())
    }
}

fn failed(what: impl Into<String>) -> StepFailed {
    StepFailed(what.into())
}

fn http(what: &str) -> impl Fn(HttpError) -> StepFailed + '_ {
    move |e| match e {
        HttpError::Status(status, body) => failed(format!("{what}: HTTP {status}: {body}")),
        e => failed(format!("{what}: {e}")),
    }
}

fn parse(bytes: &[u8]) -> Result<Value, StepFailed> {
    serde_json::from_slice(bytes).map_err(|e| failed(format!("an answer is not JSON: {e}")))
}

pub(crate) async fn get(url: &str) -> Result<Value, StepFailed> {
    parse(&fetch(url, "application/json").await.map_err(http(url))?)
}

pub(crate) async fn post(
    url: &str,
    bearer: Option<&str>,
    body: Value,
) -> Result<Value, StepFailed> {
    parse(
        &post_json(url, bearer, body.to_string())
            .await
            .map_err(http(url))?,
    )
}

/// The platform as `platform.json` describes it, and where the demo's photographs are.
pub(crate) struct Platform {
    pub(crate) description: Value,
    pub(crate) photos: Option<PathBuf>,
    pub(crate) remote: bool,
}

impl Platform {
    pub(crate) fn provider(&self, index: usize) -> Result<String, StepFailed> {
        self.description["providers"][index]["api"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| failed("platform.json lists no such wallet provider"))
    }

    pub(crate) fn provider_id(&self, index: usize) -> String {
        self.description["providers"][index]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub(crate) fn desk(&self, id: &str) -> Result<String, StepFailed> {
        self.desk_entry(id)
            .and_then(|d| d["url"].as_str())
            .map(str::to_owned)
            .ok_or_else(|| failed(format!("platform.json lists no desk {id}")))
    }

    pub(crate) fn authority(&self, key: &str) -> Result<&Value, StepFailed> {
        self.description["authorities"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["key"] == key)
            .ok_or_else(|| failed(format!("platform.json lists no authority {key}")))
    }

    pub(crate) fn token(&self, field: &Value) -> Result<String, StepFailed> {
        let path = field
            .as_str()
            .ok_or_else(|| failed("platform.json names no token file"))?;
        std::fs::read_to_string(path)
            .map(|t| t.trim().to_owned())
            .map_err(|e| {
                failed(format!(
                    "{path}: {e} (run eid demo on the machine of eid up)"
                ))
            })
    }

    /// Whether `desk` compares the face of the person in front of it.
    fn compares_faces(&self, desk: &str) -> bool {
        self.desk_entry(desk)
            .is_some_and(|d| d["compares_faces"] == true)
    }

    /// Whether `desk`'s purpose requires a face match (the trust list's catalogue).
    fn face_match_required(&self, desk: &str) -> bool {
        self.desk_entry(desk)
            .is_some_and(|d| d["face_match_required"] == true)
    }

    fn desk_entry(&self, desk: &str) -> Option<&Value> {
        self.description["desks"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|d| d["id"] == desk)
    }

    /// The photograph `fixture` (base64) as the person at a desk, when the platform's desks
    /// compare faces and the fixtures are here; else none is taken.
    fn face_at_desks(&self, fixture: Option<&str>) -> Result<Option<String>, StepFailed> {
        match fixture {
            Some(name) if self.photos.is_some() && self.compares_faces("nanning-airport") => {
                self.photo(name).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// The fields of `resident`'s live capture (`face`, `face_turned`, `turn`), to merge into
    /// a remote enrolment or a lost report.
    fn live_capture(&self, resident: &Resident) -> Result<Value, StepFailed> {
        let capture = resident
            .capture
            .as_ref()
            .ok_or_else(|| failed("the resident has no live capture among the fixtures"))?;
        Ok(json!({
            "face": self.photo(&capture.facing)?,
            "face_turned": self.photo(&capture.turned)?,
            "turn": capture.turn,
        }))
    }

    fn photo(&self, name: &str) -> Result<String, StepFailed> {
        let dir = self
            .photos
            .as_ref()
            .ok_or_else(|| failed("no face fixtures (EID_PROOFING_DIR)"))?;
        let bytes = std::fs::read(dir.join(name))
            .map_err(|e| failed(format!("{}: {e}", dir.join(name).display())))?;
        Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
    }
}

/// A phone: a hosted wallet at a provider.
pub(crate) struct Phone {
    api: String,
    wallet: String,
}

impl Phone {
    pub(crate) async fn new(api: String) -> Result<Self, StepFailed> {
        let made = post(&format!("{api}/wallets"), None, json!({ "pin": PIN })).await?;
        let wallet = made["wallet"]
            .as_str()
            .ok_or_else(|| failed("the provider made no wallet"))?
            .to_owned();
        Ok(Self { api, wallet })
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}/wallets/{}{path}", self.api, self.wallet)
    }
}

/// `base` with `more`'s fields (both objects).
fn merged(mut base: Value, more: Value) -> Value {
    if let (Some(base), Value::Object(more)) = (base.as_object_mut(), more) {
        base.extend(more);
    }
    base
}

/// The resident of the story.
pub(crate) struct Resident {
    pub(crate) id_number: String,
    pub(crate) full_name: String,
    pub(crate) portrait: Option<String>,
    pub(crate) selfie: Option<String>,
    /// Her live capture for remote enrolment and lost reports.
    pub(crate) capture: Option<crate::data::LiveCapture>,
}

/// Plays the story against the platform at `base`; `say` hears each step and its verdict.
/// Whether every step behaved as the story says.
pub async fn play(base: &str, proofing: Option<&Path>, say: &mut dyn FnMut(&str)) -> bool {
    match story(base, proofing, say).await {
        Ok(all) => all,
        Err(e) => {
            say(&format!("   ✗ the story could not go on: {e}"));
            false
        }
    }
}

/// Tallies the verdicts.
struct Verdicts<'a> {
    say: &'a mut dyn FnMut(&str),
    step: usize,
    all: bool,
}

impl Verdicts<'_> {
    fn step(&mut self, title: &str) {
        self.step += 1;
        (self.say)(&format!("{:>2}. {title}", self.step));
    }

    /// The verdict of the step: `expected` is what the story says, `report` the desk's.
    fn check(&mut self, report: &Value, expected: Expected) {
        let accepted = report["accepted"] == true;
        let reasons = reasons_of(report);
        let presence = &report["presence"];
        let (ok, words) = match expected {
            Expected::Accepted => (
                accepted && presence["matched"] != false,
                if accepted {
                    format!("accepted{}", face_words(presence))
                } else {
                    format!(
                        "refused ({}) — the story expected accepted",
                        reasons.join(", ")
                    )
                },
            ),
            Expected::Refused(reason) => (
                !accepted && reasons.contains(&reason),
                if accepted {
                    format!("accepted — the story expected refused ({reason})")
                } else {
                    format!("refused ({})", reasons.join(", "))
                },
            ),
        };
        self.verdict(ok, &words);
    }

    /// Someone else at the desk with her phone: refused for the face where the purpose
    /// requires a match; where it does not, accepted with the faces reported apart, for the
    /// clerk to judge.
    fn check_not_her(&mut self, report: &Value, required: bool) {
        if required {
            return self.check(report, Expected::Refused("face_mismatch"));
        }
        let presence = &report["presence"];
        let apart = presence["matched"] == false;
        self.verdict(
            report["accepted"] == true && apart,
            &format!(
                "accepted{}{}",
                face_words(presence),
                if apart {
                    " — this purpose does not require a match: the clerk sees it and decides"
                } else {
                    " — the story expected the faces apart"
                }
            ),
        );
    }

    fn verdict(&mut self, ok: bool, words: &str) {
        self.all &= ok;
        (self.say)(&format!("    {} {words}", if ok { "✓" } else { "✗" }));
    }

    /// A step whose outcome an earlier run already made true: said, not checked again.
    fn already(&mut self, words: &str) {
        (self.say)(&format!("    • already true: {words}"));
    }
}

/// What a report says of the face at the desk, if it was compared.
fn face_words(presence: &Value) -> String {
    match (
        presence["matched"].as_bool(),
        presence["score"].as_f64(),
        presence["threshold"].as_f64(),
    ) {
        (Some(true), Some(score), Some(at_most)) => {
            format!(", the face matches (distance {score:.2}, at most {at_most:.2})")
        }
        (Some(false), Some(score), Some(at_most)) => {
            format!(", the face does NOT match (distance {score:.2}, more than {at_most:.2})")
        }
        _ => String::new(),
    }
}

/// Whether a desk accepted `report`, or refused it only because no photograph of the person
/// was sent: the burst and load tools send none (they judge status and throughput, not
/// faces), and where the purpose requires a face match the desk refuses exactly so once
/// every other check has passed. Any other reason the faces were not compared (no model, no
/// template in the code, every place taken) stays a refusal.
pub(crate) fn accepted_but_for_the_face(report: &Value) -> bool {
    let no_photograph = |r: &Value| {
        r["reason"] == "face_not_checked"
            && r["message"]
                .as_str()
                .is_some_and(|m| m.contains("no photograph of the person"))
    };
    report["accepted"] == true
        || (report["accepted"] == false
            && report["reasons"]
                .as_array()
                .is_some_and(|r| r.len() == 1 && no_photograph(&r[0])))
}

/// The reason codes of a desk's refusal.
fn reasons_of(report: &Value) -> Vec<&str> {
    report["reasons"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["reason"].as_str())
        .collect()
}

#[derive(Clone, Copy)]
enum Expected {
    Accepted,
    Refused(&'static str),
}

async fn story(
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

/// An identity number shown with its middle masked.
fn mask(id_number: &str) -> String {
    let chars: Vec<char> = id_number.chars().collect();
    if chars.len() < 10 {
        return "***".into();
    }
    let head: String = chars[..6].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}********{tail}")
}

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
async fn nationally_accepted(platform: &Platform, issuer: &str) -> Result<Option<u64>, StepFailed> {
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
