//! Constants and variables of a policy: local, imported and deprecated top-level
//! definitions, name checks, and dependency order.

use super::{refs, Compiler, ParamScope, VAR_REF};
use crate::policy;
use crate::source::ParsedDoc;
use crate::table::Params;
use std::collections::{BTreeMap, HashMap, HashSet};

const RESERVED: &[&str] = &[
    "true",
    "false",
    "null",
    "in",
    "as",
    "break",
    "const",
    "continue",
    "else",
    "for",
    "function",
    "if",
    "import",
    "let",
    "loop",
    "package",
    "namespace",
    "return",
    "var",
    "void",
    "while",
];

/// Why `name` cannot be a variable or constant name, if it cannot.
fn invalid_ident(name: &str) -> Option<&'static str> {
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        Some("is not a valid identifier")
    } else if RESERVED.contains(&name) {
        Some("is a reserved keyword and can't be used as an identifier")
    } else {
        None
    }
}

impl Compiler<'_> {
    fn check_ident(&mut self, d: &ParsedDoc, what: &str, name: &str) {
        if let Some(problem) = invalid_ident(name) {
            self.err(
                d.locate(name),
                format!("invalid {what} name: `{name}` {problem}"),
                Some("use letters, digits and `_`, not starting with a digit"),
            );
        }
    }

    /// Resolves constants and variables (local, imported, deprecated top-level).
    pub(super) fn params(
        &mut self,
        d: &ParsedDoc,
        vars: Option<&policy::Variables>,
        consts: Option<&policy::Constants>,
    ) -> ParamScope {
        let mut constants: BTreeMap<String, serde_json::Value> = BTreeMap::new();
        let mut const_origin: HashMap<String, String> = HashMap::new();
        if let Some(cs) = consts {
            for imp in &cs.import {
                match self.export_consts.get(imp).copied() {
                    Some((ed, defs)) => {
                        for (k, v) in defs {
                            self.check_ident(ed, "constant", k);
                            if let Some(prev) =
                                const_origin.insert(k.clone(), format!("import '{imp}' ({})", ed.locate(k)))
                            {
                                self.err(
                                    d.locate(k),
                                    format!("constant redefined: `{k}` is also defined in {prev}"),
                                    None,
                                );
                            }
                            constants.insert(k.clone(), v.clone());
                        }
                    }
                    None => self.err(
                        d.locate_after("constants", imp),
                        format!("constants import not found: `{imp}`"),
                        Some("define it with exportConstants"),
                    ),
                }
            }
            for (k, v) in &cs.local {
                self.check_ident(d, "constant", k);
                if let Some(prev) = const_origin.insert(k.clone(), "policy local constants".into()) {
                    self.err(
                        d.locate_after("local", k),
                        format!("constant redefined: `{k}` is also defined in {prev}"),
                        None,
                    );
                }
                constants.insert(k.clone(), v.clone());
            }
        }
        let mut defs: BTreeMap<String, String> = BTreeMap::new();
        let mut var_origin: HashMap<String, Vec<String>> = HashMap::new();
        if let Some(vs) = vars {
            for imp in &vs.import {
                match self.export_vars.get(imp).copied() {
                    Some((ed, evs)) => {
                        for (k, v) in evs {
                            self.check_ident(ed, "variable", k);
                            var_origin.entry(k.clone()).or_default().push(format!("import '{imp}' ({})", ed.locate(k)));
                            defs.insert(k.clone(), v.clone());
                        }
                    }
                    None => self.err(
                        d.locate_after("variables", imp),
                        format!("variables import not found: `{imp}`"),
                        Some("define it with exportVariables"),
                    ),
                }
            }
            for (k, v) in &vs.local {
                self.check_ident(d, "variable", k);
                var_origin.entry(k.clone()).or_default().push("policy local variables".into());
                defs.insert(k.clone(), v.clone());
            }
        }
        for (k, v) in &d.doc.variables {
            self.check_ident(d, "variable", k);
            var_origin.entry(k.clone()).or_default().push("deprecated top-level policy variables".into());
            defs.insert(k.clone(), v.clone());
        }
        for (k, origins) in &var_origin {
            if origins.len() > 1 {
                self.err(
                    d.locate(k),
                    format!("variable redefined: `{k}` has multiple definitions in {}", origins.join(", ")),
                    None,
                );
            }
        }
        let var_names: HashSet<String> = defs.keys().cloned().collect();
        let const_names: HashSet<String> = constants.keys().cloned().collect();
        let mut scope = ParamScope { params: 0, var_names, const_names };
        let order = self.order_variables(d, &defs);
        let mut variables = Vec::new();
        for name in order {
            if let Some(src) = defs.get(&name) {
                if let Some(e) = self.compile_expr(d, src, Some(&scope)) {
                    variables.push((name, e));
                }
            }
        }
        let id = self.table.params.len();
        let constants = serde_json::Value::Object(constants.into_iter().collect());
        self.table.params.push(Params::new(id, &constants, variables));
        scope.params = id;
        scope
    }

    /// Orders variables so each comes after those it references; reports cycles.
    fn order_variables(&mut self, d: &ParsedDoc, defs: &BTreeMap<String, String>) -> Vec<String> {
        let mut order = Vec::new();
        let mut state: HashMap<&str, u8> = HashMap::new();
        fn visit<'s>(
            name: &'s str,
            defs: &'s BTreeMap<String, String>,
            state: &mut HashMap<&'s str, u8>,
            order: &mut Vec<String>,
            cycle: &mut Option<String>,
        ) {
            match state.get(name) {
                Some(2) => return,
                Some(1) => {
                    cycle.get_or_insert_with(|| name.to_string());
                    return;
                }
                _ => {}
            }
            state.insert(name, 1);
            if let Some(src) = defs.get(name) {
                for r in refs(&VAR_REF, src) {
                    if let Some((k, _)) = defs.get_key_value(r) {
                        visit(k, defs, state, order, cycle);
                    }
                }
            }
            state.insert(name, 2);
            order.push(name.to_string());
        }
        let mut cycle = None;
        for k in defs.keys() {
            visit(k, defs, &mut state, &mut order, &mut cycle);
        }
        if let Some(name) = cycle {
            self.err(
                d.locate(&name),
                format!("variables form a cycle through `{name}`"),
                Some("a variable cannot depend on itself"),
            );
        }
        order
    }
}
