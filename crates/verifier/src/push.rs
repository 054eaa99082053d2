//! Pushed status changes as the authority sends them: Server-Sent Events (the WHATWG
//! `text/event-stream` format) whose `status` events carry
//! `{"type":"status","uri":…,"idx":…,"status":"SUSPENDED","at":…}`.
//!
//! [`EventStream`] turns the stream's bytes, in whatever chunks they arrive, into events;
//! [`StatusPush::from_event`] reads a status event. Both are pure, so that the network part
//! stays thin and the parsing has a fuzz target (`fuzz/fuzz_targets/sse.rs`).

use eid_core::status::CredentialStatus;
use serde::Deserialize;

/// The longest line kept; a longer one is dropped with its event (a status event is a
/// hundred bytes or so).
pub const MAX_LINE: usize = 16 * 1024;

/// One event: its type (`event:` field, `message` when absent) and data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The event type.
    pub kind: String,
    /// The data lines, joined by `\n`.
    pub data: String,
}

/// Reads events from a byte stream.
#[derive(Debug, Default)]
pub struct EventStream {
    line: Vec<u8>,
    overlong: bool,
    /// An overlong line was cut: the rest of its event is dropped.
    dropping: bool,
    kind: Option<String>,
    data: Option<String>,
    /// The `id` field last seen (the WHATWG "last event ID buffer").
    id_buffer: Option<String>,
    /// The id of the last event dispatched: what a reconnection sends as `Last-Event-ID`.
    last_id: Option<String>,
}

impl EventStream {
    /// A reader at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// The id of the last event dispatched, if the stream gave ids: a reader reconnecting
    /// sends it as `Last-Event-ID` to resume after it.
    pub fn last_event_id(&self) -> Option<&str> {
        self.last_id.as_deref().filter(|id| !id.is_empty())
    }

    /// Feeds the next bytes; returns the events they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Event> {
        let mut events = Vec::new();
        for &b in bytes {
            if b == b'\n' {
                let line = std::mem::take(&mut self.line);
                if std::mem::take(&mut self.overlong) {
                    self.dropping = true;
                }
                let line = line.strip_suffix(b"\r").unwrap_or(&line);
                if let Some(event) = self.line_done(line) {
                    events.push(event);
                }
            } else if self.line.len() < MAX_LINE {
                self.line.push(b);
            } else {
                self.overlong = true;
            }
        }
        events
    }

    fn line_done(&mut self, line: &[u8]) -> Option<Event> {
        if line.is_empty() {
            // Dispatch (an event without data is none; a cut one is dropped). The last
            // event id moves at every dispatch, as the WHATWG processing model says.
            self.last_id.clone_from(&self.id_buffer);
            let kind = self.kind.take();
            let data = self.data.take();
            if std::mem::take(&mut self.dropping) {
                return None;
            }
            return Some(Event {
                kind: kind.unwrap_or_else(|| "message".to_owned()),
                data: data?,
            });
        }
        if self.dropping || line.starts_with(b":") {
            return None;
        }
        let text = String::from_utf8_lossy(line);
        let (field, value) = match text.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (text.as_ref(), ""),
        };
        match field {
            "event" => self.kind = Some(value.to_owned()),
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            },
            // An id with a NUL is ignored (WHATWG); so is one that could not go back as a
            // `Last-Event-ID` header (anything but visible ASCII, or long).
            "id" if value.len() <= 64 && value.bytes().all(|b| b.is_ascii_graphic()) => {
                self.id_buffer = Some(value.to_owned());
            }
            // `retry` and unknown fields carry nothing eid uses.
            _ => {}
        }
        None
    }
}

/// A status change pushed by an authority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusPush {
    /// The status list's URI.
    pub uri: String,
    /// The entry.
    pub idx: u64,
    /// The new status.
    pub status: CredentialStatus,
}

#[derive(Deserialize)]
struct Wire {
    #[serde(rename = "type")]
    kind: String,
    uri: String,
    idx: u64,
    status: String,
}

impl StatusPush {
    /// Reads a `status` event; `None` for any other event or malformed data.
    pub fn from_event(event: &Event) -> Option<Self> {
        if event.kind != "status" {
            return None;
        }
        let wire: Wire = serde_json::from_str(&event.data).ok()?;
        if wire.kind != "status" {
            return None;
        }
        let status = match wire.status.as_str() {
            "VALID" => CredentialStatus::Valid,
            "INVALID" => CredentialStatus::Invalid,
            "SUSPENDED" => CredentialStatus::Suspended,
            _ => return None,
        };
        Some(Self {
            uri: wire.uri,
            idx: wire.idx,
            status,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &str = "event: status\ndata: {\"type\":\"status\",\"uri\":\"https://a/status/0\",\"idx\":7,\"status\":\"SUSPENDED\",\"at\":1}\n\n: keep-alive\n\nevent: status\r\ndata: {\"type\":\"status\",\"uri\":\"https://a/status/0\",\"idx\":8,\"status\":\"VALID\",\"at\":2}\r\n\r\n";

    #[test]
    fn events_come_out_whole_whatever_the_chunks() {
        for chunk in [1, 2, 7, 64, STREAM.len()] {
            let mut stream = EventStream::new();
            let events: Vec<Event> = STREAM
                .as_bytes()
                .chunks(chunk)
                .flat_map(|c| stream.feed(c))
                .collect();
            let pushes: Vec<StatusPush> =
                events.iter().filter_map(StatusPush::from_event).collect();
            assert_eq!(
                pushes,
                [
                    StatusPush {
                        uri: "https://a/status/0".into(),
                        idx: 7,
                        status: CredentialStatus::Suspended
                    },
                    StatusPush {
                        uri: "https://a/status/0".into(),
                        idx: 8,
                        status: CredentialStatus::Valid
                    }
                ],
                "chunks of {chunk}"
            );
        }
    }

    #[test]
    fn multi_line_data_joins_and_other_events_are_not_status() {
        let mut stream = EventStream::new();
        let events = stream.feed(b"data: a\ndata: b\n\nevent: wallet_notice\ndata: {}\n\n");
        assert_eq!(
            events[0],
            Event {
                kind: "message".into(),
                data: "a\nb".into()
            }
        );
        assert_eq!(StatusPush::from_event(&events[1]), None);
        let bad = Event {
            kind: "status".into(),
            data: r#"{"type":"status","uri":"u","idx":1,"status":"LOST"}"#.into(),
        };
        assert_eq!(StatusPush::from_event(&bad), None);
    }

    #[test]
    fn the_last_event_id_is_that_of_the_last_event_dispatched() {
        let mut stream = EventStream::new();
        assert_eq!(stream.last_event_id(), None);
        stream.feed(b"id: 41\nevent: status\ndata: a\n\n");
        assert_eq!(stream.last_event_id(), Some("41"));
        // Not yet dispatched: still the last one's.
        stream.feed(b"id: 42\ndata: b\n");
        assert_eq!(stream.last_event_id(), Some("41"));
        stream.feed(b"\n");
        assert_eq!(stream.last_event_id(), Some("42"));
        // An event without an id keeps the buffer (WHATWG); a NUL id is ignored, and so is
        // one that could not go back as a header.
        stream.feed(b"data: c\n\nid: 4\x003\ndata: d\n\n");
        assert_eq!(stream.last_event_id(), Some("42"));
        stream.feed(b"id: 4\x013\ndata: e\n\nid: 4 3\ndata: f\n\n");
        assert_eq!(stream.last_event_id(), Some("42"));
        // An id without data (an authority's resume point when a stream opens): no event,
        // but the id to resume from.
        assert!(stream.feed(b"id: 57\n\n").is_empty());
        assert_eq!(stream.last_event_id(), Some("57"));
    }

    #[test]
    fn an_overlong_line_drops_its_event_and_memory_stays_bounded() {
        let mut stream = EventStream::new();
        let mut input = b"event: status\ndata: ".to_vec();
        input.extend(std::iter::repeat_n(b'x', MAX_LINE * 4));
        input.extend(b"\n\ndata: next\n\n");
        let events = stream.feed(&input);
        assert_eq!(
            events,
            [Event {
                kind: "message".into(),
                data: "next".into()
            }]
        );
    }
}
