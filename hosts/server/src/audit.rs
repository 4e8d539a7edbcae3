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
        let line = record.to_line();
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

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditLog(..)")
    }
}
