//! Events to NATS JetStream: a small client of the NATS text protocol (`CONNECT`, `SUB`,
//! `PUB`, `MSG`, `PING`/`PONG`) that is all a publisher needs, instead of a full client
//! library and its TLS stack (the broker sits on the authority's internal network).
//!
//! [`NatsPublisher::start`] makes sure the stream exists (`$JS.API.STREAM.CREATE`, capturing
//! `<prefix>.>`), then a background task publishes each queued event to
//! `<prefix>.<kind>` and waits for JetStream's acknowledgement, reconnecting and retrying
//! when the broker goes away. [`NatsConnection::request`] is also what tests and verifiers
//! use to read the stream back.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;

use crate::config::NatsConfig;
use crate::events::{Event, Publisher};

/// How long to wait for a reply.
const TIMEOUT: Duration = Duration::from_secs(5);

/// A NATS failure. Messages carry the broker's text, never an event's content.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NatsError {
    /// Connecting or talking failed.
    #[error("NATS connection: {0}")]
    Io(#[from] std::io::Error),
    /// The broker said something unexpected or refused.
    #[error("NATS protocol: {0}")]
    Protocol(String),
    /// No reply in time.
    #[error("NATS: no reply within {0:?}")]
    Timeout(Duration),
}

/// One connection, used for request/reply (one request at a time).
#[derive(Debug)]
pub struct NatsConnection {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    inbox: String,
    next: u64,
}

impl NatsConnection {
    /// Connects to `address` (`host:port`) and subscribes to a private reply inbox.
    pub async fn connect(address: &str) -> Result<Self, NatsError> {
        let stream = tokio::time::timeout(TIMEOUT, TcpStream::connect(address))
            .await
            .map_err(|_| NatsError::Timeout(TIMEOUT))??;
        let (read, writer) = stream.into_split();
        let mut connection = Self {
            reader: BufReader::new(read),
            writer,
            inbox: format!("_INBOX.eid.{}.{}", std::process::id(), unique()),
            next: 0,
        };
        let info = connection.line().await?;
        if !info.starts_with("INFO ") {
            return Err(NatsError::Protocol(
                "the server did not greet with INFO".into(),
            ));
        }
        let connect = json!({"verbose": false, "pedantic": false, "lang": "rust",
                             "version": env!("CARGO_PKG_VERSION"), "protocol": 1});
        let subscribe = format!(
            "CONNECT {connect}\r\nSUB {}.* 1\r\nPING\r\n",
            connection.inbox
        );
        connection.writer.write_all(subscribe.as_bytes()).await?;
        loop {
            match connection.line().await?.as_str() {
                "PONG" => return Ok(connection),
                "+OK" => {}
                other if other.starts_with("-ERR") => {
                    return Err(NatsError::Protocol(other.to_owned()));
                }
                _ => {}
            }
        }
    }

    async fn line(&mut self) -> Result<String, NatsError> {
        let mut line = String::new();
        let n = tokio::time::timeout(TIMEOUT, self.reader.read_line(&mut line))
            .await
            .map_err(|_| NatsError::Timeout(TIMEOUT))??;
        if n == 0 {
            return Err(NatsError::Protocol(
                "the server closed the connection".into(),
            ));
        }
        Ok(line.trim_end().to_owned())
    }

    /// Publishes `payload` to `subject` and returns the first reply's payload (a JetStream
    /// acknowledgement or API answer).
    pub async fn request(&mut self, subject: &str, payload: &[u8]) -> Result<Vec<u8>, NatsError> {
        self.next += 1;
        let reply = format!("{}.{}", self.inbox, self.next);
        let head = format!("PUB {subject} {reply} {}\r\n", payload.len());
        self.writer.write_all(head.as_bytes()).await?;
        self.writer.write_all(payload).await?;
        self.writer.write_all(b"\r\n").await?;
        loop {
            let line = self.line().await?;
            if line == "PING" {
                self.writer.write_all(b"PONG\r\n").await?;
                continue;
            }
            if line.starts_with("-ERR") {
                return Err(NatsError::Protocol(line));
            }
            let Some(rest) = line.strip_prefix("MSG ") else {
                continue;
            };
            // MSG <subject> <sid> [reply-to] <#bytes>
            let parts: Vec<&str> = rest.split(' ').collect();
            let size: usize = parts
                .last()
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| NatsError::Protocol("a MSG without a size".into()))?;
            let mut body = vec![0u8; size + 2];
            tokio::time::timeout(TIMEOUT, self.reader.read_exact(&mut body))
                .await
                .map_err(|_| NatsError::Timeout(TIMEOUT))??;
            body.truncate(size);
            if parts.first() == Some(&reply.as_str()) {
                return Ok(body);
            }
        }
    }

    /// A JetStream API call: the JSON answer, or its `error` as an error.
    pub async fn api(&mut self, subject: &str, body: &Value) -> Result<Value, NatsError> {
        let answer = self.request(subject, body.to_string().as_bytes()).await?;
        let answer: Value = serde_json::from_slice(&answer)
            .map_err(|_| NatsError::Protocol("a JetStream answer is not JSON".into()))?;
        match answer.get("error") {
            Some(error) => Err(NatsError::Protocol(format!("JetStream: {error}"))),
            None => Ok(answer),
        }
    }

    /// Creates the stream capturing `<prefix>.>`, or keeps it when it exists.
    pub async fn ensure_stream(&mut self, stream: &str, prefix: &str) -> Result<(), NatsError> {
        let config =
            json!({"name": stream, "subjects": [format!("{prefix}.>")], "storage": "file"});
        match self
            .api(&format!("$JS.API.STREAM.CREATE.{stream}"), &config)
            .await
        {
            Ok(_) => Ok(()),
            // "stream name already in use": someone made it first; publishing works.
            Err(NatsError::Protocol(text)) if text.contains("10058") => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// A number unique within the process, for inbox names.
fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Publishes events to JetStream from a background task.
#[derive(Debug)]
pub struct NatsPublisher {
    queue: mpsc::UnboundedSender<Event>,
}

impl NatsPublisher {
    /// Connects, makes sure the stream exists and starts publishing. Fails at once when the
    /// broker cannot be reached, so a misconfigured service does not start.
    pub async fn start(config: &NatsConfig) -> Result<Self, NatsError> {
        let mut connection = NatsConnection::connect(&config.address).await?;
        connection
            .ensure_stream(&config.stream, &config.subject_prefix)
            .await?;
        let (queue, mut events) = mpsc::unbounded_channel::<Event>();
        let (address, prefix) = (config.address.clone(), config.subject_prefix.clone());
        tokio::spawn(async move {
            let mut connection = Some(connection);
            while let Some(event) = events.recv().await {
                let subject = format!("{prefix}.{}", event.kind());
                let payload = serde_json::to_vec(&event).unwrap_or_default();
                // Three tries, reconnecting in between; then the event is dropped with a
                // log line (the status lists remain the record).
                let mut sent = false;
                for attempt in 0..3u64 {
                    if connection.is_none() {
                        connection = NatsConnection::connect(&address).await.ok();
                    }
                    let Some(c) = connection.as_mut() else {
                        tokio::time::sleep(Duration::from_millis(200 * (attempt + 1))).await;
                        continue;
                    };
                    match c.request(&subject, &payload).await {
                        Ok(ack) if !ack.windows(7).any(|w| w == b"\"error\"") => {
                            sent = true;
                            break;
                        }
                        _ => connection = None,
                    }
                }
                if !sent {
                    tracing::warn!(target: "eid::nats", subject = %subject, "an event was not acknowledged; dropped");
                }
            }
        });
        Ok(Self { queue })
    }
}

impl Publisher for NatsPublisher {
    fn publish(&self, event: &Event) {
        let _ = self.queue.send(event.clone());
    }
}
