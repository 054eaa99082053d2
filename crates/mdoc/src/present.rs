//! The holder side (ISO 18013-5 §8.3.2.1.2.2, §9.1.3): choose the elements to disclose and
//! answer with a DeviceResponse whose deviceSignature covers the session transcript.

use eid_crypto::Signer;
use minicbor::Encoder;

use crate::MdocError;
use crate::cose::CoseSign1;
use crate::model::{IssuerSigned, MobileSecurityObject};
use crate::session::{device_authentication_bytes, tag24};

fn encode_error<E>(_: E) -> MdocError {
    MdocError::Malformed("could not encode")
}

/// The docType the issuer signed for the credential `issuer_signed` (its MSO's): which
/// document it is, the holder's own or one held for someone else.
pub fn doc_type(issuer_signed: &[u8]) -> Result<String, MdocError> {
    signed_doc_type(&IssuerSigned::from_cbor(issuer_signed)?)
}

fn signed_doc_type(credential: &IssuerSigned) -> Result<String, MdocError> {
    let payload = credential
        .issuer_auth
        .payload
        .as_deref()
        .ok_or(MdocError::Malformed("issuerAuth without payload"))?;
    Ok(MobileSecurityObject::from_payload(payload)?.doc_type)
}

/// A DeviceResponse presenting the elements named in `disclose` (identifiers, in whichever
/// namespace they are) of the credential `issuer_signed`, signed by `device_key` over
/// DeviceAuthenticationBytes built from `session_transcript` (raw CBOR). The issuer's items
/// and issuerAuth are passed on byte for byte.
pub fn present(
    issuer_signed: &[u8],
    disclose: &[&str],
    device_key: &dyn Signer,
    session_transcript: &[u8],
) -> Result<Vec<u8>, MdocError> {
    let credential = IssuerSigned::from_cbor(issuer_signed)?;
    let doc_type = signed_doc_type(&credential)?;
    for name in disclose {
        let known = credential
            .name_spaces
            .iter()
            .any(|(_, items)| items.iter().any(|i| i.element_identifier == *name));
        if !known {
            return Err(MdocError::NotDisclosable((*name).to_owned()));
        }
    }
    let selected: Vec<(&str, Vec<&[u8]>)> = credential
        .name_spaces
        .iter()
        .map(|(ns, items)| {
            let chosen = items
                .iter()
                .filter(|i| disclose.contains(&i.element_identifier.as_str()))
                .map(|i| i.bytes.as_slice())
                .collect::<Vec<_>>();
            (ns.as_str(), chosen)
        })
        .filter(|(_, chosen)| !chosen.is_empty())
        .collect();

    // No device-signed elements: DeviceNameSpacesBytes = #6.24(bstr .cbor {}).
    let device_name_spaces = tag24(&[0xa0]);
    let to_sign = device_authentication_bytes(session_transcript, &doc_type, &device_name_spaces);
    let signature =
        CoseSign1::sign(device_key, &to_sign, &[], true).map_err(MdocError::Algorithm)?;

    let mut out = Vec::with_capacity(issuer_signed.len() + 512);
    let mut e = Encoder::new(&mut out);
    e.map(3)
        .and_then(|e| e.str("version"))
        .and_then(|e| e.str("1.0"))
        .and_then(|e| e.str("documents"))
        .and_then(|e| e.array(1))
        .and_then(|e| e.map(3))
        .and_then(|e| e.str("docType"))
        .and_then(|e| e.str(&doc_type))
        .and_then(|e| e.str("issuerSigned"))
        .and_then(|e| e.map(2))
        .and_then(|e| e.str("nameSpaces"))
        .and_then(|e| e.map(selected.len() as u64))
        .map_err(encode_error)?;
    for (ns, items) in &selected {
        e.str(ns)
            .and_then(|e| e.array(items.len() as u64))
            .map_err(encode_error)?;
        for item in items {
            e.writer_mut().extend_from_slice(item);
        }
    }
    e.str("issuerAuth").map_err(encode_error)?;
    e.writer_mut()
        .extend_from_slice(&credential.issuer_auth_bytes);
    e.str("deviceSigned")
        .and_then(|e| e.map(2))
        .and_then(|e| e.str("nameSpaces"))
        .map_err(encode_error)?;
    e.writer_mut().extend_from_slice(&device_name_spaces);
    e.str("deviceAuth")
        .and_then(|e| e.map(1))
        .and_then(|e| e.str("deviceSignature"))
        .map_err(encode_error)?;
    signature.encode(&mut e).map_err(encode_error)?;
    e.str("status")
        .and_then(|e| e.u64(0))
        .map_err(encode_error)?;
    Ok(out)
}
