//! ISO 18013-5 §9.1.1 session encryption and §9.1.3 mdoc authentication: session keys,
//! `SessionEstablishment` / `SessionData`, `DeviceAuthenticationBytes` and device
//! authentication by signature or MAC, all over the transcript bytes as exchanged.

use eid_crypto::session::{
    AgreementKey, Secret, aes256gcm_open, aes256gcm_seal, hkdf_sha256, hmac_sha256_verify,
};
use eid_crypto::{VerifyingKey, sha256};
use minicbor::Encoder;

use crate::MdocError;
pub use crate::cbor::tag24;
use crate::cbor::{decode_all, malformed, map_len, skip, tagged_cbor};
use crate::model::{DeviceAuth, Document};

/// COSE algorithm HMAC 256/256 (RFC 9053 §3.1), the one ISO 18013-5 deviceMac uses.
const HMAC_256_256: i64 = 5;

/// The session's two keys (§9.1.1.5): HKDF-SHA-256 over the ECDH secret of the two ephemeral
/// keys, salt SHA-256(SessionTranscriptBytes), info "SKReader" / "SKDevice".
pub struct SessionKeys {
    /// Encrypts what the reader sends.
    pub sk_reader: Secret,
    /// Encrypts what the device sends.
    pub sk_device: Secret,
}

impl SessionKeys {
    /// Derives both keys from our ephemeral key, the peer's public point and the
    /// SessionTranscript (raw CBOR, not tag-24 wrapped).
    pub fn derive(
        ours: &AgreementKey,
        peer_point: &[u8],
        session_transcript: &[u8],
    ) -> Result<Self, MdocError> {
        let shared = ours.agree(peer_point).map_err(MdocError::Algorithm)?;
        let salt = sha256(&tag24(session_transcript));
        Ok(Self {
            sk_reader: hkdf_sha256(&shared[..], &salt, b"SKReader")
                .map_err(MdocError::Algorithm)?,
            sk_device: hkdf_sha256(&shared[..], &salt, b"SKDevice")
                .map_err(MdocError::Algorithm)?,
        })
    }
}

/// §9.1.1.5: IV = 8-byte identifier (reader 0…0, device 0…01) || 4-byte message counter,
/// starting at 1.
fn nonce(from_device: bool, counter: u32) -> [u8; 12] {
    let mut iv = [0u8; 12];
    iv[7] = u8::from(from_device);
    iv[8..].copy_from_slice(&counter.to_be_bytes());
    iv
}

/// Encrypts the `counter`-th message of one side.
pub fn encrypt(
    key: &Secret,
    from_device: bool,
    counter: u32,
    plaintext: &[u8],
) -> Result<Vec<u8>, MdocError> {
    aes256gcm_seal(key, nonce(from_device, counter), plaintext).map_err(MdocError::Algorithm)
}

/// Decrypts the `counter`-th message of one side.
pub fn decrypt(
    key: &Secret,
    from_device: bool,
    counter: u32,
    sealed: &[u8],
) -> Result<Vec<u8>, MdocError> {
    aes256gcm_open(key, nonce(from_device, counter), sealed)
        .map_err(|_| MdocError::SessionDecryption)
}

/// `SessionEstablishment = { "eReaderKey": EReaderKeyBytes, "data": bstr }`: the reader's
/// ephemeral key and the encrypted DeviceRequest.
pub fn session_establishment(bytes: &[u8]) -> Result<(VerifyingKey, Vec<u8>), MdocError> {
    session_establishment_raw(bytes).map(|(key, _, data)| (key, data))
}

/// As [`session_establishment`], with EReaderKeyBytes as received (the device's
/// SessionTranscript embeds those bytes, whatever their encoding).
fn session_establishment_raw(bytes: &[u8]) -> Result<(VerifyingKey, Vec<u8>, Vec<u8>), MdocError> {
    decode_all(bytes, |d| {
        let (mut key, mut key_bytes, mut data) = (None, None, None);
        for _ in 0..map_len(d, "SessionEstablishment")? {
            match d.str().map_err(malformed("SessionEstablishment key"))? {
                "eReaderKey" => {
                    let (raw, inner) = tagged_cbor(d, "EReaderKeyBytes")?;
                    key = Some(crate::model::cose_key(inner)?);
                    key_bytes = Some(raw.to_vec());
                }
                "data" => data = Some(d.bytes().map_err(malformed("data"))?.to_vec()),
                _ => {
                    skip(d, "SessionEstablishment")?;
                }
            }
        }
        Ok((
            key.ok_or(MdocError::Malformed(
                "SessionEstablishment without eReaderKey",
            ))?,
            key_bytes.unwrap_or_default(),
            data.ok_or(MdocError::Malformed("SessionEstablishment without data"))?,
        ))
    })
}

/// `SessionData = { ? "data": bstr, ? "status": uint }`.
pub fn session_data(bytes: &[u8]) -> Result<(Option<Vec<u8>>, Option<u64>), MdocError> {
    decode_all(bytes, |d| {
        let (mut data, mut status) = (None, None);
        for _ in 0..map_len(d, "SessionData")? {
            match d.str().map_err(malformed("SessionData key"))? {
                "data" => data = Some(d.bytes().map_err(malformed("data"))?.to_vec()),
                "status" => status = Some(d.u64().map_err(malformed("status"))?),
                _ => {
                    skip(d, "SessionData")?;
                }
            }
        }
        Ok((data, status))
    })
}

/// `DeviceAuthenticationBytes = #6.24(bstr .cbor ["DeviceAuthentication", SessionTranscript,
/// DocType, DeviceNameSpacesBytes])` (§9.1.3.4), from the transcript and the namespaces
/// bytes as exchanged.
pub fn device_authentication_bytes(
    session_transcript: &[u8],
    doc_type: &str,
    device_name_spaces_bytes: &[u8],
) -> Vec<u8> {
    let mut inner =
        Vec::with_capacity(session_transcript.len() + device_name_spaces_bytes.len() + 64);
    let _ = Encoder::new(&mut inner)
        .array(4)
        .and_then(|e| e.str("DeviceAuthentication"));
    inner.extend_from_slice(session_transcript);
    let _ = Encoder::new(&mut inner).str(doc_type);
    inner.extend_from_slice(device_name_spaces_bytes);
    tag24(&inner)
}

/// How the reader checks a MAC: its ephemeral key, whose ECDH with the device key gives
/// EMacKey (§9.1.3.5).
pub struct MacCheck<'a> {
    /// The reader's ephemeral key (EReaderKey).
    pub reader_key: &'a AgreementKey,
}

/// Verifies the document's device authentication (signature with the MSO's device key, or
/// MAC with EMacKey) over DeviceAuthenticationBytes built from `session_transcript`.
pub fn verify_device_auth(
    document: &Document,
    device_key: &VerifyingKey,
    session_transcript: &[u8],
    mac: Option<&MacCheck<'_>>,
) -> Result<(), MdocError> {
    let payload = device_authentication_bytes(
        session_transcript,
        &document.doc_type,
        &document.device_signed.name_spaces_bytes,
    );
    match &document.device_signed.device_auth {
        DeviceAuth::Signature(sign1) => sign1
            .verify(device_key, Some(&payload), MdocError::DeviceSignature)
            .map_err(|e| match e {
                MdocError::MissingAlgorithm => MdocError::DeviceAlgorithm("none named".into()),
                MdocError::Algorithm(a) => MdocError::DeviceAlgorithm(a.to_string()),
                other => other,
            }),
        DeviceAuth::Mac(mac0) => {
            let reader_key = mac.ok_or(MdocError::MissingReaderKey)?.reader_key;
            match mac0.headers.alg {
                None => return Err(MdocError::DeviceAlgorithm("none named".into())),
                Some(HMAC_256_256) => {}
                Some(other) => {
                    return Err(MdocError::DeviceAlgorithm(format!(
                        "COSE {other} is not HMAC 256/256"
                    )));
                }
            }
            let shared = reader_key
                .agree(device_key.sec1())
                .map_err(MdocError::Algorithm)?;
            let salt = sha256(&tag24(session_transcript));
            let emac_key =
                hkdf_sha256(&shared[..], &salt, b"EMacKey").map_err(MdocError::Algorithm)?;
            hmac_sha256_verify(&emac_key[..], &mac0.to_be_maced(&payload), &mac0.tag)
                .map_err(|_| MdocError::DeviceMac)
        }
    }
}

/// The SessionTranscript of an OpenID4VP 1.0 presentation invoked by redirect (OpenID4VP
/// Appendix B.2.6.1): `[null, null, ["OpenID4VPHandover", SHA-256(OpenID4VPHandoverInfo)]]`
/// with `OpenID4VPHandoverInfo = [client_id, nonce, jwk_thumbprint / null, response_uri]`.
/// `jwk_thumbprint` is the SHA-256 thumbprint of the verifier's encryption key when the
/// response is encrypted.
pub fn oid4vp_session_transcript(
    client_id: &str,
    nonce: &str,
    jwk_thumbprint: Option<&[u8]>,
    response_uri: &str,
) -> Vec<u8> {
    let mut info = Vec::with_capacity(128);
    let mut e = Encoder::new(&mut info);
    let _ = e
        .array(4)
        .and_then(|e| e.str(client_id))
        .and_then(|e| e.str(nonce));
    let _ = match jwk_thumbprint {
        Some(t) => e.bytes(t),
        None => e.null(),
    };
    let _ = e.str(response_uri);
    hashed_handover_transcript("OpenID4VPHandover", &info)
}

/// `[null, null, [handover, SHA-256(info)]]`: the SessionTranscript of a presentation
/// whose handover is a name and the digest of its CBOR `info` (OpenID4VP by redirect and
/// through the Digital Credentials API, and ISO/IEC 18013-7 Annex C's `dcapi`).
pub(crate) fn hashed_handover_transcript(handover: &str, info: &[u8]) -> Vec<u8> {
    let mut out = crate::cbor::Out::with_capacity(handover.len() + 40);
    out.array(3)
        .raw(&[0xf6, 0xf6])
        .array(2)
        .text(handover)
        .bytes(&sha256(info));
    out.0
}

/// The SessionTranscript of an OpenID4VP 1.0 presentation through the W3C Digital
/// Credentials API (OpenID4VP Appendix B.2.6.2): `[null, null, ["OpenID4VPDCAPIHandover",
/// SHA-256(OpenID4VPDCAPIHandoverInfo)]]` with `OpenID4VPDCAPIHandoverInfo = [origin, nonce,
/// jwk_thumbprint / null]`: the origin as the browser gives it (not prefixed with
/// `origin:`), and the SHA-256 thumbprint of the verifier's encryption key for response mode
/// `dc_api.jwt` (`null` for `dc_api`).
pub fn oid4vp_dc_api_session_transcript(
    origin: &str,
    nonce: &str,
    jwk_thumbprint: Option<&[u8]>,
) -> Vec<u8> {
    let mut info = crate::cbor::Out::with_capacity(origin.len() + nonce.len() + 48);
    info.array(3).text(origin).text(nonce);
    match jwk_thumbprint {
        Some(t) => info.bytes(t),
        None => info.raw(&[0xf6]),
    };
    hashed_handover_transcript("OpenID4VPDCAPIHandover", &info.0)
}

/// The SessionTranscript of an ISO 18013-5 session (§9.1.5.1):
/// `[DeviceEngagementBytes, EReaderKeyBytes, Handover]`, from the DeviceEngagement CBOR as
/// exchanged, the reader's ephemeral point, and the handover (`null` for a QR engagement).
pub fn iso_session_transcript(
    device_engagement: &[u8],
    e_reader_point: &[u8; 65],
    handover: Option<&[u8]>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(device_engagement.len() + 96);
    let _ = Encoder::new(&mut out).array(3);
    out.extend_from_slice(&tag24(device_engagement));
    out.extend_from_slice(&tag24(&crate::model::cose_key_bytes(e_reader_point)));
    match handover {
        Some(h) => out.extend_from_slice(h),
        None => out.push(0xf6),
    }
    out
}

/// The holder's MAC device authentication (§9.1.3.5): with the device key's ECDH half and
/// the reader's ephemeral point, a `deviceMac` COSE_Mac0 (HMAC 256/256, detached payload)
/// over DeviceAuthenticationBytes.
pub fn device_mac(
    device_key: &AgreementKey,
    e_reader_point: &[u8],
    session_transcript: &[u8],
    doc_type: &str,
    device_name_spaces_bytes: &[u8],
) -> Result<crate::cose::CoseMac0, MdocError> {
    let shared = device_key
        .agree(e_reader_point)
        .map_err(MdocError::Algorithm)?;
    let emac_key = hkdf_sha256(&shared[..], &sha256(&tag24(session_transcript)), b"EMacKey")
        .map_err(MdocError::Algorithm)?;
    let mut protected = Vec::with_capacity(3);
    let _ = Encoder::new(&mut protected)
        .map(1)
        .and_then(|e| e.i64(1))
        .and_then(|e| e.i64(HMAC_256_256));
    let mut mac0 = crate::cose::CoseMac0 {
        protected,
        headers: crate::cose::Headers {
            alg: Some(HMAC_256_256),
            ..crate::cose::Headers::default()
        },
        payload: None,
        tag: Vec::new(),
    };
    let payload =
        device_authentication_bytes(session_transcript, doc_type, device_name_spaces_bytes);
    mac0.tag =
        eid_crypto::session::hmac_sha256(&emac_key[..], &mac0.to_be_maced(&payload)).to_vec();
    Ok(mac0)
}

/// `SessionEstablishment = { "eReaderKey": EReaderKeyBytes, "data": bstr }`: what a reader
/// sends first, with its ephemeral point and the encrypted DeviceRequest.
pub fn encode_session_establishment(e_reader_point: &[u8; 65], sealed_request: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(sealed_request.len() + 96);
    let _ = Encoder::new(&mut out)
        .map(2)
        .and_then(|e| e.str("eReaderKey"));
    out.extend_from_slice(&tag24(&crate::model::cose_key_bytes(e_reader_point)));
    let _ = Encoder::new(&mut out)
        .str("data")
        .and_then(|e| e.bytes(sealed_request));
    out
}

/// `SessionData { "status": 20 }`: session termination (§9.1.1.4), sent in clear by either
/// side — by the holder when it declines, without saying why.
pub fn session_termination() -> Vec<u8> {
    vec![0xa1, 0x66, b's', b't', b'a', b't', b'u', b's', 0x14]
}

/// One side of an ISO 18013-5 session (§9.1.1): the session keys, the SessionTranscript and
/// both message counters, so that a caller cannot reuse an AES-GCM nonce or accept a
/// replayed or reordered message.
pub struct Session {
    keys: SessionKeys,
    transcript: Vec<u8>,
    is_device: bool,
    sent: u32,
    received: u32,
    reader_key: Option<AgreementKey>,
}

impl Session {
    /// The reader's side, from the engagement it read: makes EReaderKey, the transcript
    /// (`handover` `None` for a QR engagement) and the keys.
    pub fn for_reader(
        engagement: &crate::engagement::DeviceEngagement,
        handover: Option<&[u8]>,
    ) -> Result<Self, MdocError> {
        let reader_key = AgreementKey::generate().map_err(MdocError::Algorithm)?;
        let transcript =
            iso_session_transcript(&engagement.bytes, reader_key.public_point(), handover);
        let keys = SessionKeys::derive(&reader_key, engagement.e_device_key.sec1(), &transcript)?;
        Ok(Self {
            keys,
            transcript,
            is_device: false,
            sent: 0,
            received: 0,
            reader_key: Some(reader_key),
        })
    }

    /// The device's side, from its engagement (the CBOR it showed), its ephemeral key and
    /// the reader's SessionEstablishment: returns the session and the decrypted request.
    pub fn for_device(
        engagement: &[u8],
        e_device: &AgreementKey,
        establishment: &[u8],
        handover: Option<&[u8]>,
    ) -> Result<(Self, Vec<u8>), MdocError> {
        let (e_reader, e_reader_bytes, sealed) = session_establishment_raw(establishment)?;
        let mut transcript = Vec::with_capacity(engagement.len() + e_reader_bytes.len() + 16);
        let _ = Encoder::new(&mut transcript).array(3);
        transcript.extend_from_slice(&tag24(engagement));
        transcript.extend_from_slice(&e_reader_bytes);
        match handover {
            Some(h) => transcript.extend_from_slice(h),
            None => transcript.push(0xf6),
        }
        let keys = SessionKeys::derive(e_device, e_reader.sec1(), &transcript)?;
        let mut session = Self {
            keys,
            transcript,
            is_device: true,
            sent: 0,
            received: 0,
            reader_key: None,
        };
        let request = session.open_data(&sealed)?;
        Ok((session, request))
    }

    /// The SessionTranscript both sides authenticate.
    pub fn transcript(&self) -> &[u8] {
        &self.transcript
    }

    /// The reader's ephemeral key (for checking a deviceMac); `None` on the device side.
    pub fn reader_key(&self) -> Option<&AgreementKey> {
        self.reader_key.as_ref()
    }

    fn next(counter: &mut u32) -> Result<u32, MdocError> {
        *counter = counter.checked_add(1).ok_or(MdocError::SessionDecryption)?;
        Ok(*counter)
    }

    fn seal_data(&mut self, message: &[u8]) -> Result<Vec<u8>, MdocError> {
        let counter = Self::next(&mut self.sent)?;
        let key = if self.is_device {
            &self.keys.sk_device
        } else {
            &self.keys.sk_reader
        };
        encrypt(key, self.is_device, counter, message)
    }

    fn open_data(&mut self, sealed: &[u8]) -> Result<Vec<u8>, MdocError> {
        // The counter moves on only when a message opens: an injected or altered message
        // does not desynchronise the session.
        let counter = self
            .received
            .checked_add(1)
            .ok_or(MdocError::SessionDecryption)?;
        let key = if self.is_device {
            &self.keys.sk_reader
        } else {
            &self.keys.sk_device
        };
        let plain = decrypt(key, !self.is_device, counter, sealed)?;
        self.received = counter;
        Ok(plain)
    }

    /// The reader's first message: SessionEstablishment with the encrypted DeviceRequest.
    pub fn establishment(&mut self, device_request: &[u8]) -> Result<Vec<u8>, MdocError> {
        let point = *self
            .reader_key
            .as_ref()
            .ok_or(MdocError::Malformed(
                "only a reader sends SessionEstablishment",
            ))?
            .public_point();
        let sealed = self.seal_data(device_request)?;
        Ok(encode_session_establishment(&point, &sealed))
    }

    /// A later message: `SessionData { "data": … }` sealed with this side's key and counter.
    pub fn seal(&mut self, message: &[u8]) -> Result<Vec<u8>, MdocError> {
        let sealed = self.seal_data(message)?;
        let mut out = Vec::with_capacity(sealed.len() + 16);
        let _ = Encoder::new(&mut out)
            .map(1)
            .and_then(|e| e.str("data"))
            .and_then(|e| e.bytes(&sealed));
        Ok(out)
    }

    /// Opens the peer's next `SessionData`; a replayed, reordered or altered message fails.
    /// Returns `None` for a SessionData without data (a status such as 20, session end).
    pub fn open(&mut self, session_data_bytes: &[u8]) -> Result<Option<Vec<u8>>, MdocError> {
        match session_data(session_data_bytes)? {
            (Some(sealed), _) => self.open_data(&sealed).map(Some),
            (None, _) => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engagement::DeviceEngagement;

    #[test]
    fn termination_is_status_20_without_data() {
        assert_eq!(
            session_data(&session_termination()).unwrap(),
            (None, Some(20))
        );
    }

    #[test]
    fn a_session_both_ways_with_counters() {
        let e_device = AgreementKey::generate().unwrap();
        let engagement = DeviceEngagement::encode(e_device.public_point());
        let mut reader =
            Session::for_reader(&DeviceEngagement::parse(&engagement).unwrap(), None).unwrap();
        let establishment = reader.establishment(b"DeviceRequest").unwrap();
        let (mut device, request) =
            Session::for_device(&engagement, &e_device, &establishment, None).unwrap();
        assert_eq!(request, b"DeviceRequest");
        assert_eq!(device.transcript(), reader.transcript());

        let first = device.seal(b"DeviceResponse 1").unwrap();
        let second = device.seal(b"DeviceResponse 2").unwrap();
        // Another reader's keys do not open it.
        let mut other =
            Session::for_reader(&DeviceEngagement::parse(&engagement).unwrap(), None).unwrap();
        assert_eq!(other.open(&first).err(), Some(MdocError::SessionDecryption));
        // Out of order: the second message first is refused, and does not desynchronise.
        assert_eq!(
            reader.open(&second).err(),
            Some(MdocError::SessionDecryption)
        );
        assert_eq!(
            reader.open(&first).unwrap().as_deref(),
            Some(&b"DeviceResponse 1"[..])
        );
        // A replay of the first message is refused; the second then opens.
        assert_eq!(
            reader.open(&first).err(),
            Some(MdocError::SessionDecryption)
        );
        assert_eq!(
            reader.open(&second).unwrap().as_deref(),
            Some(&b"DeviceResponse 2"[..])
        );
        // The reader answers; the device opens it with its own counter.
        let reply = reader.seal(b"next request").unwrap();
        assert_eq!(
            device.open(&reply).unwrap().as_deref(),
            Some(&b"next request"[..])
        );
    }
}
