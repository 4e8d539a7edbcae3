//! Host settings: limits per decision and how components are compiled and pooled.

use std::path::PathBuf;
use std::time::Duration;

/// How often the clock behind [`Config::timeout`] advances.
pub const TIMEOUT_TICK: Duration = Duration::from_millis(10);

/// How a [`Pdp`](crate::Pdp) compiles, pools and bounds decisions.
#[derive(Debug, Clone)]
pub struct Config {
    /// Wall-clock time one call may take before it is interrupted
    /// ([`HostError::Timeout`](crate::HostError::Timeout)); `None` never interrupts. Checked at
    /// wasm function entries and loop heads against a counter a background thread advances
    /// every [`TIMEOUT_TICK`], so a call is stopped between `timeout` and `timeout` plus a tick.
    pub timeout: Option<Duration>,
    /// Wasm instructions (fuel) one call may use, for a budget that does not depend on the
    /// machine; `None` disables metering. Off by default: metering made a warm single check
    /// about 20% slower (8.5 → 10.2 µs in `component_probe`, BENCHMARKS.md).
    pub fuel: Option<u64>,
    /// Largest linear memory an instance may grow to, in bytes.
    pub max_memory_bytes: usize,
    /// Largest request accepted, in bytes (JSON text, or the typed request's strings).
    pub max_request_bytes: usize,
    /// Instances the pooling allocator holds (the most decisions in flight at once);
    /// `0` uses on-demand allocation instead of a pool.
    pub pool_instances: u32,
    /// Warm instances kept for reuse between decisions.
    pub warm_instances: usize,
    /// Directory for precompiled components; `None` compiles on every load. The
    /// [`CACHE_KEEP`](crate::CACHE_KEEP) most recently used artifacts are kept, older ones removed.
    pub cache_dir: Option<PathBuf>,
    /// Supply the host's clock as `now` when a request carries none (the component has no
    /// clock). Off, time conditions in such requests fail to evaluate and deny.
    pub supply_now: bool,
    /// Globals (`G`) as a JSON object, supplied when a request carries none.
    pub globals: Option<serde_json::Map<String, serde_json::Value>>,
    /// Receives a [`DecisionRecord`](crate::DecisionRecord) per decided action.
    pub on_decision: Option<crate::DecisionHook>,
    /// The runtime name written in decision records.
    pub runtime_name: String,
    /// Public keys whose signature a component must carry (see [`crate::seal`]); empty, any
    /// component with an intact seal loads, signed or not.
    pub trusted_keys: Vec<crate::seal::TrustedKey>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            timeout: Some(Duration::from_secs(1)),
            fuel: None,
            max_memory_bytes: 256 << 20,
            max_request_bytes: 10 << 20,
            pool_instances: 64,
            warm_instances: 8,
            cache_dir: None,
            supply_now: true,
            globals: None,
            on_decision: None,
            runtime_name: "wasmtime".into(),
            trusted_keys: Vec::new(),
        }
    }
}
