//! Why a decision could not be made. Every variant means DENY.

/// A failed decision or load; callers must treat every variant as DENY.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    /// The component could not be read, compiled or linked.
    #[error("cannot load the component: {0}")]
    Load(String),
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
    /// The component trapped.
    #[error("the component trapped: {0}")]
    Trap(String),
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
            HostError::Load(_) | HostError::BundleUnavailable(_) | HostError::Trap(_) => Failure::Internal,
        };
        authz_api::DecideError::runtime(failure, e)
    }
}
