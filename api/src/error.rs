//! Why a request cannot be decided.

/// A request that cannot be evaluated; the PDP answers DENY.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The request JSON is malformed; `path` is a JSON path like `$.resources[0].actions`.
    #[error("invalid request at `{path}`: {message}")]
    Invalid {
        /// JSON path of the offending field.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The request exceeds a limit.
    #[error("request too large at `{path}`: {message}")]
    Limit {
        /// JSON path of the offending field.
        path: String,
        /// Which limit.
        message: String,
    },
}

impl RequestError {
    /// The JSON path the error is about.
    pub fn path(&self) -> &str {
        match self {
            RequestError::Invalid { path, .. } | RequestError::Limit { path, .. } => path,
        }
    }
}
