//! RE2's case-insensitive matching on top of `regex-lite`, whose `(?i)` folds ASCII letters
//! only. RE2 (cel-go, so Cerbos) folds by Unicode simple case folding, under which exactly two
//! non-ASCII characters fold to ASCII letters: KELVIN SIGN (U+212A, to `k`) and LATIN SMALL
//! LETTER LONG S (U+017F, to `s`). A pattern under a leading `(?i)` is rewritten so that they
//! match where RE2 matches them; what cannot be rewritten exactly (a non-ASCII letter, `(?i)`
//! after the start, a `\x` escape) is refused, so a case-insensitive DENY never misses silently.

use std::borrow::Cow;

const KELVIN: char = '\u{212A}';
const LONG_S: char = '\u{017F}';

/// `re` rewritten for `regex-lite` with RE2's meaning, or why it cannot be.
pub(super) fn translate(re: &str) -> Result<Cow<'_, str>, String> {
    let Some(body) = leading_fold_flags(re) else {
        if has_fold_flag(re) {
            return Err(unsupported("`(?i)` anywhere but at the start of the pattern"));
        }
        return Ok(Cow::Borrowed(re));
    };
    let head = re.get(..re.len() - body.len()).unwrap_or_default();
    let mut out = String::with_capacity(re.len() + 16);
    out.push_str(head);
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('w') => out.push_str(&format!("[\\w{KELVIN}{LONG_S}]")),
                Some('W') => out.push_str(&format!("[^\\w{KELVIN}{LONG_S}]")),
                Some('x' | 'p' | 'P') => return Err(unsupported("`\\x` and `\\p` escapes under `(?i)`")),
                Some(e) => {
                    out.push('\\');
                    out.push(e);
                }
                None => out.push('\\'),
            },
            '(' if chars.peek() == Some(&'?') => {
                // A group's header: flags (already checked to hold no `i`) or a name.
                out.push(c);
                for h in chars.by_ref() {
                    out.push(h);
                    if matches!(h, ')' | ':' | '>') {
                        break;
                    }
                }
            }
            '{' => {
                out.push(c);
                for h in chars.by_ref() {
                    out.push(h);
                    if h == '}' {
                        break;
                    }
                }
            }
            '[' => class(&mut chars, &mut out)?,
            'k' | 'K' => out.push_str(&format!("[kK{KELVIN}]")),
            's' | 'S' => out.push_str(&format!("[sS{LONG_S}]")),
            c => {
                cased_ascii_only(c)?;
                out.push(c);
            }
        }
    }
    Ok(Cow::Owned(out))
}

/// Copies a character class (after its `[`), adding the two folding characters to it where
/// it holds their ASCII partners: RE2 folds a class before negating it.
fn class(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, out: &mut String) -> Result<(), String> {
    out.push('[');
    let (mut kelvin, mut long_s) = (false, false);
    let mut first = true;
    let mut prev: Option<char> = None;
    loop {
        let Some(c) = chars.next() else { return Err("unclosed character class".to_string()) };
        match c {
            '^' if first => {
                out.push(c);
                continue;
            }
            ']' if !first => break,
            '[' if chars.peek() == Some(&':') => {
                // A POSIX class: `[:alpha:]`.
                let mut name = String::new();
                for h in chars.by_ref() {
                    name.push(h);
                    if name.ends_with(":]") {
                        break;
                    }
                }
                let letters = ["alpha", "alnum", "word", "lower", "upper"].iter().any(|n| name.contains(n));
                kelvin |= letters;
                long_s |= letters;
                out.push('[');
                out.push_str(&name);
                prev = None;
            }
            '\\' => match chars.next() {
                Some('w') => {
                    (kelvin, long_s) = (true, true);
                    out.push_str("\\w");
                    prev = None;
                }
                Some('W' | 'x' | 'p' | 'P') => {
                    return Err(unsupported("`\\W`, `\\x` and `\\p` inside a class under `(?i)`"))
                }
                Some(e) => {
                    out.push('\\');
                    out.push(e);
                    prev = (!e.is_ascii_alphanumeric()).then_some(e);
                }
                None => return Err("trailing `\\`".to_string()),
            },
            '-' if prev.is_some() && chars.peek().is_some_and(|n| *n != ']') => {
                let lo = prev.take().unwrap_or(c);
                let (hi, escaped) = match chars.next() {
                    Some('\\') => (chars.next().unwrap_or('\\'), true),
                    Some(h) => (h, false),
                    None => return Err("unclosed character class".to_string()),
                };
                if !lo.is_ascii() || !hi.is_ascii() {
                    return Err(unsupported("a range with a non-ASCII end under `(?i)`"));
                }
                let covers = |a: char, b: char| (lo..=hi).contains(&a) || (lo..=hi).contains(&b);
                kelvin |= covers('k', 'K');
                long_s |= covers('s', 'S');
                out.push('-');
                if escaped {
                    out.push('\\');
                }
                out.push(hi);
            }
            c => {
                cased_ascii_only(c)?;
                kelvin |= matches!(c, 'k' | 'K');
                long_s |= matches!(c, 's' | 'S');
                out.push(c);
                prev = Some(c);
            }
        }
        first = false;
    }
    if kelvin {
        out.push(KELVIN);
    }
    if long_s {
        out.push(LONG_S);
    }
    out.push(']');
    Ok(())
}

/// The pattern after a leading flag group that turns case folding on (`(?i)`, `(?is)`, …).
fn leading_fold_flags(re: &str) -> Option<&str> {
    let rest = re.strip_prefix("(?")?;
    let end = rest.find(')')?;
    let flags = rest.get(..end)?;
    let body = rest.get(end + 1..)?;
    (flags.contains('i') && flags.chars().all(|f| f.is_ascii_alphabetic()) && !has_fold_flag(body)).then_some(body)
}

/// Whether a flag group in `re` sets or clears `i`.
fn has_fold_flag(re: &str) -> bool {
    re.match_indices("(?").any(|(i, _)| {
        let flags = re.get(i + 2..).unwrap_or_default();
        let flags = flags.split([')', ':']).next().unwrap_or_default();
        flags.contains('i') && flags.chars().all(|f| f.is_ascii_alphabetic() || f == '-')
    })
}

/// Refuses a non-ASCII character that has another case: `regex-lite` would not fold it.
fn cased_ascii_only(c: char) -> Result<(), String> {
    let cased = !c.is_ascii() && (c.to_lowercase().ne(std::iter::once(c)) || c.to_uppercase().ne(std::iter::once(c)));
    if cased {
        Err(unsupported(&format!("the non-ASCII letter `{c}` under `(?i)`")))
    } else {
        Ok(())
    }
}

fn unsupported(what: &str) -> String {
    format!("case-insensitive matching of {what} is not supported (it would not fold as RE2 does)")
}

#[cfg(test)]
mod tests {
    use super::translate;

    fn is_match(re: &str, text: &str) -> bool {
        let re = translate(re).unwrap();
        regex_lite::Regex::new(&re).unwrap().is_match(text)
    }

    #[test]
    fn kelvin_and_long_s_fold_as_in_re2() {
        assert!(is_match("(?i)^k$", "\u{212A}"));
        assert!(is_match("(?i)^MASK$", "ma\u{17F}\u{212A}"));
        assert!(is_match("(?i)^[a-z]+$", "\u{212A}\u{17F}"));
        assert!(is_match("(?i)^\\w+$", "\u{212A}"));
        assert!(is_match("(?i)^[[:alpha:]]$", "\u{17F}"));
        assert!(!is_match("(?i)^[^k]$", "\u{212A}"));
        assert!(!is_match("(?i)^\\W$", "\u{17F}"));
        assert!(!is_match("(?i)^[a-j]$", "\u{212A}"));
        // Without (?i) nothing changes.
        assert!(!is_match("^k$", "\u{212A}"));
        assert!(!is_match("^k$", "K"));
    }

    #[test]
    fn the_rest_of_the_pattern_is_kept() {
        assert!(is_match("(?i)^(?P<sk>ks){2}[-.s]x$", "KSks.X"));
        assert!(is_match("(?is)^a.b$", "A\nB"));
        assert!(!is_match("(?i)^a{2}$", "a"));
    }

    #[test]
    fn what_cannot_fold_as_in_re2_is_refused() {
        for re in ["(?i)caf\u{e9}", "a(?i)b", "(?i:a)", "(?i)\\x4B", "(?i)[\u{e0}-\u{ff}]", "(?i)[\\W]", "(?-i)a"] {
            assert!(translate(re).is_err(), "{re}");
        }
        assert!(translate("caf\u{e9}").is_ok());
    }
}
