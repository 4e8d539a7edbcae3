//! Loading a baked component and running decisions in bounded, pooled instances.

use crate::config::TIMEOUT_TICK;
use crate::record::CallInfo;
use crate::{Config, HostError};
use std::borrow::Cow;
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};
use wasmtime::component::Linker;
use wasmtime::{Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ResourceLimiter, Store, Trap};

pub(crate) mod bindings {
    wasmtime::component::bindgen!({ path: "../../wit", world: "pdp" });
}

use bindings::exports::authz::pdp::authz as api;

/// What the loaded component has baked in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleInfo {
    /// `sha256:<hex>` over the bundle's policy sources.
    pub digest: String,
    /// Label given at bake time.
    pub label: Option<String>,
    /// Number of policies.
    pub policy_count: u32,
    /// Version of the engine inside the component.
    pub engine_version: String,
    /// Whether any condition, variable or output reads the request's time; when none does,
    /// [`Config::supply_now`] has nothing to supply.
    pub reads_clock: bool,
    /// Who signed the component, when it is signed (the seal is verified at load).
    pub signature: Option<crate::seal::Signature>,
}

/// Per-store state: the memory limit, and whether it was hit.
struct Limits {
    max_memory: usize,
    hit: bool,
}

impl ResourceLimiter for Limits {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let ok = desired <= self.max_memory;
        self.hit |= !ok;
        Ok(ok)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// An instance ready for a decision.
struct Instance {
    store: Store<Limits>,
    pdp: bindings::Pdp,
}

/// A loaded, pre-instantiated authz component; share it across threads (`Arc<Pdp>`).
pub struct Pdp {
    engine: Engine,
    pre: bindings::PdpPre<Limits>,
    config: Config,
    warm: Mutex<Vec<Instance>>,
    info: BundleInfo,
    /// [`Config::globals`] as JSON, serialized once.
    globals_json: Option<String>,
}

impl Pdp {
    /// Loads a baked component from a file.
    pub fn from_file(path: &Path, config: Config) -> Result<Pdp, HostError> {
        let bytes = std::fs::read(path).map_err(|e| HostError::load(format!("reading `{}`", path.display()), e))?;
        Pdp::from_bytes(&bytes, config)
    }

    /// Loads a baked component: compiles (or reads the cached compilation), links, checks the
    /// bundle by asking for its details, and keeps one warm instance.
    pub fn from_bytes(bytes: &[u8], config: Config) -> Result<Pdp, HostError> {
        // Before anything runs: the bytes are the ones baked (and signed by a trusted key,
        // when keys are configured).
        let seal =
            crate::seal::verify(bytes, &config.trusted_keys).map_err(|e| HostError::load("checking its seal", e))?;
        let engine = engine(&config)?;
        let component = crate::cache::compile(&engine, bytes, config.cache_dir.as_deref())?;
        let linker = Linker::new(&engine);
        let pre = linker.instantiate_pre(&component).map_err(|e| HostError::load("linking", e))?;
        let pre = bindings::PdpPre::new(pre).map_err(|e| HostError::load("type-checking its exports", e))?;
        let globals_json = config.globals.as_ref().map(authz_api::__wit::object_text);
        let mut pdp = Pdp { engine, pre, config, warm: Mutex::new(Vec::new()), info: empty_info(), globals_json };
        // The first instance also type-checks the component's exports against our WIT.
        let mut instance = pdp.instantiate().map_err(|e| HostError::load("instantiating", e))?;
        let details =
            instance.pdp.authz_pdp_authz().call_bundle_info(&mut instance.store).map_err(|e| pdp.trap(e, &instance))?;
        if details.digest.is_empty() {
            // Any call answers why (no bundle baked in, or one that does not decode).
            let defaults = crate::convert::options_to_wit(&authz_api::CheckOptions::default());
            let reason = match instance.pdp.authz_pdp_authz().call_check_json(&mut instance.store, "{}", &defaults) {
                Ok(Err(api::Error::BundleUnavailable(reason))) => reason,
                _ => "the component has no usable bundle baked in: run `authz bake`".into(),
            };
            return Err(HostError::BundleUnavailable(reason));
        }
        if details.digest != seal.bundle {
            let e = crate::seal::SealError::WrongBundle { sealed: seal.bundle, reported: details.digest };
            return Err(HostError::load("checking its seal", e));
        }
        let authz_api::BundleDetails { digest, label, policy_count, engine_version, reads_clock } =
            crate::convert::details_from_wit(details);
        pdp.info = BundleInfo { signature: seal.signature, digest, label, policy_count, engine_version, reads_clock };
        pdp.release(instance);
        Ok(pdp)
    }

    /// The baked bundle's digest, label and size.
    pub fn bundle_info(&self) -> &BundleInfo {
        &self.info
    }

    /// Decides a typed CheckResources request. A missing `now` is the host's current time (when
    /// the bundle reads the time at all) and missing globals are the configured ones.
    pub fn check(&self, request: &api::CheckRequest) -> Result<api::CheckResponse, HostError> {
        self.check_typed(Cow::Borrowed(request))
    }

    /// [`Pdp::check`] of a request that is copied only if the host fills something in (and not
    /// at all when the caller hands it over).
    fn check_typed(&self, request: Cow<'_, api::CheckRequest>) -> Result<api::CheckResponse, HostError> {
        let size = typed_size(&request);
        if size > self.config.max_request_bytes {
            return Err(HostError::RequestTooLarge { size, limit: self.config.max_request_bytes });
        }
        let request = if self.fills_in(&request.options) {
            let mut r = request.into_owned();
            self.fill_in(&mut r.options);
            Cow::Owned(r)
        } else {
            request
        };
        let start = Instant::now();
        let response = self
            .call(|pdp, store| pdp.authz_pdp_authz().call_check_resources(store, &request))?
            .map_err(component_error)?;
        if let Some(hook) = &self.config.on_decision {
            self.call_info(&request.request_id, &request.principal.id, start).typed(&response, hook);
        }
        Ok(response)
    }

    /// Whether a call's options leave something to the host: `now` (when the bundle reads the
    /// time and the host supplies it), globals (when the host has configured ones).
    fn fills_in(&self, o: &api::CheckOptions) -> bool {
        (self.supplies_now() && o.now.is_none()) || (o.globals_json.is_none() && self.globals_json.is_some())
    }

    /// Fills in what [`Pdp::fills_in`] says the options leave to the host.
    fn fill_in(&self, o: &mut api::CheckOptions) {
        if self.supplies_now() && o.now.is_none() {
            o.now = Some(now_rfc3339());
        }
        if o.globals_json.is_none() {
            o.globals_json.clone_from(&self.globals_json);
        }
    }

    fn call_info<'a>(&'a self, request_id: &'a str, principal_id: &'a str, start: Instant) -> CallInfo<'a> {
        CallInfo {
            request_id,
            principal_id,
            bundle_digest: &self.info.digest,
            bundle_label: self.info.label.as_deref(),
            bundle_signature: self.info.signature.as_ref(),
            runtime: &self.config.runtime_name,
            duration: start.elapsed(),
        }
    }

    /// Decides a Cerbos CheckResources request given as JSON (options in `authzOptions`, over
    /// the host's: its clock and configured globals), answering Cerbos response JSON with the
    /// bundle digest.
    pub fn check_json(&self, request: &str) -> Result<String, HostError> {
        self.json_call(
            request,
            |pdp, store, defaults| pdp.authz_pdp_authz().call_check_json(store, request, defaults),
            |info, response, hook| info.json(response, hook),
        )
    }

    /// A JSON call (`check-json`, `plan-json`) within the request size limit, under the host's
    /// defaults; its decision records made by `record` from the response.
    fn json_call(
        &self,
        request: &str,
        call: impl FnOnce(
            &bindings::Pdp,
            &mut Store<Limits>,
            &api::CheckOptions,
        ) -> wasmtime::Result<Result<String, api::Error>>,
        record: impl FnOnce(&CallInfo<'_>, &serde_json::Value, &crate::DecisionHook),
    ) -> Result<String, HostError> {
        if request.len() > self.config.max_request_bytes {
            return Err(HostError::RequestTooLarge { size: request.len(), limit: self.config.max_request_bytes });
        }
        let start = Instant::now();
        let defaults = self.json_defaults();
        let response = self.call(|pdp, store| call(pdp, store, &defaults))?.map_err(component_error)?;
        if let Some(hook) = &self.config.on_decision {
            // The component accepted both, so both are JSON; the request is read for its IDs only.
            let req: serde_json::Value = serde_json::from_str(request).unwrap_or_default();
            let resp: serde_json::Value = serde_json::from_str(&response).unwrap_or_default();
            let text = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).unwrap_or_default().to_string();
            let (request_id, principal_id) = (text(req.get("requestId")), text(req.pointer("/principal/id")));
            record(&self.call_info(&request_id, &principal_id, start), &resp, hook);
        }
        Ok(response)
    }

    /// Plans a typed PlanResources request (Cerbos's query planning). A missing `now` is the
    /// host's current time (when the bundle reads the time at all) and missing globals are the
    /// configured ones, as for checks.
    pub fn plan(&self, request: &api::PlanRequest) -> Result<api::PlanResponse, HostError> {
        let size = plan_size(request);
        if size > self.config.max_request_bytes {
            return Err(HostError::RequestTooLarge { size, limit: self.config.max_request_bytes });
        }
        let request = if self.fills_in(&request.options) {
            let mut r = request.clone();
            self.fill_in(&mut r.options);
            Cow::Owned(r)
        } else {
            Cow::Borrowed(request)
        };
        let start = Instant::now();
        let response = self
            .call(|pdp, store| pdp.authz_pdp_authz().call_plan_resources(store, &request))?
            .map_err(component_error)?;
        if let Some(hook) = &self.config.on_decision {
            self.call_info(&request.request_id, &request.principal.id, start).plan(&response, hook);
        }
        Ok(response)
    }

    /// Plans a Cerbos PlanResources request given as JSON (options in `authzOptions`, over the
    /// host's: its clock and configured globals), answering Cerbos response JSON with the bundle
    /// digest.
    pub fn plan_json(&self, request: &str) -> Result<String, HostError> {
        self.json_call(
            request,
            |pdp, store, defaults| pdp.authz_pdp_authz().call_plan_json(store, request, defaults),
            |info, response, hook| info.plan_json(response, hook),
        )
    }

    /// The options of a JSON call, which the request's `authzOptions` override: the host's
    /// clock (when the bundle reads the time) and its configured globals.
    fn json_defaults(&self) -> api::CheckOptions {
        api::CheckOptions {
            now: self.supplies_now().then(now_rfc3339),
            globals_json: self.globals_json.clone(),
            ..crate::convert::options_to_wit(&authz_api::CheckOptions::default())
        }
    }

    /// The actions the bundle's rules name for resource kind `kind`, sorted (the candidates of
    /// an AuthZEN action search; an action only a wildcard rule covers is not listed).
    pub fn actions(&self, kind: &str) -> Result<Vec<String>, HostError> {
        self.call(|pdp, store| pdp.authz_pdp_authz().call_actions(store, kind))?.map_err(component_error)
    }

    /// Whether calls get the host's time: configured so, and the bundle reads the time.
    fn supplies_now(&self) -> bool {
        self.config.supply_now && self.info.reads_clock
    }

    /// Runs `f` on a warm or new instance with a fresh time limit and fuel; a failed instance
    /// is dropped.
    fn call<R>(
        &self,
        f: impl FnOnce(&bindings::Pdp, &mut Store<Limits>) -> wasmtime::Result<R>,
    ) -> Result<R, HostError> {
        let warm = self.warm.lock().ok().and_then(|mut w| w.pop());
        let mut instance = match warm {
            Some(i) => i,
            None => self.instantiate()?,
        };
        self.arm(&mut instance.store)?;
        match f(&instance.pdp, &mut instance.store) {
            Ok(r) => {
                self.release(instance);
                Ok(r)
            }
            Err(e) => Err(self.trap(e, &instance)),
        }
    }

    /// Gives the store a call's limits: the time limit from now, and fresh fuel.
    fn arm(&self, store: &mut Store<Limits>) -> Result<(), HostError> {
        if let Some(timeout) = self.config.timeout {
            store.set_epoch_deadline(timeout_ticks(timeout));
        }
        if let Some(fuel) = self.config.fuel {
            store.set_fuel(fuel).map_err(|e| HostError::Trap(e.into()))?;
        }
        Ok(())
    }

    fn instantiate(&self) -> Result<Instance, HostError> {
        let mut store = Store::new(&self.engine, Limits { max_memory: self.config.max_memory_bytes, hit: false });
        store.limiter(|l| l);
        self.arm(&mut store)?;
        let pdp = self.pre.instantiate(&mut store).map_err(|e| {
            if e.downcast_ref::<wasmtime::PoolConcurrencyLimitError>().is_some() {
                HostError::Busy(self.config.pool_instances)
            } else if store.data().hit {
                HostError::MemoryLimit(self.config.max_memory_bytes)
            } else {
                HostError::Trap(e.into())
            }
        })?;
        Ok(Instance { store, pdp })
    }

    fn release(&self, instance: Instance) {
        if let Ok(mut warm) = self.warm.lock() {
            if warm.len() < self.config.warm_instances {
                warm.push(instance);
            }
        }
    }

    fn trap(&self, e: wasmtime::Error, instance: &Instance) -> HostError {
        if instance.store.data().hit {
            HostError::MemoryLimit(self.config.max_memory_bytes)
        } else if e.downcast_ref::<Trap>() == Some(&Trap::OutOfFuel) {
            HostError::OutOfFuel
        } else if let (Some(&Trap::Interrupt), Some(timeout)) = (e.downcast_ref::<Trap>(), self.config.timeout) {
            HostError::Timeout(timeout)
        } else {
            HostError::Trap(e.into())
        }
    }
}

fn empty_info() -> BundleInfo {
    BundleInfo {
        digest: String::new(),
        label: None,
        policy_count: 0,
        engine_version: String::new(),
        reads_clock: true,
        signature: None,
    }
}

fn component_error(e: api::Error) -> HostError {
    match crate::convert::error_from_wit(e) {
        Ok(request) => HostError::Request(request),
        Err(reason) => HostError::BundleUnavailable(reason),
    }
}

/// The component through wasmtime, behind the seam every HTTP host decides through.
impl authz_api::Decider for Pdp {
    fn decide(
        &self,
        request: &authz_api::cerbos::CheckResourcesRequest,
        options: &authz_api::CheckOptions,
    ) -> Result<authz_api::Decision, authz_api::DecideError> {
        let typed = crate::convert::request_to_wit(request, options);
        Ok(crate::convert::response_from_wit(self.check_typed(Cow::Owned(typed))?))
    }
    fn actions(&self, kind: &str) -> Result<Vec<String>, authz_api::DecideError> {
        Ok(Pdp::actions(self, kind)?)
    }

    fn plan(
        &self,
        input: &authz_api::plan::PlanInput,
        options: &authz_api::CheckOptions,
    ) -> Result<authz_api::PlanDecision, authz_api::DecideError> {
        let typed = crate::convert::plan_request_to_wit(input, options);
        let response = Pdp::plan(self, &typed)?;
        crate::convert::plan_response_from_wit(response)
            .map_err(|e| authz_api::DecideError::runtime(authz_api::Failure::Internal, e))
    }
}

/// Bytes of each pooled memory and table kept mapped between instances (see [`engine`]).
const KEEP_RESIDENT: usize = 4 << 20;

/// Epoch ticks a call may run for `timeout`: the deadline counts from the current epoch,
/// whose tick may come at once, hence one more.
fn timeout_ticks(timeout: Duration) -> u64 {
    let tick = TIMEOUT_TICK.as_nanos().max(1);
    u64::try_from(timeout.as_nanos().div_ceil(tick)).unwrap_or(u64::MAX - 1).saturating_add(1)
}

/// Engines whose epoch the ticker thread advances, held weakly: a dropped engine leaves the
/// list at the next tick.
static TICKED: Mutex<Vec<wasmtime::EngineWeak>> = Mutex::new(Vec::new());
/// The one ticker thread of the process, started by the first engine with a time limit.
static TICKER: OnceLock<Result<(), String>> = OnceLock::new();

/// Has `engine`'s epoch advanced every [`TIMEOUT_TICK`] by the process's one ticker thread
/// (one thread however many bundles a host loads).
fn start_ticker(engine: &Engine) -> Result<(), HostError> {
    let started = TICKER.get_or_init(|| {
        std::thread::Builder::new().name("authz-timeout-tick".into()).spawn(tick).map(drop).map_err(|e| e.to_string())
    });
    if let Err(e) = started {
        return Err(HostError::load("starting the timeout thread", std::io::Error::other(e.clone())));
    }
    let mut engines = TICKED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    engines.push(engine.weak());
    Ok(())
}

fn tick() {
    loop {
        std::thread::sleep(TIMEOUT_TICK);
        let mut engines = TICKED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        engines.retain(|weak| weak.upgrade().map(|engine| engine.increment_epoch()).is_some());
    }
}

fn engine(config: &Config) -> Result<Engine, HostError> {
    let mut c = wasmtime::Config::new();
    c.consume_fuel(config.fuel.is_some());
    c.epoch_interruption(config.timeout.is_some());
    if config.pool_instances > 0 {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(config.pool_instances)
            .total_core_instances(config.pool_instances)
            .total_memories(config.pool_instances)
            .total_tables(config.pool_instances)
            .max_memory_size(config.max_memory_bytes);
        // Where the kernel can list a slot's dirty pages (Linux 6.7+ PAGEMAP_SCAN), a released
        // instance's memory is reset in place instead of unmapped: the next instance in the slot
        // takes no page faults on what the last one touched (measured: fresh instance + first
        // decision ~2x faster). Without it, the default (madvise) is the cheaper reset.
        if PoolingAllocationConfig::is_pagemap_scan_available() {
            pool.pagemap_scan(wasmtime::Enabled::Yes)
                .linear_memory_keep_resident(KEEP_RESIDENT)
                .table_keep_resident(KEEP_RESIDENT);
        }
        c.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    let engine = Engine::new(&c).map_err(|e| HostError::load("configuring wasmtime", e))?;
    if config.timeout.is_some() {
        start_ticker(&engine)?;
    }
    Ok(engine)
}

/// Bytes the component will copy in for a typed request (its strings).
fn typed_size(r: &api::CheckRequest) -> usize {
    let p = &r.principal;
    let principal = p.id.len() + p.attr_json.len() + p.roles.iter().map(String::len).sum::<usize>();
    let resources: usize = r
        .resources
        .iter()
        .map(|e| {
            e.resource.kind.len()
                + e.resource.id.len()
                + e.resource.attr_json.len()
                + e.actions.iter().map(String::len).sum::<usize>()
        })
        .sum();
    let extra =
        r.aux_data_json.as_ref().map_or(0, String::len) + r.options.globals_json.as_ref().map_or(0, String::len);
    r.request_id.len() + principal + resources + extra
}

/// Bytes of a typed plan request's strings (what its JSON would at least take).
fn plan_size(r: &api::PlanRequest) -> usize {
    let p = &r.principal;
    let principal = p.id.len() + p.attr_json.len() + p.roles.iter().map(String::len).sum::<usize>();
    let resource = r.resource.kind.len() + r.resource.attr_json.len();
    let extra =
        r.aux_data_json.as_ref().map_or(0, String::len) + r.options.globals_json.as_ref().map_or(0, String::len);
    r.request_id.len() + principal + resource + r.actions.iter().map(String::len).sum::<usize>() + extra
}

/// The host's current time in RFC 3339 (the component reads no clock).
fn now_rfc3339() -> String {
    chrono::DateTime::<chrono::Utc>::from(std::time::SystemTime::now())
        .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}
