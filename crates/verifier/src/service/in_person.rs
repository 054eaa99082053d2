//! `POST /verify/in-person`: the desk connects to the phone its engagement QR code names
//! and runs the ISO/IEC 18013-5 exchange over TCP, then checks the answer.

use std::sync::Arc;

use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use eid_mdoc::engagement::DeviceEngagement;
use serde::Deserialize;

use super::asking::{Asking, Photographs};
use super::error::ApiError;
use super::face::{Live, with_face};
use super::state::Service;
use crate::in_person::{ReaderIdentity, ReaderSession};
use crate::report::Report;
use crate::{Channel, Check};

#[derive(Deserialize)]
pub(super) struct InPersonRequest {
    engagement: String,
    purpose: String,
    #[serde(default)]
    attributes: Option<Vec<String>>,
    /// A photograph of the person at the desk (JPEG or PNG, base64), to compare with the
    /// disclosed portrait.
    #[serde(default)]
    face: Option<String>,
    /// The head turn: a second photograph, the person's head turned to their `turn`.
    #[serde(default)]
    face_turned: Option<String>,
    #[serde(default)]
    turn: Option<String>,
}

impl InPersonRequest {
    fn photographs(&mut self) -> Photographs {
        Photographs {
            face: self.face.take(),
            face_turned: self.face_turned.take(),
            turn: self.turn.take(),
        }
    }
}

pub(super) async fn verify_in_person(
    State(service): State<Arc<Service>>,
    body: Result<axum::Json<InPersonRequest>, JsonRejection>,
) -> Result<axum::Json<Report>, ApiError> {
    let axum::Json(mut request) = body?;
    let photographs = request.photographs();
    let Asking {
        purpose,
        face,
        turned,
        signer,
        certificate,
    } = Asking::read(&service, &request.purpose, photographs, "in person")?;
    let engagement = DeviceEngagement::from_qr_uri(request.engagement.trim())
        .map_err(|_| ApiError::invalid("the engagement is not mdoc: text"))?;
    let address = engagement.tcp_address.as_deref().ok_or_else(|| {
        ApiError::invalid("the engagement offers no way to connect that this verifier has (TCP)")
    })?;
    // The address comes from the phone: an IP literal only (no name to resolve), and none
    // that is no phone's (unspecified, multicast, broadcast, link-local such as a cloud's
    // metadata service).
    let address = phone_address(address)
        .ok_or_else(|| ApiError::invalid("the engagement's address is not one a phone can have"))?;
    let (attributes, relying_party, delegation) = {
        let verifier = service.read()?;
        let attributes = match request.attributes {
            Some(a) => a,
            None => verifier.registered_attributes(purpose),
        };
        (
            attributes,
            verifier.relying_party().to_owned(),
            verifier.delegation_allowed(purpose),
        )
    };
    let (session, establishment) = ReaderSession::start(
        &engagement,
        &ReaderIdentity {
            signer: signer.as_ref(),
            certificate: &certificate,
            relying_party: &relying_party,
        },
        purpose,
        &attributes,
        delegation,
    )
    .map_err(|e| ApiError::BadRequest("request_failed", e.to_string()))?;
    // The exchange runs without the verifier's lock (pushes keep applying meanwhile), and
    // holds no thread while the holder decides.
    let place = service.exchanges.try_acquire().map_err(|_| {
        ApiError::busy("every in-person exchange place is taken; try again in a moment")
    })?;
    let outcome = exchange_with_phone(address, &establishment).await;
    drop(place);
    let now = service.clock.now();
    let finished = {
        let verifier = service.read()?;
        match outcome {
            Ok(message) => session.finish(&verifier, &message, now),
            Err(e) => {
                // The exchange never came to a check: refused, and not counted as one.
                return Ok(axum::Json(verifier.refuse(
                    &Check {
                        purpose,
                        requested: &attributes,
                        channel: Channel::InPerson,
                        now,
                    },
                    crate::Reason::new(
                        "transport_failed",
                        format!("the exchange with the phone failed: {e}"),
                    ),
                )));
            }
        }
    };
    let finished = with_face(&service, finished, Live::Photograph(face, turned)).await?;
    service.notice(&finished);
    Ok(axum::Json(finished))
}

/// Connects to the phone at `address` (10 s), sends the SessionEstablishment (30 s) and
/// waits for its answer (120 s: the holder reads the request and consents), in the framing
/// of [`eid_mdoc::transport`]. Each failure is said in fixed words: no operating-system
/// error text reaches the desk's client.
async fn exchange_with_phone(
    address: std::net::SocketAddr,
    establishment: &[u8],
) -> Result<Vec<u8>, &'static str> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::time::timeout;
    let hung_up = |e: std::io::Error, when: &'static str| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            when
        } else {
            "the connection to the phone failed"
        }
    };
    let mut stream = timeout(
        std::time::Duration::from_secs(10),
        tokio::net::TcpStream::connect(address),
    )
    .await
    .map_err(|_| "the phone could not be reached in time")?
    .map_err(|_| "the phone could not be reached")?;
    stream
        .set_nodelay(true)
        .map_err(|_| "the connection to the phone failed")?;
    let header = eid_mdoc::transport::frame_header(establishment)
        .map_err(|_| "the request is too large to send")?;
    timeout(std::time::Duration::from_secs(30), async {
        stream.write_all(&header).await?;
        stream.write_all(establishment).await
    })
    .await
    .map_err(|_| "the phone did not take the request in time")?
    .map_err(|_| "the connection to the phone failed")?;
    timeout(std::time::Duration::from_secs(120), async {
        let mut header = [0u8; 4];
        stream
            .read_exact(&mut header)
            .await
            .map_err(|e| hung_up(e, "the phone hung up without answering"))?;
        let len = eid_mdoc::transport::frame_length(header)
            .map_err(|_| "the phone announced an answer above 1 MiB")?;
        let mut message = vec![0u8; len];
        stream
            .read_exact(&mut message)
            .await
            .map_err(|e| hung_up(e, "the phone hung up in the middle of its answer"))?;
        Ok(message)
    })
    .await
    .map_err(|_| "the phone did not answer in time")?
}

/// A phone's announced `ip:port`, or `None` for a name or an address no phone has.
fn phone_address(text: &str) -> Option<std::net::SocketAddr> {
    let address: std::net::SocketAddr = text.parse().ok()?;
    let ip = address.ip();
    let link_local = match ip {
        std::net::IpAddr::V4(v4) => v4.is_link_local() || v4.is_broadcast(),
        std::net::IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    };
    (!ip.is_unspecified() && !ip.is_multicast() && !link_local && address.port() != 0)
        .then_some(address)
}

#[cfg(test)]
mod tests {
    use super::phone_address;

    #[test]
    fn a_phone_address_is_an_ip_literal_a_phone_can_have() {
        for good in ["127.0.0.1:7000", "192.168.1.20:7000", "[2001:db8::1]:7000"] {
            assert!(phone_address(good).is_some(), "{good}");
        }
        for bad in [
            "phone.example:7000",
            "0.0.0.0:7000",
            "169.254.169.254:80",
            "224.0.0.1:7000",
            "255.255.255.255:7000",
            "[fe80::1]:7000",
            "[::]:7000",
            "127.0.0.1:0",
            "127.0.0.1",
        ] {
            assert!(phone_address(bad).is_none(), "{bad}");
        }
    }
}
