//! The outbound HTTP client that holders and verifiers share, over HTTP/1.1 with hyper's
//! client: a wallet fetching metadata and request objects ([`fetch`]), posting forms and JSON
//! to an issuer or a relying party ([`post_form`], [`post_json`]); a verifier fetching status
//! lists, putting a trust list to a desk ([`put_text`]) and reading an event stream
//! ([`open_stream`]). Every exchange is bounded: [`MAX_BODY`] bytes, [`EXCHANGE_TIMEOUT`].
//!
//! `https://` is checked against Mozilla's roots (`webpki-roots`) and any a deployment adds
//! ([`add_roots`], or a PEM file named by `EID_HTTP_ROOTS`), with rustls (TLS 1.2 and 1.3,
//! AWS-LC); `http://` stays for loopback and a deployment's own network. What travels is
//! signed or encrypted end to end anyway (status lists, credentials, key proofs, JWE
//! answers): TLS keeps who talks to whom, and the metadata, from the network.

use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// The largest body fetched (a status list token is capped at a few MiB by `eid-status`).
pub const MAX_BODY: usize = 8 << 20;

/// Why a fetch or a subscription failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// Not an `http://` or `https://host[:port]/…` URL.
    #[error("{0} is not an http:// or https:// URL this client can reach")]
    Url(String),
    /// No connection.
    #[error("could not connect to {address}: {source}")]
    Connect {
        /// host:port.
        address: String,
        /// Why.
        source: std::io::Error,
    },
    /// The HTTP exchange failed.
    #[error("HTTP: {0}")]
    Http(String),
    /// The server answered with an error status (and this much of its body, which for eid's
    /// services says why).
    #[error("the server answered {0}: {1}")]
    Status(u16, String),
    /// No whole answer in time.
    #[error("no answer within {0} s")]
    Timeout(u64),
    /// The TLS handshake failed: most often a certificate that does not chain to a trusted
    /// root or does not name the host.
    #[error("TLS with {host}: {reason}")]
    Tls {
        /// The host asked for.
        host: String,
        /// Why, as rustls says it.
        reason: String,
    },
    /// The roots could not be read or added.
    #[error("TLS roots: {0}")]
    Roots(String),
    /// Plain `http://` to a host beyond loopback, in a process that refuses it
    /// ([`refuse_plain_http_beyond_loopback`]).
    #[error("plain http:// to {0} is refused: only https:// leaves this device")]
    PlainHttp(String),
}

/// Whether plain `http://` may go beyond loopback ([`refuse_plain_http_beyond_loopback`]).
static PLAIN_HTTP_REFUSED: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// From now on, this process sends nothing over plain `http://` except to loopback
/// (`localhost`, 127.0.0.0/8, `::1`): a phone's wallet carries the holder's number, name
/// and face to the authority, and must not do so in the clear. The mobile SDK sets it.
pub fn refuse_plain_http_beyond_loopback() {
    PLAIN_HTTP_REFUSED.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Whether an exchange with `url` is refused for going beyond loopback in the clear, when
/// `refusing` ([`refuse_plain_http_beyond_loopback`]).
fn in_the_clear_refused(url: &url::Url, refusing: bool) -> bool {
    refusing && url.scheme() == "http" && !url.host().is_some_and(|h| is_loopback(&h))
}

fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// Roots added before the first `https://` exchange ([`add_roots`]); `None` once the client
/// has taken them.
static ADDED_ROOTS: Mutex<Option<Vec<rustls_pki_types::CertificateDer<'static>>>> =
    Mutex::new(Some(Vec::new()));
/// The TLS client, made at the first `https://` exchange.
static TLS: OnceLock<Result<tokio_rustls::TlsConnector, String>> = OnceLock::new();

/// Trusts the certificates of `pem` (a deployment's private CA) for `https://`, beside
/// Mozilla's roots: to be called before the first `https://` exchange, whose client is
/// made once. Returns how many certificates were added.
pub fn add_roots(pem: &[u8]) -> Result<usize, HttpError> {
    use rustls_pki_types::pem::PemObject as _;
    let certificates = rustls_pki_types::CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| HttpError::Roots(format!("not PEM certificates: {e}")))?;
    if certificates.is_empty() {
        return Err(HttpError::Roots("no certificate in the PEM".into()));
    }
    // Each checked as the client will take it, so that a bad one is refused here and not
    // at the first exchange, where it would fail every https:// of the process.
    let mut scratch = rustls::RootCertStore::empty();
    for certificate in &certificates {
        scratch
            .add(certificate.clone())
            .map_err(|e| HttpError::Roots(format!("not a root certificate rustls takes: {e}")))?;
    }
    let n = certificates.len();
    let mut added = ADDED_ROOTS.lock().unwrap_or_else(PoisonError::into_inner);
    let Some(added) = added.as_mut() else {
        return Err(HttpError::Roots(
            "the TLS client is made already: add roots before the first https:// exchange".into(),
        ));
    };
    added.extend(certificates);
    Ok(n)
}

/// The TLS client: Mozilla's roots, those of `EID_HTTP_ROOTS` and those added.
fn tls() -> Result<&'static tokio_rustls::TlsConnector, HttpError> {
    TLS.get_or_init(|| {
        use rustls_pki_types::pem::PemObject as _;
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        // Taken under the lock: roots added from now on are refused, not lost.
        let mut added = ADDED_ROOTS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .unwrap_or_default();
        if let Some(path) = std::env::var_os("EID_HTTP_ROOTS") {
            let read = rustls_pki_types::CertificateDer::pem_file_iter(&path)
                .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("EID_HTTP_ROOTS ({}): {e}", path.to_string_lossy()))?;
            added.extend(read);
        }
        for certificate in added {
            roots
                .add(certificate)
                .map_err(|e| format!("a root that is not a CA certificate rustls takes: {e}"))?;
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
    })
    .as_ref()
    .map_err(|e| HttpError::Roots(e.clone()))
}

/// A connection, plain or over TLS.
trait Connection: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Connection for T {}

/// How long one request-and-answer may take (connect, send, the whole body).
pub const EXCHANGE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// `exchange` within [`EXCHANGE_TIMEOUT`].
async fn in_time<T>(exchange: impl Future<Output = Result<T, HttpError>>) -> Result<T, HttpError> {
    tokio::time::timeout(EXCHANGE_TIMEOUT, exchange)
        .await
        .unwrap_or(Err(HttpError::Timeout(EXCHANGE_TIMEOUT.as_secs())))
}

/// An HTTP failure as [`HttpError::Http`].
pub fn http_error(e: impl std::fmt::Display) -> HttpError {
    HttpError::Http(e.to_string())
}

async fn get(url: &str, accept: &str) -> Result<Response<Incoming>, HttpError> {
    send(url, accept, None, None).await
}

/// A GET with more headers whose body is read as it arrives (an event stream): only the
/// connection and the response head are bounded by [`EXCHANGE_TIMEOUT`].
pub async fn open_stream(
    url: &str,
    accept: &str,
    headers: &[(&'static str, &str)],
) -> Result<Incoming, HttpError> {
    in_time(async { Ok(get_with(url, accept, headers).await?.into_body()) }).await
}

/// [`get`] with more headers.
async fn get_with(
    url: &str,
    accept: &str,
    headers: &[(&'static str, &str)],
) -> Result<Response<Incoming>, HttpError> {
    send_as(hyper::Method::GET, url, accept, None, None, headers).await
}

/// One HTTP/1.1 exchange: GET, or POST of `body` (content type, text) when given, with a
/// bearer token when given.
async fn send(
    url: &str,
    accept: &str,
    body: Option<(&str, String)>,
    bearer: Option<&str>,
) -> Result<Response<Incoming>, HttpError> {
    send_as(hyper::Method::POST, url, accept, body, bearer, &[]).await
}

/// [`send`], with a body sent by `method` (POST, PUT).
async fn send_as(
    method: hyper::Method,
    url: &str,
    accept: &str,
    body: Option<(&str, String)>,
    bearer: Option<&str>,
    headers: &[(&'static str, &str)],
) -> Result<Response<Incoming>, HttpError> {
    let parsed = url::Url::parse(url).map_err(|_| HttpError::Url(url.to_owned()))?;
    let secure = match parsed.scheme() {
        "https" => true,
        "http" => false,
        _ => return Err(HttpError::Url(url.to_owned())),
    };
    let host = parsed
        .host_str()
        .ok_or_else(|| HttpError::Url(url.to_owned()))?;
    if in_the_clear_refused(
        &parsed,
        PLAIN_HTTP_REFUSED.load(std::sync::atomic::Ordering::Relaxed),
    ) {
        return Err(HttpError::PlainHttp(host.to_owned()));
    }
    let port = parsed
        .port_or_known_default()
        .unwrap_or(if secure { 443 } else { 80 });
    let address = format!("{host}:{port}");
    // As browsers send it: the port only when the URL names one other than the scheme's.
    let authority = match parsed.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    let stream = TcpStream::connect(&address)
        .await
        .map_err(|source| HttpError::Connect {
            address: address.clone(),
            source,
        })?;
    let _ = stream.set_nodelay(true);
    let stream: Box<dyn Connection> = if secure {
        // The name the certificate must carry: the host as the URL gives it (an IPv6
        // literal without its brackets).
        let name = host.trim_start_matches('[').trim_end_matches(']');
        let server = rustls_pki_types::ServerName::try_from(name.to_owned())
            .map_err(|_| HttpError::Url(url.to_owned()))?;
        Box::new(
            tls()?
                .connect(server, stream)
                .await
                .map_err(|e| HttpError::Tls {
                    host: host.to_owned(),
                    reason: e.to_string(),
                })?,
        )
    } else {
        Box::new(stream)
    };
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(http_error)?;
    // The connection runs beside the request; it ends when the response body is dropped.
    tokio::spawn(connection);
    let path = match parsed.query() {
        Some(query) => format!("{}?{query}", parsed.path()),
        None => parsed.path().to_owned(),
    };
    let (builder, content) = match body {
        Some((content_type, text)) => (
            Request::builder()
                .method(method)
                .uri(path)
                .header(CONTENT_TYPE, content_type),
            text,
        ),
        None => (Request::get(path), String::new()),
    };
    let builder = headers.iter().fold(builder, |builder, (name, value)| {
        builder.header(*name, *value)
    });
    let builder = match bearer {
        Some(token) => builder.header(AUTHORIZATION, format!("Bearer {token}")),
        None => builder,
    };
    let request = builder
        .header(HOST, authority)
        .header(ACCEPT, accept)
        .body(Full::new(Bytes::from(content)))
        .map_err(http_error)?;
    let response = sender.send_request(request).await.map_err(http_error)?;
    let status = response.status();
    if !status.is_success() {
        let text = self::body(response).await.unwrap_or_default();
        let excerpt: String = String::from_utf8_lossy(&text).chars().take(300).collect();
        return Err(HttpError::Status(status.as_u16(), excerpt));
    }
    Ok(response)
}

async fn body(response: Response<Incoming>) -> Result<Vec<u8>, HttpError> {
    let body = Limited::new(response.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(http_error)?;
    Ok(body.to_bytes().to_vec())
}

/// GETs `url` (a wallet fetching a request object), returning the body.
pub async fn fetch(url: &str, accept: &str) -> Result<Vec<u8>, HttpError> {
    in_time(async { body(get(url, accept).await?).await }).await
}

/// POSTs a form body to `url` (a wallet posting its answer), returning the body.
pub async fn post_form(url: &str, form: String) -> Result<Vec<u8>, HttpError> {
    in_time(async {
        body(
            send(
                url,
                "application/json",
                Some(("application/x-www-form-urlencoded", form)),
                None,
            )
            .await?,
        )
        .await
    })
    .await
}

/// POSTs a JSON body to `url`, with a bearer token when given (a wallet at an issuer's
/// credential endpoint), returning the body.
pub async fn post_json(
    url: &str,
    bearer: Option<&str>,
    json: String,
) -> Result<Vec<u8>, HttpError> {
    in_time(async {
        body(
            send(
                url,
                "application/json",
                Some(("application/json", json)),
                bearer,
            )
            .await?,
        )
        .await
    })
    .await
}

/// PUTs a text body to `url` (a trust list to a desk), returning the body.
pub async fn put_text(url: &str, content_type: &str, text: String) -> Result<Vec<u8>, HttpError> {
    in_time(async {
        body(
            send_as(
                hyper::Method::PUT,
                url,
                "application/json",
                Some((content_type, text)),
                None,
                &[],
            )
            .await?,
        )
        .await
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only plain http:// beyond loopback is refused, and only when refusing; https:// goes
    /// anywhere (no exchange here: the rule alone).
    #[test]
    fn only_plain_http_beyond_loopback_is_refused() {
        let refused = |url: &str, refusing| {
            in_the_clear_refused(
                &url::Url::parse(url).unwrap_or_else(|e| panic!("{url}: {e}")),
                refusing,
            )
        };
        for url in [
            "http://authority.example/",
            "http://10.0.0.1:8080/",
            "http://[2001:db8::1]/",
            "http://localhost.evil.example/",
            "http://0.0.0.0/",
            "http://[::ffff:127.0.0.1]/",
            "http://user@10.0.0.1/",
        ] {
            assert!(refused(url, true), "{url}");
            assert!(!refused(url, false), "{url}");
        }
        for url in [
            "http://127.0.0.1:1/",
            "http://127.1/",
            "http://LOCALHOST/",
            "http://[::1]/",
            "https://authority.example/",
            "https://10.0.0.1/",
        ] {
            assert!(!refused(url, true), "{url}");
        }
    }
}
