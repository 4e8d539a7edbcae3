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

    /// Writes one record. A failed write is reported once per failure on stderr; decisions
    /// are not held back by the log.
    pub fn write(&self, record: &DecisionRecord) {
        let line = record.to_json().to_string();
        if let Ok(mut w) = self.0.lock() {
            if let Err(e) = writeln!(w, "{line}") {
                eprintln!("authz serve: audit log write failed: {e}");
            }
        }
    }
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditLog(..)")
    }
}
