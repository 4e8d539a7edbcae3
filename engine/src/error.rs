//! Errors with the location a user needs to fix them.

use serde::Serialize;
use std::fmt;

/// A place in a policy source file (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, PartialOrd, Ord)]
pub struct Location {
    file: String,
    line: usize,
    col: usize,
}

impl Location {
    /// A location in `file`.
    pub fn new(file: impl Into<String>, line: usize, col: usize) -> Self {
        Location { file: file.into(), line: line.max(1), col: col.max(1) }
    }

    /// The source file (relative to the policy directory).
    pub fn file(&self) -> &str {
        &self.file
    }

    /// 1-based line.
    pub fn line(&self) -> usize {
        self.line
    }

    /// 1-based column.
    pub fn col(&self) -> usize {
        self.col
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

/// One problem found while building a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{location}: {message}{}", hint.as_ref().map(|h| format!(" (hint: {h})")).unwrap_or_default())]
pub struct BuildError {
    location: Location,
    message: String,
    hint: Option<String>,
}

impl BuildError {
    /// A new error.
    pub fn new(location: Location, message: impl Into<String>) -> Self {
        BuildError { location, message: message.into(), hint: None }
    }

    /// Adds a short hint on how to fix it.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Where.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// What.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// How to fix it, if known.
    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }
}

/// Every problem found while building a bundle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} error(s) building the policy bundle:\n{}", .0.len(), .0.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n"))]
pub struct BuildErrors(pub(crate) Vec<BuildError>);

impl BuildErrors {
    /// The individual errors, in file order.
    pub fn errors(&self) -> &[BuildError] {
        &self.0
    }
}
