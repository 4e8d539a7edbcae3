//! Prometheus text-format metrics: decisions by effect and policy, request latency, bundle
//! identity and reloads.

use authz_api::http::Endpoint;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Latency histogram bucket bounds, in seconds.
const BUCKETS: [f64; 12] =
    [0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.1, 1.0];

#[derive(Default)]
struct Histogram {
    counts: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

/// Every counter the server exposes.
#[derive(Default)]
pub(crate) struct Metrics {
    /// Per deciding policy: (allowed, denied). Keyed by policy alone so that counting a
    /// decision looks up with the borrowed key and allocates only for a new policy.
    decisions: Mutex<BTreeMap<String, (u64, u64)>>,
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    latency: BTreeMap<&'static str, Histogram>,
    reloads_ok: AtomicU64,
    reloads_failed: AtomicU64,
    audit_failures: AtomicU64,
    connections_refused: AtomicU64,
}

impl Metrics {
    pub(crate) fn new() -> Self {
        let latency = Endpoint::ALL.iter().map(|e| (e.name(), Histogram::default())).collect();
        Metrics { latency, ..Default::default() }
    }

    pub(crate) fn decision(&self, allowed: bool, policy: &str) {
        if let Ok(mut d) = self.decisions.lock() {
            if !d.contains_key(policy) {
                d.insert(policy.to_string(), (0, 0));
            }
            if let Some(counts) = d.get_mut(policy) {
                if allowed {
                    counts.0 += 1;
                } else {
                    counts.1 += 1;
                }
            }
        }
    }

    pub(crate) fn request(&self, endpoint: &'static str, status: u16, took: Duration) {
        if let Ok(mut r) = self.requests.lock() {
            *r.entry((endpoint, status)).or_default() += 1;
        }
        if let Some(h) = self.latency.get(endpoint) {
            let secs = took.as_secs_f64();
            for (bound, count) in BUCKETS.iter().zip(&h.counts) {
                if secs <= *bound {
                    count.fetch_add(1, Ordering::Relaxed);
                }
            }
            h.count.fetch_add(1, Ordering::Relaxed);
            h.sum_nanos.fetch_add(u64::try_from(took.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
        }
    }

    pub(crate) fn connection_refused(&self) {
        self.connections_refused.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn audit_failure(&self) {
        self.audit_failures.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn reload(&self, ok: bool) {
        let c = if ok { &self.reloads_ok } else { &self.reloads_failed };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// The metrics in Prometheus text format, with the serving bundle's identity.
    pub(crate) fn render(&self, digest: &str, label: Option<&str>) -> String {
        let mut out = String::new();
        let _ =
            writeln!(out, "# HELP authz_bundle_info The policy bundle being served.\n# TYPE authz_bundle_info gauge");
        let _ = writeln!(
            out,
            "authz_bundle_info{{digest=\"{}\",label=\"{}\"}} 1",
            escape(digest),
            escape(label.unwrap_or_default())
        );
        let _ = writeln!(out, "# HELP authz_decisions_total Decisions by effect and deciding policy.\n# TYPE authz_decisions_total counter");
        if let Ok(d) = self.decisions.lock() {
            for (effect, pick) in [("EFFECT_ALLOW", true), ("EFFECT_DENY", false)] {
                for (policy, (allowed, denied)) in d.iter() {
                    let n = if pick { *allowed } else { *denied };
                    if n > 0 {
                        let policy = escape(policy);
                        let _ = writeln!(out, "authz_decisions_total{{effect=\"{effect}\",policy=\"{policy}\"}} {n}");
                    }
                }
            }
        }
        let _ = writeln!(out, "# HELP authz_http_requests_total Check requests by endpoint and HTTP status (gRPC CheckResources: check_resources, with its HTTP twin's status).\n# TYPE authz_http_requests_total counter");
        if let Ok(r) = self.requests.lock() {
            for ((endpoint, status), n) in r.iter() {
                let _ = writeln!(out, "authz_http_requests_total{{endpoint=\"{endpoint}\",status=\"{status}\"}} {n}");
            }
        }
        let _ = writeln!(out, "# HELP authz_check_duration_seconds Time to answer a check request.\n# TYPE authz_check_duration_seconds histogram");
        for (endpoint, h) in &self.latency {
            for (bound, count) in BUCKETS.iter().zip(&h.counts) {
                let n = count.load(Ordering::Relaxed);
                let _ =
                    writeln!(out, "authz_check_duration_seconds_bucket{{endpoint=\"{endpoint}\",le=\"{bound}\"}} {n}");
            }
            let count = h.count.load(Ordering::Relaxed);
            let sum = h.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
            let _ = writeln!(out, "authz_check_duration_seconds_bucket{{endpoint=\"{endpoint}\",le=\"+Inf\"}} {count}");
            let _ = writeln!(out, "authz_check_duration_seconds_sum{{endpoint=\"{endpoint}\"}} {sum}");
            let _ = writeln!(out, "authz_check_duration_seconds_count{{endpoint=\"{endpoint}\"}} {count}");
        }
        let _ = writeln!(
            out,
            "# HELP authz_bundle_reloads_total Bundle reloads by result.\n# TYPE authz_bundle_reloads_total counter"
        );
        let _ =
            writeln!(out, "authz_bundle_reloads_total{{result=\"ok\"}} {}", self.reloads_ok.load(Ordering::Relaxed));
        let _ = writeln!(
            out,
            "authz_bundle_reloads_total{{result=\"error\"}} {}",
            self.reloads_failed.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP authz_audit_write_failures_total Decision records the audit log failed to write.\n# TYPE authz_audit_write_failures_total counter\nauthz_audit_write_failures_total {}",
            self.audit_failures.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP authz_connections_refused_total Connections closed at once because --max-connections were open.\n# TYPE authz_connections_refused_total counter\nauthz_connections_refused_total {}",
            self.connections_refused.load(Ordering::Relaxed)
        );
        out
    }
}

/// A Prometheus label value: backslash, quote and newline escaped.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
