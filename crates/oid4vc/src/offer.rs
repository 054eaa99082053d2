//! The Credential Offer (OpenID4VCI 1.0 §4.1), passed by value in an
//! `openid-credential-offer://?credential_offer=…` URI (a QR code or a deep link).
//!
//! ```text
//! { "credential_issuer": url, "credential_configuration_ids": [tstr],
//!   "grants": { "urn:ietf:params:oauth:grant-type:pre-authorized_code": {
//!       "pre-authorized_code": tstr,
//!       ? "tx_code": { ? "input_mode": "numeric" | "text", ? "length": uint,
//!                      ? "description": tstr } } } }
//! ```

use serde::{Deserialize, Serialize};

use crate::{GRANT_PRE_AUTHORIZED_CODE, OfferError};

/// The URI scheme of offers passed by value (§4.1.3).
pub const OFFER_SCHEME: &str = "openid-credential-offer://";

/// A Credential Offer.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialOffer {
    /// The issuer to fetch metadata from.
    pub credential_issuer: String,
    /// What is offered (keys of `credential_configurations_supported`).
    pub credential_configuration_ids: Vec<String>,
    /// How the wallet obtains an access token.
    pub grants: Grants,
}

impl std::fmt::Debug for CredentialOffer {
    /// The pre-authorized code is a bearer secret: never shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialOffer")
            .field("credential_issuer", &self.credential_issuer)
            .field(
                "credential_configuration_ids",
                &self.credential_configuration_ids,
            )
            .finish_non_exhaustive()
    }
}

/// The grants of an offer: here only the pre-authorized code.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grants {
    /// The pre-authorized code grant.
    #[serde(rename = "urn:ietf:params:oauth:grant-type:pre-authorized_code")]
    pub pre_authorized_code: PreAuthorizedCodeGrant,
}

/// The pre-authorized code grant (§4.1.1).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreAuthorizedCodeGrant {
    /// The code, exchanged once at the token endpoint.
    #[serde(rename = "pre-authorized_code")]
    pub code: String,
    /// Present when the token request must carry a transaction code sent to the citizen
    /// on another channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx_code: Option<TxCode>,
}

/// How the wallet should ask for the transaction code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxCode {
    /// `numeric` or `text`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_mode: Option<String>,
    /// Its length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u32>,
    /// Where the citizen finds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl CredentialOffer {
    /// A pre-authorized offer of `configurations`.
    pub fn pre_authorized(
        issuer: &str,
        configurations: Vec<String>,
        code: String,
        tx_code: Option<TxCode>,
    ) -> Self {
        Self {
            credential_issuer: issuer.to_owned(),
            credential_configuration_ids: configurations,
            grants: Grants {
                pre_authorized_code: PreAuthorizedCodeGrant { code, tx_code },
            },
        }
    }

    /// The offer passed by value: `openid-credential-offer://?credential_offer=<JSON>`,
    /// percent-encoded.
    pub fn to_uri(&self) -> String {
        let json = serde_json::to_string(self).unwrap_or_default();
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("credential_offer", &json)
            .finish();
        format!("{OFFER_SCHEME}?{query}")
    }

    /// Reads an offer passed by value. Offers by reference (`credential_offer_uri`) need a
    /// fetch, which is the wallet's business, and are refused here.
    pub fn from_uri(uri: &str) -> Result<Self, OfferError> {
        let query = uri
            .strip_prefix(OFFER_SCHEME)
            .ok_or(OfferError::NotAnOffer(
                "it does not start with openid-credential-offer://",
            ))?
            .trim_start_matches('/')
            .strip_prefix('?')
            .ok_or(OfferError::NotAnOffer("it has no query"))?;
        let mut offer = None;
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            match name.as_ref() {
                "credential_offer" if offer.is_none() => offer = Some(value.into_owned()),
                "credential_offer" => {
                    return Err(OfferError::NotAnOffer("credential_offer appears twice"));
                }
                "credential_offer_uri" => {
                    return Err(OfferError::NotAnOffer(
                        "offers by reference are not supported; pass the offer by value",
                    ));
                }
                _ => {}
            }
        }
        let json = offer.ok_or(OfferError::NotAnOffer("it has no credential_offer"))?;
        Self::from_json(&json)
    }

    /// Reads an offer's JSON.
    pub fn from_json(json: &str) -> Result<Self, OfferError> {
        let offer: Self =
            serde_json::from_str(json).map_err(|e| OfferError::Malformed(e.to_string()))?;
        if offer.credential_configuration_ids.is_empty() {
            return Err(OfferError::Malformed(
                "credential_configuration_ids is empty".into(),
            ));
        }
        Ok(offer)
    }

    /// The grant type this offer uses.
    pub fn grant_type(&self) -> &'static str {
        GRANT_PRE_AUTHORIZED_CODE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offer_round_trips_through_its_uri() {
        let offer = CredentialOffer::pre_authorized(
            "https://authority.example",
            vec!["resident_identity_mdoc".into()],
            "code-1".into(),
            Some(TxCode {
                input_mode: Some("numeric".into()),
                length: Some(6),
                description: None,
            }),
        );
        let uri = offer.to_uri();
        assert!(uri.starts_with("openid-credential-offer://?credential_offer=%7B"));
        assert_eq!(CredentialOffer::from_uri(&uri), Ok(offer));
        // The grant's JSON name is the one of §4.1.1.
        assert!(uri.contains("pre-authorized_code"));
    }

    #[test]
    fn offers_by_reference_and_other_schemes_are_refused_with_the_reason() {
        assert_eq!(
            CredentialOffer::from_uri("https://x/?credential_offer=%7B%7D"),
            Err(OfferError::NotAnOffer(
                "it does not start with openid-credential-offer://"
            ))
        );
        assert!(matches!(
            CredentialOffer::from_uri("openid-credential-offer://?credential_offer_uri=https%3A%2F%2Fx"),
            Err(OfferError::NotAnOffer(m)) if m.contains("by reference")
        ));
        assert!(matches!(
            CredentialOffer::from_uri("openid-credential-offer://?credential_offer=%7B%7D"),
            Err(OfferError::Malformed(_))
        ));
    }
}
