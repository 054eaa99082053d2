//! The desk's QR reader (`POST /web/decode`) under hostile pictures: each is answered at
//! once with an `error` / `error_description` body, and a real code still reads.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test: a failed unwrap is a failed test"
)]

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{Request, StatusCode, header};
use eid_core::clock::FixedClock;
use eid_platform::web::{Counts, DecodeLimits, router_with_limits};
use serde_json::Value;
use tower::ServiceExt;

fn reader(limits: DecodeLimits) -> axum::Router {
    let clock = FixedClock(time::macros::datetime!(2026-03-01 09:00 UTC));
    router_with_limits(Counts::new(Arc::new(clock)), limits)
}

/// Posts `body` as a `width` × `height` picture; the status, the JSON answer and how long
/// the answer took. Five seconds is a guard against a hang, not a measure.
async fn post(router: axum::Router, query: &str, body: Body) -> (StatusCode, Value, Duration) {
    let request = Request::post(format!("/web/decode?{query}"))
        .body(body)
        .unwrap();
    #[expect(
        clippy::disallowed_methods,
        reason = "the time a picture took, printed for the record"
    )]
    let started = std::time::Instant::now();
    let response = tokio::time::timeout(Duration::from_secs(5), router.oneshot(request))
        .await
        .expect("the reader answers within five seconds")
        .unwrap();
    let took = started.elapsed();
    let status = response.status();
    let retry_after = response.headers().get(header::RETRY_AFTER).cloned();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let mut answer: Value = serde_json::from_slice(&bytes).unwrap();
    if let Some(retry) = retry_after {
        answer["retry_after"] = retry.to_str().unwrap().into();
    }
    (status, answer, took)
}

fn picture(width: usize, height: usize, grey: Vec<u8>) -> (String, Body) {
    (format!("width={width}&height={height}"), Body::from(grey))
}

/// A QR code of `content`, `scale` pixels a module, with its quiet zone, as grey levels.
fn code(content: &[u8], scale: usize) -> (usize, Vec<u8>) {
    let code = qrcode::QrCode::with_error_correction_level(content, qrcode::EcLevel::M).unwrap();
    let modules = code.width();
    let side = (modules + 8) * scale;
    let mut grey = vec![255u8; side * side];
    for y in 0..side {
        for x in 0..side {
            let (mx, my) = ((x / scale).wrapping_sub(4), (y / scale).wrapping_sub(4));
            if mx < modules && my < modules && code[(mx, my)] == qrcode::Color::Dark {
                grey[y * side + x] = 0;
            }
        }
    }
    (side, grey)
}

/// A `width` × `height` picture tiled with QR finder patterns (7 × 7 modules of `module`
/// pixels, one white module between them): what kept the reader busy for minutes.
fn finder_patterns(width: usize, height: usize, module: usize) -> Vec<u8> {
    let period = 8 * module;
    let mut grey = vec![255u8; width * height];
    for y in 0..height / period * period {
        for x in 0..width / period * period {
            let (mx, my) = (x % period / module, y % period / module);
            let ring = mx < 7 && my < 7 && (mx == 0 || mx == 6 || my == 0 || my == 6);
            let stone = (2..=4).contains(&mx) && (2..=4).contains(&my);
            if ring || stone {
                grey[y * width + x] = 0;
            }
        }
    }
    grey
}

fn assert_error(status: StatusCode, answer: &Value, want: (StatusCode, &str)) {
    assert_eq!(
        (status, answer["error"].as_str()),
        (want.0, Some(want.1)),
        "{answer}"
    );
    assert!(
        answer["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{answer}"
    );
}

#[tokio::test]
async fn a_code_is_read_in_a_picture_and_beside_it_in_a_camera_frame() {
    let content = b"\x00\x01binary offline code\xff".to_vec();
    let (side, grey) = code(&content, 4);
    let (query, body) = picture(side, side, grey.clone());
    let (status, found, took) = post(reader(DecodeLimits::default()), &query, body).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(
        eid_crypto::b64url_decode(found["bytes"].as_str().unwrap()).unwrap(),
        content
    );
    println!("a {side} × {side} code: {took:?}");

    // The same code in a corner of a 1600 × 1200 frame (what the page sends at most).
    let engagement = b"mdoc:owBjMS4wAYIB2BhYS6QBAiABIVgg";
    let (side, grey) = code(engagement, 6);
    let (width, height) = (1600, 1200);
    let mut frame = vec![200u8; width * height];
    for (y, row) in grey.chunks_exact(side).enumerate() {
        frame[(300 + y) * width + 900..][..side].copy_from_slice(row);
    }
    let (query, body) = picture(width, height, frame);
    let (status, found, took) = post(reader(DecodeLimits::default()), &query, body).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["text"].as_str().unwrap().as_bytes(), engagement);
    println!("a code in a {width} × {height} frame: {took:?}");
}

#[tokio::test]
async fn a_picture_tiled_with_finder_patterns_is_refused_at_once() {
    for (width, height, module) in [
        (512, 512, 1),
        (512, 512, 2),
        (1600, 1600, 1),
        (2048, 1536, 3),
    ] {
        let (query, body) = picture(width, height, finder_patterns(width, height, module));
        let (status, answer, took) = post(reader(DecodeLimits::default()), &query, body).await;
        assert_error(
            status,
            &answer,
            (StatusCode::UNPROCESSABLE_ENTITY, "too_many_finder_patterns"),
        );
        println!("{width} × {height} tiled with finder patterns of {module} px a module: {took:?}");
    }
}

#[tokio::test]
async fn a_picture_too_large_is_refused_before_its_body_is_read() {
    // The body never comes: the size alone decides.
    for (width, height) in [(4096, 4096), (2049, 10), (2048, 2048)] {
        let body = Body::from_stream(tokio_stream::pending::<Result<Bytes, std::io::Error>>());
        let (status, answer, _) = post(
            reader(DecodeLimits::default()),
            &format!("width={width}&height={height}"),
            body,
        )
        .await;
        assert_error(
            status,
            &answer,
            (StatusCode::PAYLOAD_TOO_LARGE, "picture_too_large"),
        );
    }
}

#[tokio::test]
async fn malformed_requests_get_an_oauth_style_error() {
    for (query, body) in [
        ("width=10".to_owned(), vec![0; 10]),
        ("width=10&height=x".to_owned(), vec![0; 10]),
        ("width=0&height=10".to_owned(), vec![]),
        // Too few bytes, and too many.
        ("width=10&height=10".to_owned(), vec![255; 99]),
        ("width=10&height=10".to_owned(), vec![255; 101]),
    ] {
        let (status, answer, _) =
            post(reader(DecodeLimits::default()), &query, Body::from(body)).await;
        assert_error(
            status,
            &answer,
            (StatusCode::BAD_REQUEST, "invalid_request"),
        );
        assert!(answer.get("message").is_none(), "{answer}");
    }
    let (query, body) = picture(64, 64, vec![255; 64 * 64]);
    let (status, answer, _) = post(reader(DecodeLimits::default()), &query, body).await;
    assert_error(status, &answer, (StatusCode::NOT_FOUND, "not_found"));
}

#[tokio::test]
async fn a_full_reader_answers_busy_at_once() {
    let router = reader(DecodeLimits {
        at_once: 0,
        receiving: 16,
        deadline: Duration::from_secs(5),
    });
    let (query, body) = picture(64, 64, vec![255; 64 * 64]);
    let (status, answer, _) = post(router, &query, body).await;
    assert_error(status, &answer, (StatusCode::SERVICE_UNAVAILABLE, "busy"));
    assert_eq!(answer["retry_after"], "1", "{answer}");
}

#[tokio::test]
async fn a_picture_that_does_not_arrive_in_time_is_cut_off_and_gives_its_place_back() {
    let router = reader(DecodeLimits {
        at_once: 1,
        receiving: 16,
        deadline: Duration::from_millis(200),
    });
    let body = Body::from_stream(tokio_stream::pending::<Result<Bytes, std::io::Error>>());
    let (status, answer, _) = post(router.clone(), "width=64&height=64", body).await;
    assert_error(
        status,
        &answer,
        (StatusCode::SERVICE_UNAVAILABLE, "timed_out"),
    );
    // Its place is free again: the next picture is read.
    let (query, body) = picture(64, 64, vec![255; 64 * 64]);
    let (status, answer, _) = post(router, &query, body).await;
    assert_error(status, &answer, (StatusCode::NOT_FOUND, "not_found"));
}

#[tokio::test]
async fn a_picture_sent_slowly_does_not_hold_the_reader() {
    // One reading place: a client that announces a picture and never sends it must not
    // take it (a reading place is taken only once the whole picture is in).
    let router = reader(DecodeLimits {
        at_once: 1,
        receiving: 4,
        deadline: Duration::from_secs(5),
    });
    let stalled = tokio::spawn(post(
        router.clone(),
        "width=64&height=64",
        Body::from_stream(tokio_stream::pending::<Result<Bytes, std::io::Error>>()),
    ));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (query, body) = picture(64, 64, vec![255; 64 * 64]);
    let (status, answer, _) = post(router, &query, body).await;
    assert_error(status, &answer, (StatusCode::NOT_FOUND, "not_found"));
    stalled.abort();
}

/// The console's QR drawing (`POST /web/qr`): a code of up to 666 bytes comes back as SVG;
/// more, text that is not base64url, another field or too large a body is refused with why.
#[tokio::test]
async fn the_console_draws_a_printed_code_and_refuses_what_is_not_one() {
    let draw = async |body: String| {
        let request = Request::post("/web/qr")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap();
        let response = reader(DecodeLimits::default())
            .oneshot(request)
            .await
            .unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, serde_json::from_slice::<Value>(&bytes).unwrap())
    };
    let code = |n: usize| eid_crypto::b64url(&vec![0x5a; n]);
    let (status, drawn) = draw(format!(r#"{{"code":"{}"}}"#, code(666))).await;
    assert_eq!(status, StatusCode::OK, "{drawn}");
    assert!(
        drawn["svg"].as_str().unwrap().starts_with("<?xml"),
        "{drawn}"
    );
    for (body, says) in [
        (format!(r#"{{"code":"{}"}}"#, code(667)), "667 bytes"),
        (r#"{"code":"not base64!"}"#.to_owned(), "base64url"),
        (r#"{"code":"AA","more":1}"#.to_owned(), "unknown field"),
        (format!(r#"{{"code":"{}"}}"#, code(2048)), "length limit"),
    ] {
        let (status, answer) = draw(body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert_eq!(answer["error"], "invalid_request", "{answer}");
        assert!(
            answer["error_description"].as_str().unwrap().contains(says),
            "{says}: {answer}"
        );
    }
}
