//! Schema references of resource policies: every file a reference reaches is
//! loaded and checked when the bundle is built.

use super::Compiler;
use crate::glob::Glob;
use crate::policy;
use crate::source::ParsedDoc;
use crate::table::SchemaRefs;
use std::collections::HashMap;

impl Compiler<'_> {
    pub(super) fn schema_refs(
        &mut self,
        d: &ParsedDoc,
        s: Option<&policy::Schemas>,
        files: &HashMap<String, String>,
    ) -> SchemaRefs {
        let mut out = SchemaRefs::default();
        let Some(s) = s else { return out };
        for (which, r) in [("principal", &s.principal_schema), ("resource", &s.resource_schema)] {
            let Some(r) = r else { continue };
            let path = r.r#ref.strip_prefix("cerbos:///").unwrap_or(&r.r#ref).to_string();
            if !r.r#ref.starts_with("cerbos:///") || !files.contains_key(&path) {
                self.err(
                    d.locate(&r.r#ref),
                    format!(
                        "invalid schema: failed to load {which} schema `{}`: schema _schemas/{path} doesn't exist",
                        r.r#ref
                    ),
                    Some("put the JSON schema under _schemas/ and reference it as cerbos:///path"),
                );
                continue;
            }
            if let Err(msg) = self.load_schema(files, &path) {
                self.err(
                    d.locate(&r.r#ref),
                    format!("invalid schema: failed to load {which} schema `{}`: {msg}", r.r#ref),
                    Some("fix the JSON schema file and its $refs"),
                );
                continue;
            }
            let ignore =
                r.ignore_when.as_ref().map(|i| i.actions.iter().map(|a| Glob::new(a)).collect()).unwrap_or_default();
            if which == "principal" {
                out.principal = Some((path, ignore));
            } else {
                out.resource = Some((path, ignore));
            }
        }
        out
    }

    /// Parses the schema at `path` and every file its `$ref`s reach into the table.
    fn load_schema(&mut self, files: &HashMap<String, String>, path: &str) -> Result<(), String> {
        let mut pending = vec![path.to_string()];
        while let Some(p) = pending.pop() {
            if self.table.schema_docs.contains_key(&p) {
                continue;
            }
            let text = files.get(&p).ok_or_else(|| format!("schema _schemas/{p} doesn't exist"))?;
            let v: serde_json::Value =
                serde_json::from_str(text).map_err(|e| format!("_schemas/{p} is not valid JSON: {e}"))?;
            if !(v.is_object() || v.is_boolean()) {
                return Err(format!("_schemas/{p} is not a JSON schema (an object or a boolean)"));
            }
            let mut refs = Vec::new();
            collect_ref_files(&v, &p, &mut refs);
            self.table.schema_docs.insert(p, v);
            pending.extend(refs);
        }
        crate::schema::check_refs(&self.table.schema_docs, path)
    }
}

/// The schema files that `$ref`s in `v` (found in file `base`) point to.
fn collect_ref_files(v: &serde_json::Value, base: &str, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("$ref", serde_json::Value::String(r))
                        if !r.starts_with('#') && !r.contains("://") || r.starts_with("cerbos:///") =>
                    {
                        let file = r.split('#').next().unwrap_or_default();
                        let file = if let Some(p) = file.strip_prefix("cerbos:///") {
                            p.to_string()
                        } else if let Some(p) = file.strip_prefix('/') {
                            p.to_string()
                        } else {
                            match base.rsplit_once('/') {
                                Some((dir, _)) => format!("{dir}/{file}"),
                                None => file.to_string(),
                            }
                        };
                        out.push(file);
                    }
                    _ => collect_ref_files(x, base, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_ref_files(x, base, out)),
        _ => {}
    }
}
