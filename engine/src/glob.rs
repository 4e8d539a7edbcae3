//! Glob matching for actions, resource kinds and roles, as Cerbos does it:
//! `*` alone matches everything; otherwise `*` matches within one `:`-separated
//! segment and `**` across segments.

use crate::bits::Bits;
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
/// far (byte offsets where a token starts), advanced one text byte at a time. Time is
/// O(pattern × text) whatever the pattern (a backtracking matcher takes exponential time on
/// `*a*a*a…b`); nothing is allocated for patterns under 64 bytes.
fn match_from(p: &[u8], t: &[u8]) -> bool {
    #[derive(Clone, Copy)]
    enum Tok {
        Byte(u8),
        One,
        Star,
        StarStar,
    }
    // The token starting at offset `k`, and where the next one starts.
    let token = |k: usize| -> Option<(Tok, usize)> {
        match (p.get(k)?, p.get(k + 1)) {
            (b'*', Some(b'*')) => Some((Tok::StarStar, k + 2)),
            (b'*', _) => Some((Tok::Star, k + 1)),
            (b'?', _) => Some((Tok::One, k + 1)),
            (c, _) => Some((Tok::Byte(*c), k + 1)),
        }
    };
    // A star may match nothing: the position after it is reached with it.
    let close = |set: &mut Bits| {
        for k in 0..p.len() {
            if let Some((Tok::Star | Tok::StarStar, next)) = token(k).filter(|_| set.get(k)) {
                set.set(next);
            }
        }
    };
    let mut active = Bits::new(p.len() + 1);
    let mut next = Bits::new(p.len() + 1);
    active.set(0);
    close(&mut active);
    for &c in t {
        next.clear();
        for k in 0..p.len() {
            let Some((tok, after)) = token(k).filter(|_| active.get(k)) else { continue };
            match tok {
                Tok::StarStar => next.set(k),
                Tok::Star if c != b':' => next.set(k),
                Tok::One if c != b':' => next.set(after),
                Tok::Byte(b) if b == c => next.set(after),
                _ => {}
            }
        }
        close(&mut next);
        std::mem::swap(&mut active, &mut next);
        if !active.any() {
            return false;
        }
    }
    active.get(p.len())
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
