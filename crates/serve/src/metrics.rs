//! What a service counts, for Prometheus (the text exposition format, version 0.0.4).
//!
//! [`HttpMetrics`] counts every request a router answers by **route template**
//! (`/status/{shard}`, never the path as requested: no number, name or token reaches a
//! label), method and status, with a latency histogram; [`track`] is the middleware that
//! feeds it. A service adds counters of its own ([`Counters`]: verification outcomes by
//! reason, say) and renders all of it at `GET /metrics` ([`render`]).
//!
//! Label values come from finite sets the code names (route templates, methods, status
//! codes, reason codes), so the series stay few whatever clients send: a path no route
//! matches counts as `unmatched`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// One route's requests of one method and status.
#[derive(Debug, Default, Clone)]
struct Series {
    count: u64,
    sum: f64,
    /// Requests at or under each bound of [`BUCKETS`] (not cumulative here).
    buckets: [u64; BUCKETS.len()],
}

/// Requests answered, by route template, method and status, with their latency.
#[derive(Debug, Default)]
pub struct HttpMetrics {
    series: Mutex<BTreeMap<(String, &'static str, u16), Series>>,
}

impl HttpMetrics {
    /// Empty.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Counts one request.
    pub fn observe(&self, route: &str, method: &axum::http::Method, status: u16, seconds: f64) {
        let method = match method.as_str() {
            "GET" => "GET",
            "POST" => "POST",
            "PUT" => "PUT",
            "DELETE" => "DELETE",
            "HEAD" => "HEAD",
            "OPTIONS" => "OPTIONS",
            "PATCH" => "PATCH",
            _ => "other",
        };
        let Ok(mut series) = self.series.lock() else {
            return;
        };
        let entry = series
            .entry((route.to_owned(), method, status))
            .or_default();
        entry.count += 1;
        entry.sum += seconds;
        if let Some(slot) = BUCKETS.iter().position(|&bound| seconds <= bound) {
            entry.buckets[slot] += 1;
        }
    }

    fn write(&self, out: &mut String) {
        let Ok(series) = self.series.lock() else {
            return;
        };
        out.push_str("# HELP eid_http_requests_total Requests answered, by route template, method and status.\n");
        out.push_str("# TYPE eid_http_requests_total counter\n");
        for ((route, method, status), s) in series.iter() {
            let _ = writeln!(
                out,
                "eid_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {}",
                escape(route),
                s.count
            );
        }
        out.push_str("# HELP eid_http_request_duration_seconds Time from the request's head to the response's head.\n");
        out.push_str("# TYPE eid_http_request_duration_seconds histogram\n");
        for ((route, method, status), s) in series.iter() {
            let labels = format!(
                "route=\"{}\",method=\"{method}\",status=\"{status}\"",
                escape(route)
            );
            let mut cumulative = 0;
            for (bound, n) in BUCKETS.iter().zip(s.buckets) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "eid_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "eid_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "eid_http_request_duration_seconds_sum{{{labels}}} {}",
                s.sum
            );
            let _ = writeln!(
                out,
                "eid_http_request_duration_seconds_count{{{labels}}} {}",
                s.count
            );
        }
    }
}

/// A family of counters of the service's own, by labels whose values come from finite sets
/// of codes (`eid_verifications_total{channel="online",outcome="status_suspended"}`).
#[derive(Debug)]
pub struct Counters {
    name: &'static str,
    help: &'static str,
    labels: &'static [&'static str],
    values: Mutex<BTreeMap<Vec<String>, u64>>,
}

impl Counters {
    /// A family `name` labelled by `labels`.
    pub fn new(name: &'static str, help: &'static str, labels: &'static [&'static str]) -> Self {
        Self {
            name,
            help,
            labels,
            values: Mutex::new(BTreeMap::new()),
        }
    }

    /// Adds one under `values`, one per label (codes of the program's, never data a client
    /// sent).
    pub fn add(&self, values: &[&str]) {
        if let Ok(mut counts) = self.values.lock() {
            let key = values.iter().map(|v| (*v).to_owned()).collect();
            *counts.entry(key).or_default() += 1;
        }
    }

    fn write(&self, out: &mut String) {
        let Ok(counts) = self.values.lock() else {
            return;
        };
        let _ = writeln!(out, "# HELP {} {}", self.name, self.help);
        let _ = writeln!(out, "# TYPE {} counter", self.name);
        for (values, n) in counts.iter() {
            let labels: Vec<String> = self
                .labels
                .iter()
                .zip(values)
                .map(|(label, value)| format!("{label}=\"{}\"", escape(value)))
                .collect();
            let _ = writeln!(out, "{}{{{}}} {n}", self.name, labels.join(","));
        }
    }
}

/// A label value as the exposition format wants it: `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The middleware: times each request and counts it under its route template.
pub async fn track(
    State(metrics): State<Arc<HttpMetrics>>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().clone();
    // The caller's or the service's request id, when it is one (letters, digits, - and _).
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .unwrap_or_default()
        .to_owned();
    let started = tokio::time::Instant::now();
    let response = next.run(request).await;
    let seconds = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    metrics.observe(&route, &method, status, seconds);
    // The template, never the path: a path can hold an id or a number.
    tracing::info!(
        target: "eid::http",
        route = %route,
        method = %method,
        status,
        latency_ms = seconds * 1000.0,
        request_id = %request_id,
        "request"
    );
    response
}

/// `GET /metrics`: `http`, then each of `counters`, then `gauges` (name, help, value).
pub fn render(
    http: &HttpMetrics,
    counters: &[&Counters],
    gauges: &[(&str, &str, f64)],
) -> Response {
    let mut out = String::new();
    http.write(&mut out);
    for family in counters {
        family.write(&mut out);
    }
    let process = process();
    let process = [
        (
            "process_cpu_seconds_total",
            "CPU time the process used, user and system (Linux).",
            "counter",
            process.0,
        ),
        (
            "process_resident_memory_bytes",
            "Resident memory of the process (Linux).",
            "gauge",
            process.1,
        ),
    ];
    for (name, help, kind, value) in process {
        if let Some(value) = value {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        }
    }
    for (name, help, value) in gauges {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
        );
    }
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        out,
    )
        .into_response()
}

/// The process's CPU seconds and resident bytes, from `/proc/self` (the Prometheus
/// client libraries' standard names); `None` where there is no `/proc`.
fn process() -> (Option<f64>, Option<f64>) {
    // Fields 14 and 15 of `stat`, after the command name in parentheses, in clock ticks of
    // USER_HZ, which Linux fixes at 100 for this interface.
    let cpu = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| {
            let after = stat.rsplit_once(')')?.1;
            let fields: Vec<&str> = after.split_whitespace().collect();
            let ticks = |i: usize| fields.get(i)?.parse::<u64>().ok();
            Some((ticks(11)? + ticks(12)?) as f64 / 100.0)
        });
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
            let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib * 1024.0)
        });
    (cpu, rss)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_render_as_the_exposition_format_wants() {
        let http = HttpMetrics::new();
        http.observe("/status/{shard}", &axum::http::Method::GET, 200, 0.003);
        http.observe("/status/{shard}", &axum::http::Method::GET, 200, 7.0);
        http.observe(
            "un\"matched",
            &axum::http::Method::from_bytes(b"BREW").unwrap(),
            404,
            0.0,
        );
        let outcomes = Counters::new(
            "eid_verifications_total",
            "Verifications.",
            &["channel", "outcome"],
        );
        outcomes.add(&["online", "accepted"]);
        outcomes.add(&["online", "accepted"]);
        let mut text = String::new();
        http.write(&mut text);
        outcomes.write(&mut text);
        assert!(text.contains(
            "eid_http_requests_total{route=\"/status/{shard}\",method=\"GET\",status=\"200\"} 2\n"
        ));
        // Cumulative buckets; the 7 s request only in +Inf.
        assert!(text.contains("le=\"0.0025\"} 0\n"), "{text}");
        assert!(text.contains("le=\"0.005\"} 1\n"), "{text}");
        assert!(text.contains("le=\"5\"} 1\n"), "{text}");
        assert!(text.contains("le=\"+Inf\"} 2\n"), "{text}");
        assert!(text.contains("route=\"un\\\"matched\",method=\"other\",status=\"404\""));
        assert!(
            text.contains("eid_verifications_total{channel=\"online\",outcome=\"accepted\"} 2\n")
        );
    }
}
