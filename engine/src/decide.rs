//! The seam every runtime implements: test suites and the conformance harness judge the
//! native engine, the component and the HTTP PDP through this one trait.

use crate::{Bundle, CheckInput, CheckOptions, CheckOutput};

/// Anything that decides check inputs: a [`Bundle`], or a runtime running one.
pub trait Decide {
    /// Decides `inputs` in order; `Err` means no decision was made (every action is DENY).
    fn decide(&self, opts: &CheckOptions, inputs: &[CheckInput]) -> Result<Vec<CheckOutput>, String>;
}

impl Decide for Bundle {
    fn decide(&self, opts: &CheckOptions, inputs: &[CheckInput]) -> Result<Vec<CheckOutput>, String> {
        Ok(self.check(opts, inputs))
    }
}
