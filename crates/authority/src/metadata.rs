//! The OpenID4VCI 1.0 metadata the public listener serves: the Credential Issuer Metadata
//! (`/.well-known/openid-credential-issuer`) and the OAuth authorization server metadata
//! of the pre-authorized code flow (`/.well-known/oauth-authorization-server`).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use eid_oid4vc::metadata::{
    AuthorizationServerMetadata, BatchCredentialIssuance, ClaimDescription,
    CredentialConfiguration, CredentialIssuerMetadata, CredentialMetadata, Display,
    KeyAttestationsRequired, ProofTypeMetadata,
};
use eid_oid4vc::{
    FORMAT_EID_COMPACT, FORMAT_MSO_MDOC, FORMAT_SD_JWT_VC, GRANT_PRE_AUTHORIZED_CODE,
};
use serde_json::json;

use crate::Authority;
use crate::credential::{self, CONFIG_MDOC, CONFIG_SD_JWT};

impl Authority {
    /// The Credential Issuer Metadata.
    pub fn metadata(&self) -> CredentialIssuerMetadata {
        let base = &self.settings.issuer_url;
        // What the authority signs with (ES256, or SM2 with SM3): COSE for mdocs and offline
        // codes, JOSE for SD-JWT VCs.
        let cose_alg = json!(self.signers.algorithm().cose_id());
        let jose_alg = json!(self.signers.algorithm().jose_name());
        let proof_types = BTreeMap::from([(
            "jwt".to_owned(),
            ProofTypeMetadata {
                proof_signing_alg_values_supported: vec!["ES256".into()],
                key_attestations_required: Some(KeyAttestationsRequired {
                    key_storage: self.settings.key_storage.clone(),
                    user_authentication: Vec::new(),
                }),
            },
        )]);
        let names = credential::attribute_names();
        let claims = |mdoc: bool| {
            names
                .iter()
                .map(|name| ClaimDescription {
                    path: if mdoc {
                        vec![credential::DOCTYPE.to_owned(), name.clone()]
                    } else {
                        vec![name.clone()]
                    },
                    mandatory: None,
                    display: Vec::new(),
                })
                .collect()
        };
        let display = |name: &str| {
            vec![
                Display {
                    name: "居民身份证".into(),
                    locale: Some("zh-CN".into()),
                },
                Display {
                    name: name.into(),
                    locale: Some("en".into()),
                },
            ]
        };
        let catalogue = self
            .trust
            .read()
            .map(|t| t.list().purposes.clone())
            .unwrap_or_default();
        let mut configurations = BTreeMap::from([
            (
                CONFIG_MDOC.to_owned(),
                CredentialConfiguration {
                    format: FORMAT_MSO_MDOC.into(),
                    doctype: Some(credential::DOCTYPE.into()),
                    vct: None,
                    scope: Some(CONFIG_MDOC.into()),
                    cryptographic_binding_methods_supported: vec!["cose_key".into()],
                    credential_signing_alg_values_supported: vec![cose_alg.clone()],
                    proof_types_supported: proof_types.clone(),
                    credential_metadata: Some(CredentialMetadata {
                        display: display("Resident identity card (mdoc)"),
                        claims: claims(true),
                    }),
                },
            ),
            (
                CONFIG_SD_JWT.to_owned(),
                CredentialConfiguration {
                    format: FORMAT_SD_JWT_VC.into(),
                    doctype: None,
                    vct: Some(credential::VCT.into()),
                    scope: Some(CONFIG_SD_JWT.into()),
                    cryptographic_binding_methods_supported: vec!["jwk".into()],
                    credential_signing_alg_values_supported: vec![jose_alg],
                    proof_types_supported: proof_types.clone(),
                    credential_metadata: Some(CredentialMetadata {
                        display: display("Resident identity card (SD-JWT VC)"),
                        claims: claims(false),
                    }),
                },
            ),
        ]);
        // A credential held for the resident by a parent or guardian: the same data set under
        // its own type, offered only by a counter's delegation (`crate::delegation`).
        for relationship in eid_core::Relationship::ALL {
            let [mdoc, sd_jwt] = credential::delegated_configurations(relationship);
            for (id, own) in [(mdoc, CONFIG_MDOC), (sd_jwt, CONFIG_SD_JWT)] {
                let Some(mut delegated) = configurations.get(own).cloned() else {
                    continue;
                };
                if delegated.doctype.is_some() {
                    delegated.doctype = Some(credential::doc_type(Some(relationship)).into());
                } else {
                    delegated.vct = Some(credential::vct(Some(relationship)).into());
                }
                delegated.scope = Some(id.clone());
                if let Some(metadata) = &mut delegated.credential_metadata {
                    metadata.display = display(&format!(
                        "Resident identity card held by a {relationship} ({})",
                        if own == CONFIG_MDOC {
                            "mdoc"
                        } else {
                            "SD-JWT VC"
                        }
                    ));
                }
                configurations.insert(id, delegated);
            }
        }
        for purpose in credential::OFFLINE_PURPOSES {
            let attributes = catalogue
                .iter()
                .find(|p| p.purpose == purpose)
                .map(|p| p.attributes.clone())
                .unwrap_or_default();
            configurations.insert(
                credential::offline_configuration(purpose),
                CredentialConfiguration {
                    format: FORMAT_EID_COMPACT.into(),
                    doctype: None,
                    vct: None,
                    scope: Some(credential::offline_configuration(purpose)),
                    cryptographic_binding_methods_supported: vec!["cose_key".into()],
                    credential_signing_alg_values_supported: vec![cose_alg.clone()],
                    proof_types_supported: proof_types.clone(),
                    credential_metadata: Some(CredentialMetadata {
                        display: display(&format!("Offline QR for {purpose}")),
                        claims: attributes
                            .into_iter()
                            .map(|name| ClaimDescription {
                                path: vec![name],
                                mandatory: None,
                                display: Vec::new(),
                            })
                            .collect(),
                    }),
                },
            );
        }
        CredentialIssuerMetadata {
            credential_issuer: base.clone(),
            authorization_servers: Vec::new(),
            credential_endpoint: format!("{base}/credential"),
            nonce_endpoint: Some(format!("{base}/nonce")),
            batch_credential_issuance: Some(BatchCredentialIssuance {
                batch_size: self.settings.batch_size,
            }),
            display: vec![Display {
                name: self.settings.issuer_name.clone(),
                locale: None,
            }],
            credential_configurations_supported: configurations,
        }
    }
}

pub(crate) async fn issuer_metadata(State(authority): State<Arc<Authority>>) -> Response {
    Json(authority.metadata()).into_response()
}

pub(crate) async fn authorization_server_metadata(
    State(authority): State<Arc<Authority>>,
) -> Response {
    let base = &authority.settings.issuer_url;
    Json(AuthorizationServerMetadata {
        issuer: base.clone(),
        token_endpoint: format!("{base}/token"),
        grant_types_supported: vec![GRANT_PRE_AUTHORIZED_CODE.into()],
        pre_authorized_grant_anonymous_access_supported: true,
    })
    .into_response()
}
