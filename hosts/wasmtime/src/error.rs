//! Why a decision could not be made. Every variant means DENY.

/// What went wrong underneath a [`HostError`]: the original error, shared (errors are cloned
/// into every caller that waited on the same load), with its own source chain intact.
#[derive(Debug, Clone)]
pub struct Cause(std::sync::Arc<dyn std::error::Error + Send + Sync + 'static>);

impl Cause {
    /// The underlying error.
    pub fn get(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.0
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // wasmtime's errors put the useful part (the trap, the link error) in their chain.
        write!(f, "{}", self.0)?;
        let mut next = self.0.source();
        while let Some(e) = next {
            write!(f, ": {e}")?;
            next = e.source();
        }
        Ok(())
    }
}

impl std::error::Error for Cause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl From<wasmtime::Error> for Cause {
    fn from(e: wasmtime::Error) -> Self {
        let boxed: Box<dyn std::error::Error + Send + Sync + 'static> = e.into();
        Cause(boxed.into())
    }
}

impl From<std::io::Error> for Cause {
    fn from(e: std::io::Error) -> Self {
        Cause(std::sync::Arc::new(e))
    }
}

impl From<crate::seal::SealError> for Cause {
    fn from(e: crate::seal::SealError) -> Self {
        Cause(std::sync::Arc::new(e))
    }
}

impl From<HostError> for Cause {
    fn from(e: HostError) -> Self {
        Cause(std::sync::Arc::new(e))
    }
}

impl HostError {
    /// A failed load step.
    pub(crate) fn load(what: impl Into<String>, source: impl Into<Cause>) -> Self {
        HostError::Load { what: what.into(), source: source.into() }
    }
}

/// A failed decision or load; callers must treat every variant as DENY.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HostError {
    /// The component could not be read, verified, compiled or linked.
    #[error("cannot load the component: {what}: {source}")]
    Load {
        /// The step that failed (`reading `pdp.wasm``, `compiling`, `checking its seal`, ...).
        what: String,
        /// Why.
        source: Cause,
    },
    /// The component rejected the request (malformed, or over its limits), naming the field.
    #[error(transparent)]
    Request(#[from] authz_api::RequestError),
    /// The request is larger than the host accepts.
    #[error("the request is {size} bytes; the limit is {limit}")]
    RequestTooLarge {
        /// Request size.
        size: usize,
        /// Configured limit.
        limit: usize,
    },
    /// The component carries no usable bundle.
    #[error("bundle unavailable: {0}")]
    BundleUnavailable(String),
    /// The decision took longer than [`Config::timeout`](crate::Config::timeout).
    #[error("the decision took longer than the limit of {} ms", .0.as_millis())]
    Timeout(std::time::Duration),
    /// The decision used more fuel than allowed.
    #[error("the decision ran out of fuel")]
    OutOfFuel,
    /// The decision needed more memory than allowed.
    #[error("the decision exceeded the memory limit of {0} bytes")]
    MemoryLimit(usize),
    /// Every pooled instance is busy.
    #[error("no instance available: all {0} pooled instances are in use")]
    Busy(u32),
    /// The component trapped (or wasmtime failed to run it).
    #[error("the component trapped: {0}")]
    Trap(#[source] Cause),
}

impl From<HostError> for authz_api::DecideError {
    fn from(e: HostError) -> Self {
        use authz_api::Failure;
        let failure = match &e {
            HostError::Request(r) => return authz_api::DecideError::Request(r.clone()),
            HostError::RequestTooLarge { size, limit } => {
                return authz_api::DecideError::Request(authz_api::RequestError::Limit {
                    path: "$".into(),
                    message: format!("the request is {size} bytes; the limit is {limit}"),
                })
            }
            // The request made the decision overrun its budget: the caller's input, not us.
            HostError::Timeout(_) | HostError::OutOfFuel | HostError::MemoryLimit(_) => Failure::Overrun,
            HostError::Busy(_) => Failure::Busy,
            HostError::Load { .. } | HostError::BundleUnavailable(_) | HostError::Trap(_) => Failure::Internal,
        };
        authz_api::DecideError::runtime(failure, e)
    }
}
