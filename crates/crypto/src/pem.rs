//! PEM (RFC 7468) in its strict form: one label, base64 lines between the boundaries.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::CryptoError;

/// PEM text with `label` around `der`, 64 characters a line.
pub fn encode(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The DER inside the first block labelled `label`.
pub fn decode(label: &str, text: &str) -> Result<Vec<u8>, CryptoError> {
    decode_all(label, text)?
        .into_iter()
        .next()
        .ok_or_else(|| CryptoError::Pem(format!("no {label} block")))
}

/// The DER of every block labelled `label`, in order (a certificate chain); blocks with other
/// labels are refused.
pub fn decode_all(label: &str, text: &str) -> Result<Vec<Vec<u8>>, CryptoError> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let mut blocks = Vec::new();
    let mut body: Option<String> = None;
    for line in text.lines().map(str::trim) {
        match &mut body {
            None if line == begin => body = Some(String::new()),
            None if line.starts_with("-----BEGIN ") => {
                return Err(CryptoError::Pem(format!("expected {label}, found {line}")));
            }
            None => {}
            Some(b) if line == end => {
                let der = STANDARD
                    .decode(b.as_bytes())
                    .map_err(|_| CryptoError::Pem(format!("the {label} block is not base64")))?;
                blocks.push(der);
                body = None;
            }
            Some(b) => b.push_str(line),
        }
    }
    if body.is_some() {
        return Err(CryptoError::Pem(format!(
            "the {label} block has no END line"
        )));
    }
    if blocks.is_empty() {
        return Err(CryptoError::Pem(format!("no {label} block")));
    }
    Ok(blocks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let der = (0u8..=200).collect::<Vec<_>>();
        let text = encode("CERTIFICATE", &der);
        assert!(
            text.lines()
                .all(|l| l.len() <= 64 || l.starts_with("-----"))
        );
        assert_eq!(decode("CERTIFICATE", &text).unwrap(), der);
        let two = format!("{text}{text}");
        assert_eq!(decode_all("CERTIFICATE", &two).unwrap().len(), 2);
        assert!(decode("PRIVATE KEY", &text).is_err());
        assert!(
            decode(
                "CERTIFICATE",
                &text.replace("-----END CERTIFICATE-----\n", "")
            )
            .is_err()
        );
        assert!(
            decode(
                "CERTIFICATE",
                "-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----"
            )
            .is_err()
        );
    }
}
