//! The decision audit log: one JSON line per decision record.

use authz_wasmtime::DecisionRecord;
use std::io::Write;
use std::sync::{Arc, Mutex};

/// A shared line-buffered sink for decision records.
#[derive(Clone)]
pub struct AuditLog(Arc<Mutex<Box<dyn Write + Send>>>);

impl AuditLog {
    /// Records to standard output.
    pub fn stdout() -> Self {
        AuditLog::to_writer(std::io::LineWriter::new(std::io::stdout()))
    }

    /// Records appended to a file.
    pub fn file(path: &std::path::Path) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        Ok(AuditLog::to_writer(std::io::LineWriter::new(file)))
    }

    /// Records to any writer.
    pub fn to_writer(w: impl Write + Send + 'static) -> Self {
        AuditLog(Arc::new(Mutex::new(Box::new(w))))
    }

    /// Writes one record as one line. A failure is reported on stderr and returned (the
    /// server counts it, and fails the decision under `--audit-required`), and marks the
    /// decision being made on this thread as unaudited (see [`call_audited`]).
    pub fn write(&self, record: &DecisionRecord) -> std::io::Result<()> {
        let line = json_line(&record.to_json());
        let result = match self.0.lock() {
            Ok(mut w) => writeln!(w, "{line}"),
            Err(_) => Err(std::io::Error::other("the audit log's lock is poisoned")),
        };
        if let Err(e) = &result {
            UNAUDITED.with(|u| u.set(true));
            tracing::error!(error = %e, "audit log write failed: {e}");
        }
        result
    }
}

thread_local! {
    /// Whether a record of the call running on this thread failed to be written.
    static UNAUDITED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `decide` (a call to the component, whose decision hook writes the records on this
/// same thread) and tells whether every record it produced was written.
pub(crate) fn call_audited<T>(decide: impl FnOnce() -> T) -> (T, bool) {
    UNAUDITED.with(|u| u.set(false));
    let out = decide();
    (out, !UNAUDITED.with(|u| u.replace(false)))
}

/// `value` as one JSON line that every JSON-lines reader splits where we do: U+2028 and
/// U+2029, which JSON allows raw inside strings, are escaped (JavaScript readers split on them).
fn json_line(value: &serde_json::Value) -> String {
    let line = value.to_string();
    if line.contains(['\u{2028}', '\u{2029}']) {
        line.replace('\u{2028}', "\\u2028").replace('\u{2029}', "\\u2029")
    } else {
        line
    }
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditLog(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::json_line;

    #[test]
    fn line_separators_are_escaped() {
        let line = json_line(&serde_json::json!({"id": "a\u{2028}b\u{2029}c"}));
        assert_eq!(line, r#"{"id":"a\u2028b\u2029c"}"#);
        let back: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(back["id"], "a\u{2028}b\u{2029}c");
    }
}
