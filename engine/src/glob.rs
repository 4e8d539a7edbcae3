//! Glob matching for actions, resource kinds and roles, as Cerbos does it:
//! `*` alone matches everything; otherwise `*` matches within one `:`-separated
//! segment and `**` across segments.

use serde::{Deserialize, Serialize};

/// A compiled glob pattern.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) struct Glob {
    pattern: String,
    literal: bool,
}

impl Glob {
    /// Compiles `pattern`.
    pub(crate) fn new(pattern: &str) -> Self {
        Glob { pattern: pattern.to_string(), literal: !pattern.contains(['*', '?']) }
    }

    /// The pattern when it has no wildcard.
    pub(crate) fn literal(&self) -> Option<&str> {
        self.literal.then_some(self.pattern.as_str())
    }

    /// Whether `text` matches.
    pub(crate) fn matches(&self, text: &str) -> bool {
        if self.literal {
            return self.pattern == text;
        }
        if self.pattern == "*" {
            return true;
        }
        match_from(self.pattern.as_bytes(), text.as_bytes())
    }
}

fn match_from(p: &[u8], t: &[u8]) -> bool {
    match p.split_first() {
        None => t.is_empty(),
        Some((b'*', rest)) => {
            let (cross, rest) = match rest.split_first() {
                Some((b'*', r)) => (true, r),
                _ => (false, rest),
            };
            for i in 0..=t.len() {
                if let Some(tail) = t.get(i..) {
                    if match_from(rest, tail) {
                        return true;
                    }
                }
                if !cross && t.get(i) == Some(&b':') {
                    return false;
                }
            }
            false
        }
        Some((b'?', rest)) => match t.split_first() {
            Some((c, tail)) if *c != b':' => match_from(rest, tail),
            _ => false,
        },
        Some((c, rest)) => match t.split_first() {
            Some((d, tail)) if c == d => match_from(rest, tail),
            _ => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::Glob;

    #[test]
    fn segments() {
        assert!(Glob::new("*").matches("view:public"));
        assert!(Glob::new("view:*").matches("view:public"));
        assert!(!Glob::new("view:*").matches("view:public:x"));
        assert!(Glob::new("view:**").matches("view:public:x"));
        assert!(!Glob::new("view:*").matches("edit:public"));
        assert!(!Glob::new("view").matches("view:public"));
        assert!(Glob::new("a?c").matches("abc"));
        assert!(Glob::new("arn:aws:sns:*:*:topic-*").matches("arn:aws:sns:us-east-1:1:topic-a"));
    }
}
