//! The outbound HTTP client that holders and verifiers share, over HTTP/1.1 with hyper's
//! client: a wallet fetching metadata and request objects ([`fetch`]), posting forms and JSON
//! to an issuer or a relying party ([`post_form`], [`post_json`]); a verifier fetching status
//! lists, putting a trust list to a desk ([`put_text`]) and reading an event stream
//! ([`open_stream`]). Every exchange is bounded: [`MAX_BODY`] bytes, [`EXCHANGE_TIMEOUT`].
//!
//! Plain `http://` only so far: a deployment puts TLS in front (what travels is signed or
//! encrypted end to end: status lists, credentials, key proofs, JWE answers).

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
    /// Not an `http://host[:port]/…` URL.
    #[error("{0} is not an http:// URL this client can reach")]
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
}

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
    let host = parsed
        .host_str()
        .filter(|_| parsed.scheme() == "http")
        .ok_or_else(|| HttpError::Url(url.to_owned()))?;
    let port = parsed.port_or_known_default().unwrap_or(80);
    let address = format!("{host}:{port}");
    let stream = TcpStream::connect(&address)
        .await
        .map_err(|source| HttpError::Connect {
            address: address.clone(),
            source,
        })?;
    let _ = stream.set_nodelay(true);
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
        .header(HOST, address)
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
