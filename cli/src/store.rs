//! Reading a policy directory from disk into engine [`Source`]s.
//!
//! Nothing that could hold a policy, a schema or a test suite is ever skipped silently: a
//! policy dropped without a word is a rule gone, and a DENY rule gone is an ALLOW. Every
//! `.yaml`, `.yml` and `.json` file is loaded or is an error naming it; other files are loaded
//! when they are text (the bundle builder ignores them) and otherwise left out.

use authz_engine::Source;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Why a directory could not be read.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file system refused a read.
    #[error("cannot read `{path}`: {source}")]
    Io {
        /// The path that could not be read.
        path: String,
        /// What the file system said.
        source: std::io::Error,
    },
    /// A policy, schema or suite file that is not UTF-8 text.
    #[error("{path}:{line}:{col}: not valid UTF-8 (policy, schema and test files must be UTF-8 text)")]
    NotUtf8 {
        /// The file, relative to the policy directory.
        path: String,
        /// 1-based line of the first invalid byte.
        line: usize,
        /// 1-based column (in characters) of the first invalid byte.
        col: usize,
    },
    /// A symbolic link whose target lies outside the policy directory.
    #[error("{path}: symbolic link to `{target}`, outside the policy directory (links must stay inside it)")]
    LinkOutside {
        /// The link, relative to the policy directory.
        path: String,
        /// Where it points.
        target: String,
    },
}

/// Every file below `dir`, with paths relative to `dir` using `/`, sorted. Hidden files and
/// directories (a name starting with `.`) are not read, as Cerbos does not read them.
/// Symbolic links are followed when their target is inside `dir` (as in a Kubernetes
/// ConfigMap mount) and refused otherwise. A leading UTF-8 byte order mark is dropped.
pub fn load_dir(dir: &Path) -> Result<Vec<Source>, StoreError> {
    let root = std::fs::canonicalize(dir).map_err(io_err(dir))?;
    let mut walk = Walk { root: root.clone(), seen_dirs: HashSet::from([root.clone()]), out: Vec::new() };
    walk.dir(&root, "")?;
    walk.out.sort_by(|a, b| a.path().cmp(b.path()));
    Ok(walk.out)
}

fn io_err(p: &Path) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = p.display().to_string();
    move |source| StoreError::Io { path, source }
}

struct Walk {
    root: PathBuf,
    /// Canonical directories already walked: a link back up the tree is walked once.
    seen_dirs: HashSet<PathBuf>,
    out: Vec<Source>,
}

impl Walk {
    /// Reads the directory `dir`, whose path relative to the root is `rel` ("" for the root).
    fn dir(&mut self, dir: &Path, rel: &str) -> Result<(), StoreError> {
        let mut entries = std::fs::read_dir(dir)
            .map_err(io_err(dir))?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(io_err(dir))?;
        entries.sort();
        for path in entries {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if name.starts_with('.') {
                continue;
            }
            let rel = if rel.is_empty() { name } else { format!("{rel}/{name}") };
            let meta = std::fs::symlink_metadata(&path).map_err(io_err(&path))?;
            let target = if meta.file_type().is_symlink() {
                let target = std::fs::canonicalize(&path).map_err(io_err(&path))?;
                if !target.starts_with(&self.root) {
                    return Err(StoreError::LinkOutside { path: rel, target: target.display().to_string() });
                }
                target
            } else {
                path
            };
            let meta = std::fs::metadata(&target).map_err(io_err(&target))?;
            if meta.is_dir() {
                let canonical = std::fs::canonicalize(&target).map_err(io_err(&target))?;
                if self.seen_dirs.insert(canonical) {
                    self.dir(&target, &rel)?;
                }
            } else if meta.is_file() {
                self.file(&target, rel)?;
            }
        }
        Ok(())
    }

    fn file(&mut self, path: &Path, rel: String) -> Result<(), StoreError> {
        let mut bytes = std::fs::read(path).map_err(io_err(path))?;
        if bytes.starts_with(b"\xEF\xBB\xBF") {
            bytes.drain(..3);
        }
        match String::from_utf8(bytes) {
            Ok(text) => self.out.push(Source::new(rel, text)),
            Err(e) if is_data_file(&rel) => {
                let valid = e.as_bytes().get(..e.utf8_error().valid_up_to()).unwrap_or_default();
                let before = String::from_utf8_lossy(valid);
                let line = before.matches('\n').count() + 1;
                let col = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
                return Err(StoreError::NotUtf8 { path: rel, line, col });
            }
            // Not a file the bundle or a suite reads (an image beside the policies, say).
            Err(_) => {}
        }
        Ok(())
    }
}

/// Whether the bundle builder or the suite runner may read the file: policies, schemas,
/// suites and their fixtures are all YAML or JSON.
fn is_data_file(rel: &str) -> bool {
    let lower = rel.to_ascii_lowercase();
    [".yaml", ".yml", ".json"].iter().any(|e| lower.ends_with(e))
}

#[cfg(test)]
mod tests {
    use super::{load_dir, StoreError};
    use std::fs;

    const DENY: &str = "apiVersion: api.cerbos.dev/v1\nresourcePolicy:\n  resource: doc\n  version: default\n  rules:\n    - actions: [\"*\"]\n      effect: EFFECT_DENY\n      roles: [\"*\"]\n";

    fn paths(dir: &std::path::Path) -> Vec<String> {
        load_dir(dir).unwrap().iter().map(|s| s.path().to_string()).collect()
    }

    #[test]
    fn a_policy_that_is_not_utf8_is_an_error_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = format!("# caf\u{e9}\n{DENY}").into_bytes();
        // Latin-1 `é` in the first line's comment.
        bytes.splice(5..7, [0xE9]);
        fs::write(dir.path().join("deny.yaml"), bytes).unwrap();
        match load_dir(dir.path()) {
            Err(e @ StoreError::NotUtf8 { line: 1, col: 6, .. }) => {
                assert_eq!(
                    e.to_string(),
                    "deny.yaml:1:6: not valid UTF-8 (policy, schema and test files must be UTF-8 text)"
                )
            }
            other => panic!("expected a UTF-8 error, got {other:?}"),
        }
    }

    #[test]
    fn a_suite_that_is_not_utf8_is_an_error_too() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("doc_test.yaml"), b"name: x\n\xFF\n").unwrap();
        assert!(matches!(load_dir(dir.path()), Err(StoreError::NotUtf8 { line: 2, col: 1, .. })));
    }

    #[test]
    fn a_byte_order_mark_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("deny.yaml"), format!("\u{feff}{DENY}")).unwrap();
        let sources = load_dir(dir.path()).unwrap();
        assert_eq!(sources.first().map(|s| s.text()), Some(DENY));
    }

    #[test]
    fn a_binary_file_that_is_no_policy_is_left_out() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("logo.png"), b"\x89PNG\xFF").unwrap();
        fs::write(dir.path().join("deny.yaml"), DENY).unwrap();
        assert_eq!(paths(dir.path()), ["deny.yaml"]);
    }

    #[cfg(unix)]
    #[test]
    fn links_inside_are_followed_as_a_configmap_mount_has_them() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("..2026_12_01");
        fs::create_dir(&data).unwrap();
        fs::write(data.join("deny.yaml"), DENY).unwrap();
        std::os::unix::fs::symlink("..2026_12_01", dir.path().join("..data")).unwrap();
        std::os::unix::fs::symlink("..data/deny.yaml", dir.path().join("deny.yaml")).unwrap();
        // A link back up the tree is walked once, not forever.
        fs::create_dir(dir.path().join("sub")).unwrap();
        std::os::unix::fs::symlink("..", dir.path().join("sub/up")).unwrap();
        assert_eq!(paths(dir.path()), ["deny.yaml"]);
    }

    #[cfg(unix)]
    #[test]
    fn a_link_out_of_the_directory_is_an_error() {
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("deny.yaml"), DENY).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path().join("deny.yaml"), dir.path().join("deny.yaml")).unwrap();
        let err = load_dir(dir.path()).err().map(|e| e.to_string()).unwrap();
        assert!(err.starts_with("deny.yaml: symbolic link to `"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn a_broken_link_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("missing.yaml", dir.path().join("deny.yaml")).unwrap();
        assert!(matches!(load_dir(dir.path()), Err(StoreError::Io { .. })));
    }
}

/// Why a Cerbos configuration file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file (or a key file it names) could not be read.
    #[error("cannot read `{path}`: {source}")]
    Io {
        /// The path that could not be read.
        path: String,
        /// What the file system said.
        source: std::io::Error,
    },
    /// The file is not YAML, or a section is not as Cerbos reads it (its `auxData`), or a key
    /// has a value `authz serve` cannot honour (see [`crate::cerbos_config`]).
    #[error("{path}: {message}")]
    Invalid {
        /// The configuration file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// The `auxData` section of a Cerbos configuration file (`.cerbos.yaml`) as the bundle source
/// [`authz_engine::AUX_DATA_CONFIG_PATH`]: every key set's `local.file` (relative to the
/// configuration's directory, as Cerbos resolves it from its working directory: give absolute
/// paths to be sure) is read now and carried inline as `local.data`, so the bundle holds its
/// keys and the engine never reads a file.
pub fn cerbos_aux_config(path: &Path) -> Result<Source, ConfigError> {
    use base64::Engine as _;
    let shown = path.display().to_string();
    let invalid = |message: String| ConfigError::Invalid { path: shown.clone(), message };
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io { path: shown.clone(), source })?;
    // `${VAR}` and `${VAR:default}`, as Cerbos expands its configuration.
    let text = crate::cerbos_config::expand_env(&text, |v| std::env::var(v).ok());
    let mut config: serde_yaml::Value = serde_yaml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    let Some(aux) = config.get_mut("auxData") else {
        return Err(invalid("no `auxData` section (JWT key sets are configured under auxData.jwt.keySets)".into()));
    };
    let base = path.parent().unwrap_or(Path::new("."));
    let sets = aux.get_mut("jwt").and_then(|j| j.get_mut("keySets")).and_then(|k| k.as_sequence_mut());
    for ks in sets.into_iter().flatten() {
        let Some(local) = ks.get_mut("local").and_then(|l| l.as_mapping_mut()) else { continue };
        let Some(file) = local.remove("file") else { continue };
        let Some(file) = file.as_str() else {
            return Err(invalid("auxData.jwt.keySets[].local.file is not a path".into()));
        };
        let key_path = base.join(file);
        let bytes = std::fs::read(&key_path)
            .map_err(|source| ConfigError::Io { path: key_path.display().to_string(), source })?;
        if local.contains_key("data") {
            return Err(invalid("only one of 'local.data' or 'local.file' must be defined".into()));
        }
        local.insert("data".into(), base64::engine::general_purpose::STANDARD.encode(bytes).into());
    }
    let section = serde_yaml::to_string(aux).map_err(|e| invalid(e.to_string()))?;
    let source = Source::new(authz_engine::AUX_DATA_CONFIG_PATH, section);
    // Checked here, so that a mistake is reported in the user's file (at the key set it names)
    // rather than at the bundle's own copy of the section.
    if let Err(errors) = authz_engine::Bundle::build(vec![source.clone()], None) {
        let messages: Vec<&str> = errors.errors().iter().map(|e| e.message()).collect();
        let line = messages.first().map_or(1, |m| key_set_line(&text, m));
        return Err(ConfigError::Invalid { path: format!("{shown}:{line}"), message: messages.join("; ") });
    }
    Ok(source)
}

/// The line (1-based) of `text` where the key set a message names (`keyset 'ID': ...`) is
/// declared (`id: ID`), else the `auxData:` line.
fn key_set_line(text: &str, message: &str) -> usize {
    let named = message.split("keyset '").nth(1).and_then(|rest| rest.split('\'').next());
    let declares = |line: &str, id: &str| {
        let line = line.trim_start().trim_start_matches("- ").trim_start();
        line.strip_prefix("id:").is_some_and(|v| v.trim().trim_matches(|c| c == '"' || c == '\'') == id)
    };
    let found = named.and_then(|id| text.lines().position(|l| declares(l, id)));
    let found = found.or_else(|| text.lines().position(|l| l.trim_start().starts_with("auxData:")));
    found.map_or(1, |i| i + 1)
}
