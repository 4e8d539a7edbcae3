//! The seam between wire formats and whatever decides: the engine in-process, the component
//! through wasmtime, or the component's interface imported by a wasm gateway.

use crate::cerbos::CheckResourcesRequest;
use crate::error::RequestError;
use crate::model::{CheckOptions, CheckOutput};
use crate::plan::{PlanInput, PlanOutput};

/// What a decider answered for a request: one output per resource, in request order, and the
/// bundle that decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// One output per resource entry of the request, in order.
    pub outputs: Vec<CheckOutput>,
    /// `sha256:<hex>` of the deciding bundle.
    pub bundle_digest: String,
    /// The bundle's label, when it has one.
    pub bundle_label: Option<String>,
}

/// What a decider planned for a PlanResources request, and the bundle that planned.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanDecision {
    /// The plan.
    pub output: PlanOutput,
    /// `sha256:<hex>` of the planning bundle.
    pub bundle_digest: String,
    /// The bundle's label, when it has one.
    pub bundle_label: Option<String>,
}

/// Why a decider did not decide (whatever was asked is DENY), by who can act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The request made the decision overrun its budget (time, fuel, memory): the caller's input.
    Overrun,
    /// Every instance is busy; retrying later may succeed.
    Busy,
    /// The decider is up but may not answer now (e.g. its required audit log cannot be written).
    Unavailable,
    /// The decider failed (no usable bundle, a trap): the operator's problem.
    Internal,
}

/// A request that was not decided.
#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    /// The request is malformed or over a limit.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// The decider failed; `source` says why.
    #[error("{source}")]
    Runtime {
        /// Who can act on it.
        failure: Failure,
        /// The decider's own error.
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

impl DecideError {
    /// A runtime failure with its cause.
    pub fn runtime(failure: Failure, source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        DecideError::Runtime { failure, source: source.into() }
    }
}

/// Something that decides a decoded CheckResources request under resolved options.
pub trait Decider {
    /// Decides every resource of `request` under `options` (a host may fill in what `options`
    /// leaves to it: its clock for a missing `now`, its configured globals for empty ones).
    fn decide(&self, request: &CheckResourcesRequest, options: &CheckOptions) -> Result<Decision, DecideError>;

    /// The actions the deciding bundle's rules name for resource `kind`, sorted: what an
    /// AuthZEN action search decides one by one (an action only a wildcard rule covers cannot
    /// be listed).
    fn actions(&self, kind: &str) -> Result<Vec<String>, DecideError>;

    /// Plans `input` under `options` (Cerbos's PlanResources): which resources of its kind the
    /// principal may act on, as a filter (a host may fill in `options` as for [`Decider::decide`]).
    fn plan(&self, input: &PlanInput, options: &CheckOptions) -> Result<PlanDecision, DecideError>;
}

impl<D: Decider + ?Sized> Decider for &D {
    fn decide(&self, request: &CheckResourcesRequest, options: &CheckOptions) -> Result<Decision, DecideError> {
        (**self).decide(request, options)
    }

    fn actions(&self, kind: &str) -> Result<Vec<String>, DecideError> {
        (**self).actions(kind)
    }

    fn plan(&self, input: &PlanInput, options: &CheckOptions) -> Result<PlanDecision, DecideError> {
        (**self).plan(input, options)
    }
}

impl<D: Decider + ?Sized> Decider for std::sync::Arc<D> {
    fn decide(&self, request: &CheckResourcesRequest, options: &CheckOptions) -> Result<Decision, DecideError> {
        (**self).decide(request, options)
    }

    fn actions(&self, kind: &str) -> Result<Vec<String>, DecideError> {
        (**self).actions(kind)
    }

    fn plan(&self, input: &PlanInput, options: &CheckOptions) -> Result<PlanDecision, DecideError> {
        (**self).plan(input, options)
    }
}

/// Decides each input as a request of its own (how test suites and corpora ask), in order.
pub fn decide_each(
    decider: &dyn Decider,
    options: &CheckOptions,
    inputs: &[crate::CheckInput],
) -> Result<Vec<CheckOutput>, DecideError> {
    let mut outputs = Vec::with_capacity(inputs.len());
    for input in inputs {
        let d = decider.decide(&CheckResourcesRequest::for_input(input), options)?;
        let [output] = <[CheckOutput; 1]>::try_from(d.outputs).map_err(|o| {
            DecideError::runtime(Failure::Internal, format!("{} results for a request with one resource", o.len()))
        })?;
        outputs.push(output);
    }
    Ok(outputs)
}
