//! Turning policy source text into [`PolicyDoc`]s with locations.

use crate::error::{BuildError, Location};
use crate::policy::PolicyDoc;

/// A policy source file: its path relative to the policy directory and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    path: String,
    text: String,
}

impl Source {
    /// A source file.
    pub fn new(path: impl Into<String>, text: impl Into<String>) -> Self {
        Source { path: path.into(), text: text.into() }
    }

    /// Path relative to the policy directory.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Contents.
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// One parsed document and where its text starts.
#[derive(Debug, Clone)]
pub(crate) struct ParsedDoc {
    pub(crate) doc: PolicyDoc,
    pub(crate) file: String,
    /// 0-based line of the document's first line in the file.
    pub(crate) first_line: usize,
    pub(crate) text: String,
}

impl ParsedDoc {
    /// The location of the first line of the document containing `needle`
    /// (as a whole word where possible), or of the document itself.
    pub(crate) fn locate(&self, needle: &str) -> Location {
        locate_in(&self.file, &self.text, self.first_line, needle)
    }

    /// The location of `needle` searched after the first occurrence of `anchor`.
    pub(crate) fn locate_after(&self, anchor: &str, needle: &str) -> Location {
        let start = find_word(&self.text, anchor).unwrap_or(0);
        let rest = self.text.get(start..).unwrap_or_default();
        let skipped = self.text.get(..start).unwrap_or_default().matches('\n').count();
        locate_in(&self.file, rest, self.first_line + skipped, needle)
    }
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn find_word(text: &str, needle: &str) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    let mut from = 0;
    while let Some(i) = text.get(from..).and_then(|t| t.find(needle)).map(|i| i + from) {
        let before = text.get(..i).and_then(|t| t.chars().next_back());
        let after = text.get(i + needle.len()..).and_then(|t| t.chars().next());
        if !before.is_some_and(is_word) && !after.is_some_and(is_word) {
            return Some(i);
        }
        from = i + needle.len();
    }
    text.find(needle)
}

fn locate_in(file: &str, text: &str, first_line: usize, needle: &str) -> Location {
    match find_word(text, needle) {
        Some(i) => {
            let before = text.get(..i).unwrap_or_default();
            let line = before.matches('\n').count();
            let col = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0);
            Location::new(file, first_line + line + 1, col + 1)
        }
        None => Location::new(file, first_line + 1, 1),
    }
}

/// Whether the path names a policy file (YAML or JSON), not a test suite or fixture.
pub fn is_policy_path(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    let name = lower.rsplit('/').next().unwrap_or(&lower);
    let is_data = [".yaml", ".yml", ".json"].iter().any(|e| name.ends_with(e));
    let hidden = lower.split('/').any(|seg| seg.starts_with('.'));
    let in_special = lower.split('/').any(|seg| seg == "testdata" || seg == "_schemas");
    let is_test = ["_test.yaml", "_test.yml", "_test.json"].iter().any(|e| name.ends_with(e));
    is_data && !hidden && !in_special && !is_test
}

/// Splits YAML text into documents: (0-based first line, text).
fn split_yaml(text: &str) -> Vec<(usize, String)> {
    let mut docs = Vec::new();
    let mut current = String::new();
    let mut start = 0;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_end();
        if trimmed == "---" || trimmed.starts_with("--- ") || trimmed == "..." {
            docs.push((start, std::mem::take(&mut current)));
            start = i + 1;
            continue;
        }
        current.push_str(line);
        current.push('\n');
    }
    docs.push((start, current));
    docs.into_iter()
        .filter(|(_, d)| d.lines().any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#')))
        .collect()
}

/// Deepest `[`/`{` nesting accepted in a policy file. The YAML parser's time grows faster
/// than the input with nesting (100,000 levels took 37 s), so deeper text is refused before
/// parsing. Brackets are counted wherever they are, quoted or not: no policy comes near.
const MAX_NESTING: usize = 64;

/// Where the text first nests brackets deeper than [`MAX_NESTING`] (1-based line, column).
fn too_deep(text: &str) -> Option<(usize, usize)> {
    let (mut depth, mut line, mut col) = (0usize, 1, 0);
    for c in text.chars() {
        col += 1;
        match c {
            '\n' => (line, col) = (line + 1, 0),
            '[' | '{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some((line, col));
                }
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// Parses every policy document in a source file.
pub(crate) fn parse(source: &Source) -> Result<Vec<ParsedDoc>, Vec<BuildError>> {
    let path = source.path();
    if let Some((line, col)) = too_deep(source.text()) {
        return Err(vec![BuildError::new(
            Location::new(path, line, col),
            format!("brackets nest more than {MAX_NESTING} levels deep"),
        )]);
    }
    if path.to_ascii_lowercase().ends_with(".json") {
        return serde_json::from_str::<PolicyDoc>(source.text())
            .map(|doc| vec![ParsedDoc { doc, file: path.to_string(), first_line: 0, text: source.text().to_string() }])
            .map_err(|e| {
                vec![BuildError::new(Location::new(path, e.line(), e.column()), format!("invalid policy: {e}"))]
            });
    }
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    for (first_line, text) in split_yaml(source.text()) {
        match serde_yaml::from_str::<PolicyDoc>(&text) {
            Ok(doc) => docs.push(ParsedDoc { doc, file: path.to_string(), first_line, text }),
            Err(e) => {
                let (line, col) = e.location().map(|l| (l.line(), l.column())).unwrap_or((1, 1));
                let msg = e.to_string();
                let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
                errors.push(
                    BuildError::new(Location::new(path, first_line + line, col), format!("invalid policy: {msg}"))
                        .with_hint("check the field names and types against the Cerbos policy schema"),
                );
            }
        }
    }
    if errors.is_empty() {
        Ok(docs)
    } else {
        Err(errors)
    }
}
