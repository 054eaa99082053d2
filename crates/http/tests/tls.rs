//! `https://` against a server on loopback whose certificate a private CA issued for
//! `localhost`: fetched once the CA is added as a root, and refused — saying why — where the
//! name or the root is wrong. A test binary of its own: the TLS client is made once per
//! process, after the roots are added.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is a failed test"
)]

use std::sync::Arc;

use base64::Engine as _;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// A CA named `ca_name` (its certificate as PEM), and a certificate it issued for `names`
/// with its key.
fn pki(ca_name: &str, names: &[&str]) -> (String, CertificateDer<'static>, PrivateKeyDer<'static>) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name.push(DnType::CommonName, ca_name);
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_certificate = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let certificate =
        CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
    let pem = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        base64::engine::general_purpose::STANDARD.encode(ca_certificate.der())
    );
    (
        pem,
        certificate.der().clone(),
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    )
}

/// Serves `certificate` on loopback, answering every request with a short body; its port.
async fn server(certificate: CertificateDer<'static>, key: PrivateKeyDer<'static>) -> u16 {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![certificate], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A refused handshake ends here; the client says why.
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let mut head = [0u8; 1024];
                let _ = tls.read(&mut head).await;
                let _ = tls
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello",
                    )
                    .await;
                let _ = tls.shutdown().await;
            });
        }
    });
    port
}

#[tokio::test]
async fn https_is_fetched_under_an_added_root_and_refused_otherwise() {
    let (root, certificate, key) = pki("Desk CA", &["localhost"]);
    let port = server(certificate, key).await;
    let url = format!("https://localhost:{port}/status/0");
    // A PEM block whose content is no certificate rustls can take as a root is refused when
    // added (not at the first exchange, where it would fail every https:// after).
    let junk = "-----BEGIN CERTIFICATE-----\nAAECAw==\n-----END CERTIFICATE-----\n";
    assert!(matches!(
        eid_http::add_roots(junk.as_bytes()),
        Err(eid_http::HttpError::Roots(reason)) if reason.contains("rustls takes")
    ));
    assert_eq!(eid_http::add_roots(root.as_bytes()).unwrap(), 1);
    assert!(matches!(
        eid_http::add_roots(b"not a certificate"),
        Err(eid_http::HttpError::Roots(_))
    ));
    assert_eq!(eid_http::fetch(&url, "text/plain").await.unwrap(), b"hello");

    // The certificate names localhost, not 127.0.0.1.
    let wrong_name = eid_http::fetch(&format!("https://127.0.0.1:{port}/"), "text/plain")
        .await
        .unwrap_err();
    assert!(
        matches!(&wrong_name, eid_http::HttpError::Tls { reason, .. } if reason.contains("not valid for name")),
        "{wrong_name}"
    );

    // Another CA's certificate for the right name: no root it chains to.
    let (_, stranger, stranger_key) = pki("Another CA", &["localhost"]);
    let port = server(stranger, stranger_key).await;
    let unknown = eid_http::fetch(&format!("https://localhost:{port}/"), "text/plain")
        .await
        .unwrap_err();
    assert!(
        matches!(&unknown, eid_http::HttpError::Tls { reason, .. } if reason.contains("UnknownIssuer")),
        "{unknown}"
    );

    // Roots come before the client is made.
    assert!(matches!(
        eid_http::add_roots(root.as_bytes()),
        Err(eid_http::HttpError::Roots(_))
    ));
    // A scheme the client does not speak.
    assert!(matches!(
        eid_http::fetch("ftp://localhost/", "text/plain").await,
        Err(eid_http::HttpError::Url(_))
    ));

    // Once a process refuses plain http:// beyond loopback (as the SDK's does), nothing
    // leaves in the clear (refused before any name is looked up); loopback is still
    // reached (here: nothing listens on port 1).
    eid_http::refuse_plain_http_beyond_loopback();
    for url in [
        "http://authority.example/",
        "http://10.0.0.1:8080/",
        "http://[2001:db8::1]/",
    ] {
        assert!(
            matches!(
                eid_http::fetch(url, "text/plain").await,
                Err(eid_http::HttpError::PlainHttp(_))
            ),
            "{url}"
        );
    }
    for url in [
        "http://127.0.0.1:1/",
        "http://localhost:1/",
        "http://[::1]:1/",
    ] {
        assert!(
            matches!(
                eid_http::fetch(url, "text/plain").await,
                Err(eid_http::HttpError::Connect { .. })
            ),
            "{url}"
        );
    }
    assert_eq!(eid_http::fetch(&url, "text/plain").await.unwrap(), b"hello");
}
