//! JSON read the strict way: one value, nothing after it, and no key twice in an object.
//! `serde_json` keeps the last of two equal keys; a proxy or WAF in front of the PDP may read
//! the first (`"cerbos.roles": ["user"], "cerbos.roles": ["admin"]`), so a duplicate is refused
//! rather than resolved either way.

use crate::error::RequestError;
use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;

/// Parses `text` as one JSON value with nothing after it and no key twice in any of its
/// objects; the error names the path of the duplicate (`$.principal.attr.role`). One pass,
/// each key looked up once in the object being built.
pub fn value(text: &str) -> Result<serde_json::Value, RequestError> {
    let path = RefCell::new(Vec::new());
    let mut de = serde_json::Deserializer::from_str(text);
    let result = Build { path: &path }.deserialize(&mut de).and_then(|v| de.end().map(|()| v));
    result.map_err(|e| {
        let message = e.to_string();
        let message = message.split(" at line ").next().unwrap_or(&message).to_string();
        RequestError::Invalid { path: render(&path.borrow()), message }
    })
}

enum Seg<'de> {
    Key(Cow<'de, str>),
    Index(usize),
}

/// The path, from segments pushed innermost first (see [`Build`]).
fn render(path: &[Seg<'_>]) -> String {
    let mut out = String::from("$");
    for seg in path.iter().rev() {
        match seg {
            Seg::Key(k) if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
                out.push('.');
                out.push_str(k);
            }
            Seg::Key(k) => out.push_str(&format!("[{}]", serde_json::Value::from(k.as_ref()))),
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// A value anywhere in the document, built as it is read. `path` stays empty while all is
/// well: when a value fails, each container it is in pushes its own key or index as the error
/// passes through it, so the path costs nothing on the way to a valid document.
struct Build<'p, 'de> {
    path: &'p RefCell<Vec<Seg<'de>>>,
}

impl<'de> DeserializeSeed<'de> for Build<'_, 'de> {
    type Value = serde_json::Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Build<'_, 'de> {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Self::Value, E> {
        Ok(b.into())
    }
    fn visit_i64<E>(self, n: i64) -> Result<Self::Value, E> {
        Ok(n.into())
    }
    fn visit_u64<E>(self, n: u64) -> Result<Self::Value, E> {
        Ok(n.into())
    }
    fn visit_f64<E>(self, n: f64) -> Result<Self::Value, E> {
        Ok(serde_json::Number::from_f64(n).map_or(serde_json::Value::Null, serde_json::Value::Number))
    }
    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok(s.into())
    }
    fn visit_string<E>(self, s: String) -> Result<Self::Value, E> {
        Ok(s.into())
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        loop {
            match seq.next_element_seed(Build { path: self.path }) {
                Ok(Some(v)) => out.push(v),
                Ok(None) => return Ok(serde_json::Value::Array(out)),
                Err(e) => {
                    self.path.borrow_mut().push(Seg::Index(out.len()));
                    return Err(e);
                }
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(key) = map.next_key_seed(Key)? {
            // One lookup per key. A duplicate is refused from inside its value, so that a
            // path-tracking deserializer around this one (`serde_path_to_error`) names the key.
            let result = match out.entry(key.as_ref()) {
                serde_json::map::Entry::Vacant(slot) => map.next_value_seed(Build { path: self.path }).map(|v| {
                    slot.insert(v);
                }),
                serde_json::map::Entry::Occupied(_) => map.next_value_seed(Refuse(&key)),
            };
            if let Err(e) = result {
                self.path.borrow_mut().push(Seg::Key(key));
                return Err(e);
            }
        }
        Ok(serde_json::Value::Object(out))
    }
}

/// `deserialize_with` for the object fields of request types (`attr`, `globals`, `auxData`'s
/// maps): a key given twice is refused while the map is built. With `serde_path_to_error` the
/// error's path names the duplicate key.
pub(crate) fn strict_object<'de, D: Deserializer<'de>>(d: D) -> Result<crate::model::Attributes, D::Error> {
    let path = RefCell::new(Vec::new());
    d.deserialize_map(Object(Build { path: &path }))
}

/// [`strict_object`] for an optional field.
pub(crate) fn strict_object_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<crate::model::Attributes>, D::Error> {
    strict_object(d).map(Some)
}

/// An object, and nothing else, built as [`Build`] builds one.
struct Object<'p, 'de>(Build<'p, 'de>);

impl<'de> Visitor<'de> for Object<'_, 'de> {
    type Value = crate::model::Attributes;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        match self.0.visit_map(map)? {
            serde_json::Value::Object(m) => Ok(m),
            _ => Err(A::Error::custom("expected a map")),
        }
    }
}

/// The value of a key given twice: refused.
struct Refuse<'k>(&'k str);

impl<'de> DeserializeSeed<'de> for Refuse<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, _: D) -> Result<(), D::Error> {
        Err(D::Error::custom(format!("duplicate key `{}`", self.0)))
    }
}

/// An object's key, borrowed from the text unless it has escapes.
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(s))
    }
    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::value;

    fn err(text: &str) -> String {
        value(text).err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn duplicates_are_refused_with_their_path() {
        assert_eq!(
            err(r#"{"principal":{"attr":{"x":1,"x":2}}}"#),
            "invalid request at `$.principal.attr.x`: duplicate key `x`"
        );
        assert_eq!(
            err(r#"{"a":[{}, {"cerbos.roles":["u"],"cerbos.roles":["admin"]}]}"#),
            r#"invalid request at `$.a[1]["cerbos.roles"]`: duplicate key `cerbos.roles`"#
        );
        // An escaped spelling of the same key is the same key.
        assert!(err(r#"{"id":1,"\u0069d":2}"#).contains("duplicate key `id`"));
        let many = (0..40).map(|i| format!("\"k{i}\":{i}")).collect::<Vec<_>>().join(",");
        assert!(err(&format!("{{{many},\"k7\":0}}")).contains("duplicate key `k7`"));
    }

    #[test]
    fn values_are_built_as_serde_json_builds_them_or_refused_alike() {
        for text in [r#"{"a":[1,-2,3.5,"x",null,true,{"b":{}}],"c":"\u00e9"}"#, "[]", "1e400", "\"s\""] {
            let strict = value(text).ok();
            let plain: Option<serde_json::Value> = serde_json::from_str(text).ok();
            assert_eq!(strict, plain, "{text}");
        }
        let e = value(r#"{"p":{"roles":["u"],"roles":["admin"]}}"#).err().map(|e| e.to_string());
        assert_eq!(e.as_deref(), Some("invalid request at `$.p.roles`: duplicate key `roles`"));
        assert!(value("{} x").is_err());
    }

    #[test]
    fn one_value_and_nothing_after_it() {
        assert!(err("{} {}").contains("trailing characters"));
        assert!(err("{}\u{0}").contains("trailing characters"));
        assert!(value("  {\"a\": [1, {\"b\": null}]}\n").is_ok());
    }
}
