//! Reading a policy directory from disk into engine [`Source`]s.

use authz_engine::Source;
use std::path::Path;

/// Why a directory could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read `{path}`: {source}")]
pub struct StoreError {
    path: String,
    source: std::io::Error,
}

/// Every regular file below `dir` (following no symlinks out of it), with paths
/// relative to `dir` using `/`, sorted. Binary files are skipped.
pub fn load_dir(dir: &Path) -> Result<Vec<Source>, StoreError> {
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    out.sort_by(|a, b| a.path().cmp(b.path()));
    Ok(out)
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<Source>) -> Result<(), StoreError> {
    let err = |p: &Path| {
        let path = p.display().to_string();
        move |source| StoreError { path, source }
    };
    for entry in std::fs::read_dir(dir).map_err(err(dir))? {
        let entry = entry.map_err(err(dir))?;
        let path = entry.path();
        let ty = entry.file_type().map_err(err(&path))?;
        if ty.is_dir() {
            walk(root, &path, out)?;
        } else if ty.is_file() {
            let rel = path.strip_prefix(root).unwrap_or(&path);
            let rel = rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
            match std::fs::read(&path) {
                Ok(bytes) => {
                    if let Ok(text) = String::from_utf8(bytes) {
                        out.push(Source::new(rel, text));
                    }
                }
                Err(e) => return Err(err(&path)(e)),
            }
        }
    }
    Ok(())
}
