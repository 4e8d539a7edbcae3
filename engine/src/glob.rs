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

/// Runs the pattern as an automaton over the text: the set of pattern positions reached so
/// far, advanced one text byte at a time. Time is O(pattern × text) whatever the pattern (a
/// backtracking matcher takes exponential time on `*a*a*a…b`).
fn match_from(p: &[u8], t: &[u8]) -> bool {
    #[derive(Clone, Copy, PartialEq)]
    enum Tok {
        Byte(u8),
        One,
        Star,
        DoubleStar,
    }
    let mut toks = Vec::with_capacity(p.len());
    let mut i = 0;
    while let Some(&c) = p.get(i) {
        toks.push(match c {
            b'*' if p.get(i + 1) == Some(&b'*') => {
                i += 1;
                Tok::DoubleStar
            }
            b'*' => Tok::Star,
            b'?' => Tok::One,
            c => Tok::Byte(c),
        });
        i += 1;
    }
    // active[k]: the first k tokens match the text read so far.
    let mut active = vec![false; toks.len() + 1];
    let mut next = vec![false; toks.len() + 1];
    let close = |set: &mut Vec<bool>| {
        for k in 0..toks.len() {
            if set.get(k) == Some(&true) && matches!(toks.get(k), Some(Tok::Star | Tok::DoubleStar)) {
                if let Some(s) = set.get_mut(k + 1) {
                    *s = true;
                }
            }
        }
    };
    if let Some(s) = active.first_mut() {
        *s = true;
    }
    close(&mut active);
    for &c in t {
        next.iter_mut().for_each(|s| *s = false);
        for (k, tok) in toks.iter().enumerate() {
            if active.get(k) != Some(&true) {
                continue;
            }
            let to = match tok {
                Tok::Byte(b) if *b == c => Some(k + 1),
                Tok::One if c != b':' => Some(k + 1),
                Tok::Star if c != b':' => Some(k),
                Tok::DoubleStar => Some(k),
                _ => None,
            };
            if let Some(s) = to.and_then(|to| next.get_mut(to)) {
                *s = true;
            }
        }
        close(&mut next);
        std::mem::swap(&mut active, &mut next);
        if !active.contains(&true) {
            return false;
        }
    }
    active.last() == Some(&true)
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
        assert!(Glob::new("a**").matches("a:b:c"));
        assert!(Glob::new("**:c").matches("a:b:c"));
        assert!(!Glob::new("*:c").matches("a:b:c"));
        assert!(Glob::new("a*?").matches("ab"));
        assert!(!Glob::new("a?").matches("a:"));
        assert!(Glob::new("a*b*").matches("axxbyy"));
        assert!(!Glob::new("").matches("a"));
    }

    /// `**a**a…b` against `aaa…a` made the backtracking matcher run for minutes: each `**`
    /// multiplied the ways to split the text. The automaton's work is pattern × text.
    #[test]
    fn hostile_patterns_match_in_polynomial_time() {
        let pattern = format!("{}b", "**a".repeat(30));
        let text = "a".repeat(60);
        assert!(!Glob::new(&pattern).matches(&text));
        assert!(Glob::new(&pattern).matches(&format!("{text}b")));
        let pattern = format!("{}b", "*a".repeat(30));
        assert!(!Glob::new(&pattern).matches(&text));
    }
}
