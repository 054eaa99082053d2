//! NATS JetStream: a small client of the NATS text protocol (`CONNECT`, `SUB`, `PUB`,
//! `HPUB`, `MSG`, `HMSG`, `PING`/`PONG`) that is all the authority needs — publishing the
//! outbox with a message id, and following a stream from a sequence — instead of a full
//! client library and its TLS stack (the broker sits on the authority's internal network).
//!
//! - [`NatsConnection::publish_unique`] publishes with `Nats-Msg-Id`, so that JetStream
//!   drops a second copy of the same outbox row (from a retry, or from another replica's
//!   relay) within the stream's duplicate window: at-least-once delivery, an exactly-once
//!   effect.
//! - [`NatsConnection::follow`] creates an ephemeral push consumer delivering a subject
//!   from a stream sequence (`Last-Event-ID` + 1) or from now, with idle heartbeats; each
//!   [`Delivery`] carries its stream sequence, which becomes the SSE event's id.
//! - [`NatsConnection::connect_any`] takes the first node of a cluster that answers.

use std::collections::VecDeque;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// How long to wait for a reply.
const TIMEOUT: Duration = Duration::from_secs(5);

/// The idle heartbeat a followed consumer sends; a follower that hears nothing for three of
/// them takes the connection for dead.
pub const HEARTBEAT: Duration = Duration::from_secs(5);

/// How long the stream remembers message ids to drop duplicates by.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(600);

/// How long the stream keeps events (a follower resuming after longer re-reads the lists).
const MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

/// The largest message accepted from the server.
const MAX_MESSAGE: usize = 1 << 20;

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

/// The longest protocol line accepted (an `INFO` with a large cluster is a few KiB).
const MAX_LINE: u64 = 64 * 1024;

/// Deliveries held while a reply is awaited, at most; beyond, the connection is given up
/// (its reader reconnects from its last event id) rather than an event skipped.
const MAX_HELD: usize = 4096;

/// A message as received.
#[derive(Debug, Clone)]
struct Message {
    subject: String,
    sid: u64,
    reply: Option<String>,
    /// The header block's first line (`NATS/1.0`, `NATS/1.0 100 Idle Heartbeat`).
    status_line: Option<String>,
    payload: Vec<u8>,
}

/// An event delivered by a followed consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Its sequence in the stream.
    pub sequence: u64,
    /// The payload.
    pub payload: Vec<u8>,
}

/// The subscription id of the reply inbox; followed consumers get 2.
const INBOX_SID: u64 = 1;
const DELIVER_SID: u64 = 2;

/// One connection: request/reply (one request at a time) and at most one followed consumer.
#[derive(Debug)]
pub struct NatsConnection {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    inbox: String,
    next: u64,
    /// Deliveries that arrived while a reply was awaited.
    held: VecDeque<Message>,
}

impl NatsConnection {
    /// Connects to `address` (`host:port`) and subscribes to a private reply inbox.
    pub async fn connect(address: &str) -> Result<Self, NatsError> {
        let stream = tokio::time::timeout(TIMEOUT, TcpStream::connect(address))
            .await
            .map_err(|_| NatsError::Timeout(TIMEOUT))??;
        let _ = stream.set_nodelay(true);
        let (read, writer) = stream.into_split();
        let mut connection = Self {
            reader: BufReader::new(read),
            writer,
            inbox: format!("_INBOX.eid.{}", unique()),
            next: 0,
            held: VecDeque::new(),
        };
        let info = connection.line(TIMEOUT).await?;
        if !info.starts_with("INFO ") {
            return Err(NatsError::Protocol(
                "the server did not greet with INFO".into(),
            ));
        }
        let connect = json!({"verbose": false, "pedantic": false, "lang": "rust",
                             "version": env!("CARGO_PKG_VERSION"), "protocol": 1,
                             "headers": true, "no_responders": true});
        let subscribe = format!(
            "CONNECT {connect}\r\nSUB {}.* {INBOX_SID}\r\nPING\r\n",
            connection.inbox
        );
        connection.writer.write_all(subscribe.as_bytes()).await?;
        loop {
            match connection.line(TIMEOUT).await?.as_str() {
                "PONG" => return Ok(connection),
                other if other.starts_with("-ERR") => {
                    return Err(NatsError::Protocol(other.to_owned()));
                }
                _ => {}
            }
        }
    }

    /// Connects to the first of `addresses` that answers, starting at the `start`-th (so
    /// that successive reconnections go round the cluster).
    pub async fn connect_any(addresses: &[String], start: usize) -> Result<Self, NatsError> {
        let mut last = NatsError::Protocol("no NATS address is configured".into());
        for i in 0..addresses.len() {
            let address = &addresses[(start + i) % addresses.len()];
            match Self::connect(address).await {
                Ok(connection) => return Ok(connection),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    async fn line(&mut self, within: Duration) -> Result<String, NatsError> {
        let mut line = Vec::new();
        let n = tokio::time::timeout(
            within,
            (&mut self.reader)
                .take(MAX_LINE)
                .read_until(b'\n', &mut line),
        )
        .await
        .map_err(|_| NatsError::Timeout(within))??;
        if n == 0 {
            return Err(NatsError::Protocol(
                "the server closed the connection".into(),
            ));
        }
        if line.last() != Some(&b'\n') {
            return Err(NatsError::Protocol(
                "a protocol line too long or cut".into(),
            ));
        }
        let line = String::from_utf8(line)
            .map_err(|_| NatsError::Protocol("a protocol line that is not UTF-8".into()))?;
        Ok(line.trim_end().to_owned())
    }

    /// The next message from the server, answering its pings on the way; `None` for a
    /// `PONG`.
    async fn message(&mut self, within: Duration) -> Result<Option<Message>, NatsError> {
        loop {
            let line = self.line(within).await?;
            if line == "PING" {
                self.writer.write_all(b"PONG\r\n").await?;
                continue;
            }
            if line == "PONG" {
                return Ok(None);
            }
            if line.starts_with("-ERR") {
                return Err(NatsError::Protocol(line));
            }
            // MSG <subject> <sid> [reply-to] <#bytes>
            // HMSG <subject> <sid> [reply-to] <#header bytes> <#total bytes>
            let (headers, rest) = if let Some(rest) = line.strip_prefix("HMSG ") {
                (true, rest)
            } else if let Some(rest) = line.strip_prefix("MSG ") {
                (false, rest)
            } else {
                continue;
            };
            let parts: Vec<&str> = rest.split_ascii_whitespace().collect();
            let sizes = if headers { 2 } else { 1 };
            if parts.len() < 2 + sizes || parts.len() > 3 + sizes {
                return Err(NatsError::Protocol("a malformed message line".into()));
            }
            let number = |s: &str| {
                s.parse::<usize>()
                    .ok()
                    .filter(|&n| n <= MAX_MESSAGE)
                    .ok_or_else(|| NatsError::Protocol("a malformed message size".into()))
            };
            let total = number(parts[parts.len() - 1])?;
            let header_len = if headers {
                number(parts[parts.len() - 2])?
            } else {
                0
            };
            if header_len > total {
                return Err(NatsError::Protocol("a malformed message size".into()));
            }
            let sid = parts[1]
                .parse()
                .map_err(|_| NatsError::Protocol("a malformed subscription id".into()))?;
            let reply = (parts.len() == 3 + sizes).then(|| parts[2].to_owned());
            let mut body = vec![0u8; total + 2];
            tokio::time::timeout(TIMEOUT, self.reader.read_exact(&mut body))
                .await
                .map_err(|_| NatsError::Timeout(TIMEOUT))??;
            if body[total..] != *b"\r\n" {
                return Err(NatsError::Protocol(
                    "a message that does not end where its size says".into(),
                ));
            }
            body.truncate(total);
            let payload = body.split_off(header_len);
            let status_line = headers.then(|| {
                let text = String::from_utf8_lossy(&body);
                text.lines().next().unwrap_or_default().trim().to_owned()
            });
            return Ok(Some(Message {
                subject: parts[0].to_owned(),
                sid,
                reply,
                status_line,
                payload,
            }));
        }
    }

    /// Keeps a delivery that arrived while something else was awaited.
    fn hold(&mut self, message: Message) -> Result<(), NatsError> {
        if self.held.len() >= MAX_HELD {
            return Err(NatsError::Protocol(
                "too many deliveries arrived while a reply was awaited".into(),
            ));
        }
        self.held.push_back(message);
        Ok(())
    }

    /// Publishes `payload` to `subject` with `headers` and returns the reply's payload (a
    /// JetStream acknowledgement or API answer). Deliveries arriving meanwhile are held.
    async fn request_with(
        &mut self,
        subject: &str,
        headers: &[(&str, &str)],
        payload: &[u8],
    ) -> Result<Vec<u8>, NatsError> {
        self.next += 1;
        let reply = format!("{}.{}", self.inbox, self.next);
        if headers.is_empty() {
            let head = format!("PUB {subject} {reply} {}\r\n", payload.len());
            self.writer.write_all(head.as_bytes()).await?;
        } else {
            let mut block = String::from("NATS/1.0\r\n");
            for (name, value) in headers {
                block.push_str(&format!("{name}: {value}\r\n"));
            }
            block.push_str("\r\n");
            let head = format!(
                "HPUB {subject} {reply} {} {}\r\n",
                block.len(),
                block.len() + payload.len()
            );
            self.writer.write_all(head.as_bytes()).await?;
            self.writer.write_all(block.as_bytes()).await?;
        }
        self.writer.write_all(payload).await?;
        self.writer.write_all(b"\r\n").await?;
        loop {
            let Some(message) = self.message(TIMEOUT).await? else {
                continue;
            };
            if message.sid == INBOX_SID && message.subject == reply {
                if message.reply.is_none()
                    && message
                        .status_line
                        .as_deref()
                        .is_some_and(|s| s.starts_with("NATS/1.0 503"))
                {
                    return Err(NatsError::Protocol(format!("no one answers on {subject}")));
                }
                return Ok(message.payload);
            }
            if message.sid == DELIVER_SID {
                self.hold(message)?;
            }
        }
    }

    /// A round trip to the server (`PING`, `PONG`).
    pub async fn ping(&mut self) -> Result<(), NatsError> {
        self.writer.write_all(b"PING\r\n").await?;
        loop {
            match self.message(TIMEOUT).await? {
                None => return Ok(()),
                Some(message) if message.sid == DELIVER_SID => self.hold(message)?,
                Some(_) => {}
            }
        }
    }

    /// Publishes `payload` to `subject` and returns the first reply's payload.
    pub async fn request(&mut self, subject: &str, payload: &[u8]) -> Result<Vec<u8>, NatsError> {
        self.request_with(subject, &[], payload).await
    }

    /// A JetStream API call: the JSON answer, or its `error` as an error.
    pub async fn api(&mut self, subject: &str, body: &Value) -> Result<Value, NatsError> {
        let answer = self.request(subject, body.to_string().as_bytes()).await?;
        json_answer(&answer)
    }

    /// Publishes to a stream's subject under `message_id` and waits for JetStream's
    /// acknowledgement; `true` when the stream already had that id (a duplicate dropped).
    pub async fn publish_unique(
        &mut self,
        subject: &str,
        message_id: &str,
        payload: &[u8],
    ) -> Result<bool, NatsError> {
        let answer = self
            .request_with(subject, &[("Nats-Msg-Id", message_id)], payload)
            .await?;
        let ack = json_answer(&answer)?;
        if ack.get("seq").and_then(Value::as_u64).is_none() {
            return Err(NatsError::Protocol(
                "a JetStream acknowledgement without a sequence".into(),
            ));
        }
        Ok(ack.get("duplicate").and_then(Value::as_bool) == Some(true))
    }

    /// Creates the stream capturing `<prefix>.>` with `replicas` copies, or keeps it when it
    /// exists.
    pub async fn ensure_stream(
        &mut self,
        stream: &str,
        prefix: &str,
        replicas: u8,
    ) -> Result<(), NatsError> {
        let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let config = json!({
            "name": stream,
            "subjects": [format!("{prefix}.>")],
            "storage": "file",
            "num_replicas": replicas,
            "duplicate_window": nanos(DUPLICATE_WINDOW),
            "max_age": nanos(MAX_AGE),
        });
        match self
            .api(&format!("$JS.API.STREAM.CREATE.{stream}"), &config)
            .await
        {
            Ok(_) => Ok(()),
            // "stream name already in use": made before, perhaps with other settings (fewer
            // replicas): brought to these. A refused update leaves it as it is, said in the
            // log; publishing works either way.
            Err(NatsError::Protocol(text)) if text.contains("10058") => {
                if let Err(e) = self
                    .api(&format!("$JS.API.STREAM.UPDATE.{stream}"), &config)
                    .await
                {
                    tracing::warn!(target: "eid::nats", stream = %stream, cause = %e, "the stream keeps its earlier settings");
                }
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Follows `subject` of `stream` with an ephemeral push consumer, from stream sequence
    /// `from` (a reader resuming: `Last-Event-ID` + 1) or from the next event: the sequence
    /// just before the first one delivered, which a reader that has seen nothing yet keeps
    /// as its resume point. Read it with [`NatsConnection::next_delivery`]; the consumer
    /// goes when the connection does.
    pub async fn follow(
        &mut self,
        stream: &str,
        subject: &str,
        from: Option<u64>,
    ) -> Result<u64, NatsError> {
        let deliver = format!("{}-d", self.inbox);
        let sub = format!("SUB {deliver} {DELIVER_SID}\r\n");
        self.writer.write_all(sub.as_bytes()).await?;
        let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let info = self
            .api(&format!("$JS.API.STREAM.INFO.{stream}"), &json!({}))
            .await?;
        let last = info["state"]["last_seq"].as_u64().unwrap_or(0);
        let start = match from {
            // A reader's sequence past the stream's end means the stream was made anew
            // (sequences start at 1 again): everything in it is new to the reader.
            Some(from) if from > last.saturating_add(1) => 1,
            Some(from) => from.max(1),
            // From the next event, by sequence rather than "new": the reader is told where
            // that is, so that a reconnection before its first event loses nothing.
            None => last.saturating_add(1),
        };
        let mut config = json!({
            "deliver_subject": deliver,
            "filter_subject": subject,
            "ack_policy": "none",
            "idle_heartbeat": nanos(HEARTBEAT),
            "inactive_threshold": nanos(HEARTBEAT * 6),
            "mem_storage": true,
            "num_replicas": 1,
            "deliver_policy": "by_start_sequence",
            "opt_start_seq": start,
        });
        if from.is_some() {
            // A replay from far back comes at a bounded pace (1 MB/s, thousands of events
            // a second), so that no reader floods the broker the relays publish to.
            config["rate_limit_bps"] = json!(8_000_000u64);
        }
        self.api(
            &format!("$JS.API.CONSUMER.CREATE.{stream}"),
            &json!({"stream_name": stream, "config": config}),
        )
        .await?;
        Ok(start - 1)
    }

    /// The next delivery of the followed consumer; an error when the connection broke or
    /// fell silent for three heartbeats.
    pub async fn next_delivery(&mut self) -> Result<Delivery, NatsError> {
        loop {
            let message = match self.held.pop_front() {
                Some(message) => message,
                None => match self.message(HEARTBEAT * 3).await? {
                    Some(message) => message,
                    None => continue,
                },
            };
            if message.sid != DELIVER_SID {
                continue;
            }
            // Heartbeats and flow control carry a status and no stream sequence.
            let Some(sequence) = message.reply.as_deref().and_then(stream_sequence) else {
                continue;
            };
            return Ok(Delivery {
                sequence,
                payload: message.payload,
            });
        }
    }
}

/// A JetStream answer: its JSON, or its `error` as an error.
fn json_answer(answer: &[u8]) -> Result<Value, NatsError> {
    let answer: Value = serde_json::from_slice(answer)
        .map_err(|_| NatsError::Protocol("a JetStream answer is not JSON".into()))?;
    match answer.get("error") {
        Some(error) => Err(NatsError::Protocol(format!("JetStream: {error}"))),
        None => Ok(answer),
    }
}

/// The stream sequence in a JetStream delivery's reply subject:
/// `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>`,
/// or the longer form with a domain and an account hash after `ACK`.
pub fn stream_sequence(reply: &str) -> Option<u64> {
    let tokens: Vec<&str> = reply.split('.').collect();
    if tokens.len() < 9 || tokens[0] != "$JS" || tokens[1] != "ACK" {
        return None;
    }
    let at = if tokens.len() == 9 { 5 } else { 7 };
    tokens.get(at)?.parse().ok()
}

/// A name no other connection has, on any machine: inbox replies are matched by subject,
/// so two replicas (both pid 1 in their containers, say) must never share one. 128 bits
/// from the operating system's random source.
fn unique() -> String {
    use eid_core::Random;
    let mut bytes = [0u8; 16];
    if eid_core::OsRandom.fill(&mut bytes).is_err() {
        // No random source: the process's randomly keyed hasher, the pid and a counter.
        use std::hash::{BuildHasher, Hasher};
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u32(std::process::id());
        hasher.write_u64(NEXT.fetch_add(1, Ordering::Relaxed));
        bytes[..8].copy_from_slice(&hasher.finish().to_le_bytes());
    }
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::stream_sequence;

    #[test]
    fn the_stream_sequence_is_read_from_both_reply_forms() {
        assert_eq!(
            stream_sequence("$JS.ACK.EID.c1.1.42.7.1700000000000000000.0"),
            Some(42)
        );
        assert_eq!(
            stream_sequence("$JS.ACK.hub.ACCHASH.EID.c1.1.43.7.1700000000000000000.0.rnd"),
            Some(43)
        );
        assert_eq!(stream_sequence("$JS.ACK.EID.c1"), None);
        assert_eq!(stream_sequence("_INBOX.x.y.z.a.b.c.d.e"), None);
        assert_eq!(
            stream_sequence("$JS.ACK.EID.c1.1.x.7.1700000000000000000.0"),
            None
        );
    }
}
