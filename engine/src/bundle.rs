//! A built, immutable policy bundle: validated policies, the rule table, a content
//! digest and an optional label.

use crate::cel::runtime;
use crate::check::check;
use crate::compile::compile;
use crate::error::{BuildError, BuildErrors, Location};
use crate::jwt::JwtConfig;
use crate::source::{is_policy_path, parse, Source};
use crate::table::Table;
use authz_api::model::{AuxData, CheckInput, CheckOptions, CheckOutput, Timestamp};
use authz_api::RequestError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt;

/// Bytes a serialized bundle starts with (format version 5: compiled table with time zones and
/// whether it reads the clock; JWT key sets).
const MAGIC: &[u8; 8] = b"AUTHZB06";

/// The source that carries Cerbos's `auxData` configuration section (JWT key sets with their
/// keys inline): `authz` writes it from a Cerbos configuration file (`--cerbos-config`).
pub const AUX_DATA_CONFIG_PATH: &str = "_authz/auxdata.yaml";

/// A compiled policy bundle; cheap to share (`Send + Sync`), evaluated many times.
pub struct Bundle {
    table: Table,
    digest: String,
    label: Option<String>,
    policy_count: usize,
    jwt: JwtConfig,
}

impl fmt::Debug for Bundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bundle")
            .field("digest", &self.digest)
            .field("label", &self.label)
            .field("policy_count", &self.policy_count)
            .finish_non_exhaustive()
    }
}

/// Why serialized bundle bytes could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Not a bundle of this format.
    #[error("not an authz bundle: {0}")]
    Format(String),
    /// The contents were altered after they were written.
    #[error("bundle checksum mismatch: the bytes were altered or truncated")]
    Checksum,
}

#[derive(Serialize)]
struct WireRef<'a> {
    digest: &'a str,
    label: &'a Option<String>,
    policy_count: usize,
    table: &'a Table,
    jwt: &'a JwtConfig,
}

#[derive(Deserialize)]
struct Wire {
    digest: String,
    label: Option<String>,
    policy_count: usize,
    table: Table,
    jwt: JwtConfig,
}

fn is_schema_path(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    lower.starts_with("_schemas/") && lower.ends_with(".json") && !lower.split('/').any(|s| s.starts_with('.'))
}

/// sha256 over the sorted (path, text) pairs, length-prefixed so boundaries are unambiguous.
fn digest_of(sources: &[Source]) -> String {
    let mut h = Sha256::new();
    for s in sources {
        for part in [s.path(), s.text()] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
    }
    let bytes = h.finalize();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

impl Bundle {
    /// The compiled policies, for the engine's own tests.
    #[cfg(test)]
    pub(crate) fn table(&self) -> &Table {
        &self.table
    }

    /// Builds a bundle from the files of a policy directory (paths relative to it).
    /// Test suites, `testdata/` and hidden files are ignored; `_schemas/*.json` are schemas.
    /// Every problem is reported, each with file:line:col.
    pub fn build(files: Vec<Source>, label: Option<String>) -> Result<Bundle, BuildErrors> {
        let mut sources: Vec<Source> = files
            .into_iter()
            .filter(|s| is_policy_path(s.path()) || is_schema_path(s.path()) || s.path() == AUX_DATA_CONFIG_PATH)
            .collect();
        sources.sort_by(|a, b| a.path().cmp(b.path()));
        sources.dedup_by(|a, b| a.path() == b.path());
        let rt = crate::cel::prepare_runtime()
            .map_err(|e| BuildErrors(vec![BuildError::new(Location::new("<engine>", 1, 1), e)]))?;
        let mut errors = Vec::new();
        let mut docs = Vec::new();
        let mut schemas: HashMap<String, String> = HashMap::new();
        let mut jwt = JwtConfig::default();
        for s in &sources {
            if s.path() == AUX_DATA_CONFIG_PATH {
                match JwtConfig::from_section(s.text()) {
                    Ok(c) => jwt = c,
                    Err(e) => errors.push(BuildError::new(Location::new(s.path(), 1, 1), format!("auxData: {e}"))),
                }
                continue;
            }
            if is_schema_path(s.path()) {
                let rel = s.path().get("_schemas/".len()..).unwrap_or_default().to_string();
                schemas.insert(rel, s.text().to_string());
                continue;
            }
            match parse(s) {
                Ok(d) => docs.extend(d),
                Err(e) => errors.extend(e),
            }
        }
        let table = match compile(rt, &docs, &schemas) {
            Ok(t) if errors.is_empty() => Some(t),
            Ok(_) => None,
            Err(e) => {
                errors.extend(e);
                None
            }
        };
        let Some(table) = table else {
            return Err(BuildErrors(errors));
        };
        let digest = digest_of(&sources);
        let policy_count = docs.iter().filter(|d| !d.doc.disabled).count();
        Ok(Bundle { table, digest, label, policy_count, jwt })
    }

    /// Decides every input.
    pub fn check(&self, opts: &CheckOptions, inputs: &[CheckInput]) -> Vec<CheckOutput> {
        match runtime() {
            Ok(rt) => {
                // A token nobody verified ([`Bundle::verify_tokens`]) decides nothing.
                let unverified = |i: &CheckInput| i.aux_data.as_ref().is_some_and(|a| !a.tokens.is_empty());
                inputs
                    .iter()
                    .map(|i| if unverified(i) { crate::check::deny_all(i) } else { check(&self.table, rt, opts, i) })
                    .collect()
            }
            Err(_) => inputs.iter().map(crate::check::deny_all).collect(),
        }
    }

    /// Plans `input` (Cerbos's PlanResources): which resources of its kind the principal may
    /// act on, as a filter over the attributes not given. A token nobody verified
    /// ([`Bundle::verify_tokens`]) allows nothing; neither does an engine that cannot run.
    pub fn plan(&self, opts: &CheckOptions, input: &authz_api::plan::PlanInput) -> authz_api::plan::PlanOutput {
        let unverified = input.aux_data.as_ref().is_some_and(|a| !a.tokens.is_empty());
        match runtime() {
            Ok(rt) if !unverified => crate::plan::plan(&self.table, rt, opts, input),
            _ => crate::plan::deny_all(opts, input),
        }
    }

    /// The actions this bundle's rules name for resource `kind` (resource and principal policy
    /// rules, role policies; any version and scope), sorted: the candidates of an AuthZEN action
    /// search. An action only a wildcard rule (`*`, `view:*`) covers cannot be listed.
    pub fn actions_for(&self, kind: &str) -> Vec<String> {
        self.table.actions_for(kind)
    }

    /// What a host reports about this bundle.
    pub fn details(&self) -> authz_api::BundleDetails {
        authz_api::BundleDetails {
            digest: self.digest.clone(),
            label: self.label().map(str::to_string),
            policy_count: u32::try_from(self.policy_count).unwrap_or(u32::MAX),
            engine_version: crate::VERSION.to_string(),
            reads_clock: self.reads_clock(),
        }
    }

    /// `sha256:<hex>` over the bundle's sources.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The label given at build time.
    pub fn label(&self) -> Option<&str> {
        self.label.as_deref()
    }

    /// Number of enabled policy documents.
    pub fn policy_count(&self) -> usize {
        self.policy_count
    }

    /// Number of time zones the bundle carries: those its conditions name, or all of them
    /// when a condition computes its zone.
    pub fn time_zone_count(&self) -> usize {
        self.table.zones.len()
    }

    /// Whether any condition, variable or output reads the request's time (`now()`,
    /// `timeSince()`). When none does, `now` cannot change a decision and a host need not
    /// supply it.
    pub fn reads_clock(&self) -> bool {
        self.table.reads_clock || self.jwt.is_configured()
    }

    /// Verifies the request's signed tokens against the bundle's JWT key sets (Cerbos's
    /// `auxData.jwt` configuration) and replaces them with their claims (`jwt`, `jwts`), as
    /// Cerbos does before deciding. A token that does not verify, has expired or cannot be
    /// checked (no key sets, no time) is a request error: nothing is decided.
    pub fn verify_tokens(&self, aux: &mut AuxData, now: Option<&Timestamp>) -> Result<(), RequestError> {
        let now = now.map(|t| t.timestamp());
        for (name, t) in std::mem::take(&mut aux.tokens) {
            let at = if name.is_empty() { "$.auxData.jwt".to_string() } else { format!("$.auxData.jwts.{name}") };
            if !self.jwt.is_configured() {
                return Err(RequestError::Invalid {
                    path: at,
                    message: "failed to extract JWT: this bundle has no JWT key sets (bake it with --cerbos-config)"
                        .into(),
                });
            }
            let token = crate::jwt::TokenRef { token: &t.token, key_set_id: &t.key_set_id };
            let claims = crate::jwt::claims(&self.jwt, &token, now).map_err(|e| RequestError::Invalid {
                path: at.clone(),
                message: format!("failed to extract JWT: {e}"),
            })?;
            if name.is_empty() {
                aux.jwt = claims;
            } else {
                aux.jwts.insert(name, serde_json::json!({ "claims": claims }));
            }
        }
        Ok(())
    }

    /// Serializes the compiled bundle: `AUTHZB05`, a sha256 of the payload, then the
    /// payload (digest, label and the compiled rule table with parsed conditions), so
    /// loading runs neither the YAML nor the CEL parser.
    pub fn to_bytes(&self) -> Vec<u8> {
        let wire = WireRef {
            digest: &self.digest,
            label: &self.label,
            policy_count: self.policy_count,
            table: &self.table,
            jwt: &self.jwt,
        };
        let payload = postcard::to_stdvec(&wire).unwrap_or_default();
        let mut out = Vec::with_capacity(payload.len() + 40);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&Sha256::digest(&payload));
        out.extend_from_slice(&payload);
        out
    }

    /// Loads bytes written by [`Bundle::to_bytes`], verifying their checksum.
    pub fn from_bytes(bytes: &[u8]) -> Result<Bundle, LoadError> {
        let (Some(magic), Some(sum), Some(payload)) = (bytes.get(..8), bytes.get(8..40), bytes.get(40..)) else {
            return Err(LoadError::Format("too short".into()));
        };
        if magic != MAGIC {
            return Err(LoadError::Format(format!("unknown format (expected `{}`)", String::from_utf8_lossy(MAGIC))));
        }
        if Sha256::digest(payload).as_slice() != sum {
            return Err(LoadError::Checksum);
        }
        let wire: Wire = postcard::from_bytes(payload).map_err(|e| LoadError::Format(e.to_string()))?;
        Ok(Bundle {
            table: wire.table,
            digest: wire.digest,
            label: wire.label,
            policy_count: wire.policy_count,
            jwt: wire.jwt,
        })
    }
}

/// The engine in-process, behind the seam every host decides through.
impl authz_api::Decider for Bundle {
    fn decide(
        &self,
        request: &authz_api::cerbos::CheckResourcesRequest,
        options: &CheckOptions,
    ) -> Result<authz_api::Decision, authz_api::DecideError> {
        let mut inputs = request.inputs();
        if let Some(mut aux) = request.aux_data.as_ref().filter(|a| !a.tokens.is_empty()).cloned() {
            self.verify_tokens(&mut aux, options.now.as_ref()).map_err(authz_api::DecideError::Request)?;
            for i in &mut inputs {
                i.aux_data = Some(aux.clone());
            }
        }
        Ok(authz_api::Decision {
            outputs: self.check(options, &inputs),
            bundle_digest: self.digest.clone(),
            bundle_label: self.label().map(str::to_string),
        })
    }

    fn actions(&self, kind: &str) -> Result<Vec<String>, authz_api::DecideError> {
        Ok(self.actions_for(kind))
    }

    fn plan(
        &self,
        input: &authz_api::plan::PlanInput,
        options: &CheckOptions,
    ) -> Result<authz_api::PlanDecision, authz_api::DecideError> {
        // Copied only when it carries tokens, to hold their verified claims instead.
        let mut input = std::borrow::Cow::Borrowed(input);
        if let Some(mut aux) = input.aux_data.as_ref().filter(|a| !a.tokens.is_empty()).cloned() {
            self.verify_tokens(&mut aux, options.now.as_ref()).map_err(authz_api::DecideError::Request)?;
            input.to_mut().aux_data = Some(aux);
        }
        Ok(authz_api::PlanDecision {
            output: Bundle::plan(self, options, &input),
            bundle_digest: self.digest.clone(),
            bundle_label: self.label().map(str::to_string),
        })
    }
}
