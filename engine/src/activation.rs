//! The values a condition sees, resolved by name without copying the request:
//! `P`, `R` and `request` are built lazily from the input (borrowing its strings),
//! `C` was built with the bundle, `G` when first read, `V` once per policy per input.
//! Conditions with a fast form (see `cel::fast`) read the request directly instead.

use crate::cel::fast::FastCtx;
use crate::cel::tz::{Zones, ZONES_VAR};
use crate::cel::{map_val, obj_val, owned_val, str_list, str_val, NOW_VAR};
use authz_api::model::{Attributes, CheckInput, Timestamp};
use cel::common::value::{CowVal, Val};
use cel::context::VariableResolver;
use cel::Value;
use std::sync::{Arc, OnceLock};

/// Request-scoped values, built on first use.
pub(crate) struct RequestVals<'a> {
    input: &'a CheckInput,
    pscope: &'a str,
    rscope: &'a str,
    principal: OnceLock<Box<dyn Val + 'a>>,
    resource: OnceLock<Box<dyn Val + 'a>>,
    request: OnceLock<Box<dyn Val + 'a>>,
    globals: &'a Attributes,
    globals_val: OnceLock<Box<dyn Val + 'a>>,
    now: Option<Timestamp>,
    now_val: OnceLock<Box<dyn Val + 'a>>,
}

impl<'a> RequestVals<'a> {
    pub(crate) fn new(
        input: &'a CheckInput,
        pscope: &'a str,
        rscope: &'a str,
        globals: &'a Attributes,
        now: Option<Timestamp>,
    ) -> Self {
        RequestVals {
            input,
            pscope,
            rscope,
            principal: OnceLock::new(),
            resource: OnceLock::new(),
            request: OnceLock::new(),
            globals,
            globals_val: OnceLock::new(),
            now,
            now_val: OnceLock::new(),
        }
    }

    /// What a fast evaluation reads, with the constants of the policy evaluated.
    pub(crate) fn fast<'s>(&'s self, constants: &'s serde_json::Value) -> FastCtx<'s> {
        FastCtx { input: self.input, pscope: self.pscope, rscope: self.rscope, globals: self.globals, constants }
    }

    fn globals(&self) -> &(dyn Val + 'a) {
        self.globals_val.get_or_init(|| obj_val(self.globals)).as_ref()
    }

    fn now(&self) -> Option<&(dyn Val + 'a)> {
        let t = self.now?;
        Some(self.now_val.get_or_init(|| owned_val(cel::Value::Timestamp(t))).as_ref())
    }

    fn build_principal(&self) -> Box<dyn Val + 'a> {
        let p = &self.input.principal;
        map_val(vec![
            ("id", str_val(&p.id)),
            ("roles", str_list(p.roles.iter().map(String::as_str))),
            ("attr", obj_val(&p.attr)),
            ("policyVersion", str_val(&p.policy_version)),
            ("scope", str_val(self.pscope)),
        ])
    }

    fn build_resource(&self) -> Box<dyn Val + 'a> {
        let r = &self.input.resource;
        map_val(vec![
            ("kind", str_val(&r.kind)),
            ("id", str_val(&r.id)),
            ("attr", obj_val(&r.attr)),
            ("policyVersion", str_val(&r.policy_version)),
            ("scope", str_val(self.rscope)),
        ])
    }

    fn aux(&self) -> Box<dyn Val + 'a> {
        let empty = || map_val(vec![]);
        let (jwt, jwts, authzen) = match &self.input.aux_data {
            Some(a) => (obj_val(&a.jwt), obj_val(&a.jwts), obj_val(&a.authzen)),
            None => (empty(), empty(), empty()),
        };
        map_val(vec![("jwt", jwt), ("jwts", jwts), ("authzen", authzen)])
    }

    fn principal(&self) -> &(dyn Val + 'a) {
        self.principal.get_or_init(|| self.build_principal()).as_ref()
    }

    fn resource(&self) -> &(dyn Val + 'a) {
        self.resource.get_or_init(|| self.build_resource()).as_ref()
    }

    fn request(&self) -> &(dyn Val + 'a) {
        self.request
            .get_or_init(|| {
                map_val(vec![
                    ("principal", self.build_principal()),
                    ("resource", self.build_resource()),
                    ("auxData", self.aux()),
                    ("aux_data", self.aux()),
                ])
            })
            .as_ref()
    }
}

/// The names visible to one evaluation.
pub(crate) struct Scope<'s, 'a> {
    pub(crate) req: &'s RequestVals<'a>,
    pub(crate) vars: &'s (dyn Val + 's),
    pub(crate) consts: &'s (dyn Val + 's),
    pub(crate) runtime: &'s (dyn Val + 's),
    /// The bundle's time zones, resolved only by conditions that use one.
    pub(crate) zones: &'s Arc<Zones>,
}

impl VariableResolver for Scope<'_, '_> {
    fn resolve<'b>(&'b self, name: &str) -> Option<CowVal<'b, 'b>> {
        let v: &'b (dyn Val + 'b) = match name {
            "P" => self.req.principal(),
            "R" => self.req.resource(),
            "request" => self.req.request(),
            "V" | "variables" => self.vars,
            "C" | "constants" => self.consts,
            "G" | "globals" => self.req.globals(),
            "runtime" => self.runtime,
            NOW_VAR => self.req.now()?,
            ZONES_VAR => {
                let zones: Arc<dyn cel::objects::Opaque> = self.zones.clone();
                return Box::<dyn Val>::try_from(Value::Opaque(zones)).ok().map(CowVal::Owned);
            }
            _ => return None,
        };
        Some(CowVal::Borrowed(v))
    }
}
