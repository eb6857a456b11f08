//! Canonical JSON exactly as securesystemslib's `encode_canonical` writes it,
//! and a strict JSON reader that refuses duplicate object keys.
//!
//! The encoding: object keys sorted by Unicode code point, no whitespace,
//! strings written raw except that `\` and `"` are backslash-escaped,
//! integers in decimal, `true`/`false`/`null`. Floats cannot be encoded
//! exactly and are refused rather than rounded.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::fmt;

/// Why a value could not be written as canonical JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    /// A number that is not an integer in the signed or unsigned 64-bit range
    /// (JSON floats, and integers too large to have been read exactly).
    #[error("number {0} is not an integer that canonical JSON can encode exactly")]
    NotAnInteger(String),
}

/// Encodes `value` as canonical JSON bytes.
pub fn to_canonical_bytes(value: &Value) -> Result<Vec<u8>, CanonicalError> {
    let mut out = Vec::with_capacity(256);
    write_value(value, &mut out, false)?;
    Ok(out)
}

/// One line of a log (transcript, audit log): canonical JSON as
/// [`to_canonical_bytes`] writes it, except that control characters in
/// strings (U+0000 to U+001F and U+007F) are written as `\u00XX`. A log
/// line then never holds a raw newline or terminal escape, and whatever
/// text a record carries reads back exactly. For text without control
/// characters the two encodings are the same bytes.
pub fn to_log_line(value: &Value) -> Result<Vec<u8>, CanonicalError> {
    let mut out = Vec::with_capacity(256);
    write_value(value, &mut out, true)?;
    Ok(out)
}

/// Appends `value` to `out` as [`to_log_line`] writes it.
pub(crate) fn write_log_value(value: &Value, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    write_value(value, out, true)
}

/// Appends the string `s` to `out` as [`to_log_line`] writes it.
pub(crate) fn write_log_string(s: &str, out: &mut Vec<u8>) {
    write_string(s, out, true)
}

fn write_value(value: &Value, out: &mut Vec<u8>, log: bool) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(n, out)?,
        Value::String(s) => write_string(s, out, log),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out, log)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            // Sort explicitly: serde_json's map order depends on a cargo feature
            // some other crate in the build could switch on. `str` ordering is
            // byte order of UTF-8, which equals code point order.
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(k, out, log);
                out.push(b':');
                write_value(v, out, log)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn write_number(n: &Number, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    if let Some(i) = n.as_i64() {
        out.extend_from_slice(i.to_string().as_bytes());
    } else if let Some(u) = n.as_u64() {
        out.extend_from_slice(u.to_string().as_bytes());
    } else {
        return Err(CanonicalError::NotAnInteger(n.to_string()));
    }
    Ok(())
}

/// `s` as a JSON string: canonical JSON escapes only `"` and `\\`; the log
/// form (`log`) also escapes control characters.
pub(crate) fn write_string(s: &str, out: &mut Vec<u8>, log: bool) {
    out.push(b'"');
    for b in s.bytes() {
        if log && (b < 0x20 || b == 0x7f) {
            out.extend_from_slice(format!("\\u{b:04x}").as_bytes());
            continue;
        }
        if b == b'\\' || b == b'"' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// A JSON value read strictly (as [`parse_strict`]: a duplicate key is
/// refused with the same error, at the same point) and written straight out
/// as canonical JSON, without building a [`Value`] tree: for a targets role
/// of many thousand targets the tree costs several times the bytes.
///
/// A number canonical JSON cannot encode does not stop the reading (a JSON
/// error found later must still win); it is noted in `err`, first in
/// document order.
pub(crate) struct CanonicalSeed<'a> {
    /// Where the canonical bytes go.
    pub out: &'a mut Vec<u8>,
    /// The first number that could not be encoded.
    pub err: &'a mut Option<CanonicalError>,
}

impl<'de> de::DeserializeSeed<'de> for CanonicalSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for CanonicalSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.out.extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }
    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        self.out.extend_from_slice(v.to_string().as_bytes());
        Ok(())
    }
    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        self.out.extend_from_slice(v.to_string().as_bytes());
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        let n = Number::from_f64(v).ok_or_else(|| E::custom("non-finite number"))?;
        if self.err.is_none() {
            *self.err = Some(CanonicalError::NotAnInteger(n.to_string()));
        }
        Ok(())
    }
    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        write_string(v, self.out, false);
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.out.push(b'[');
        let mut first = true;
        loop {
            let mark = self.out.len();
            if !first {
                self.out.push(b',');
            }
            if seq.next_element_seed(CanonicalSeed { out: &mut *self.out, err: &mut *self.err })?.is_none() {
                self.out.truncate(mark);
                break;
            }
            first = false;
        }
        self.out.push(b']');
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<(), A::Error> {
        let start = self.out.len() + 1;
        self.out.push(b'{');
        // Each member's `"key":value` span in `out`. Members usually come
        // sorted (every canonical or pretty writer sorts); only when they do
        // not is a set needed for duplicates and the object rewritten sorted.
        let mut members: Vec<(String, usize, usize)> = Vec::new();
        let mut seen: Option<std::collections::BTreeSet<String>> = None;
        while let Some(key) = access.next_key::<String>()? {
            if !members.is_empty() {
                self.out.push(b',');
            }
            let from = self.out.len();
            write_string(&key, self.out, false);
            self.out.push(b':');
            access.next_value_seed(CanonicalSeed { out: &mut *self.out, err: &mut *self.err })?;
            let in_order =
                seen.is_none() && members.last().is_none_or(|(k, _, _)| k.as_bytes() < key.as_bytes());
            if !in_order {
                let set = seen.get_or_insert_with(|| members.iter().map(|(k, _, _)| k.clone()).collect());
                if !set.insert(key.clone()) {
                    return Err(de::Error::custom(format!("duplicate key {key:?}")));
                }
            }
            members.push((key, from, self.out.len()));
        }
        if seen.is_some() {
            members.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            let mut body = Vec::with_capacity(self.out.len() - start);
            for (i, (_, from, to)) in members.iter().enumerate() {
                if i > 0 {
                    body.push(b',');
                }
                body.extend_from_slice(&self.out[*from..*to]);
            }
            self.out.truncate(start);
            self.out.extend_from_slice(&body);
        }
        self.out.push(b'}');
        Ok(())
    }
}

/// Reads back what [`to_canonical_bytes`] wrote. Canonical JSON is not
/// always JSON (control characters in strings are written raw), so this is
/// its own small reader: exactly the canonical grammar, nothing looser.
/// Metadata keeps the canonical bytes of `signed` instead of a `Value` tree
/// (a tree costs several times the bytes) and rebuilds the tree from them
/// on the rare occasions it is needed.
pub fn parse_canonical(bytes: &[u8]) -> Result<Value, JsonError> {
    let mut r = CanonicalReader { bytes, pos: 0 };
    let v = r.value(0)?;
    if r.pos != bytes.len() {
        return Err(r.error("trailing bytes"));
    }
    Ok(v)
}

struct CanonicalReader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl CanonicalReader<'_> {
    fn error(&self, what: &str) -> JsonError {
        JsonError(format!("not canonical JSON at byte {}: {what}", self.pos))
    }

    fn eat(&mut self, lit: &[u8]) -> bool {
        if self.bytes[self.pos..].starts_with(lit) {
            self.pos += lit.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, JsonError> {
        // serde_json's own limit: deeper input never got this far.
        if depth > 128 {
            return Err(self.error("nested too deeply"));
        }
        match self.bytes.get(self.pos) {
            Some(b'n') if self.eat(b"null") => Ok(Value::Null),
            Some(b't') if self.eat(b"true") => Ok(Value::Bool(true)),
            Some(b'f') if self.eat(b"false") => Ok(Value::Bool(false)),
            Some(b'"') => self.string().map(Value::String),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b'[') => {
                self.pos += 1;
                let mut items = Vec::new();
                if !self.eat(b"]") {
                    loop {
                        items.push(self.value(depth + 1)?);
                        if self.eat(b"]") {
                            break;
                        }
                        if !self.eat(b",") {
                            return Err(self.error("expected , or ]"));
                        }
                    }
                }
                Ok(Value::Array(items))
            }
            Some(b'{') => {
                self.pos += 1;
                let mut map = Map::new();
                if !self.eat(b"}") {
                    loop {
                        let key = self.string()?;
                        if !self.eat(b":") {
                            return Err(self.error("expected :"));
                        }
                        let v = self.value(depth + 1)?;
                        if map.insert(key, v).is_some() {
                            return Err(self.error("duplicate key"));
                        }
                        if self.eat(b"}") {
                            break;
                        }
                        if !self.eat(b",") {
                            return Err(self.error("expected , or }"));
                        }
                    }
                }
                Ok(Value::Object(map))
            }
            _ => Err(self.error("expected a value")),
        }
    }

    fn string(&mut self) -> Result<String, JsonError> {
        if !self.eat(b"\"") {
            return Err(self.error("expected a string"));
        }
        let mut out = Vec::new();
        loop {
            match self.bytes.get(self.pos) {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    break;
                }
                Some(b'\\') => match self.bytes.get(self.pos + 1) {
                    Some(&c @ (b'\\' | b'"')) => {
                        out.push(c);
                        self.pos += 2;
                    }
                    _ => return Err(self.error("bad escape")),
                },
                Some(&c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
        String::from_utf8(out).map_err(|_| self.error("not UTF-8"))
    }

    fn number(&mut self) -> Result<Value, JsonError> {
        let start = self.pos;
        self.eat(b"-");
        while self.bytes.get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
        let text = std::str::from_utf8(&self.bytes[start..self.pos]).unwrap_or("");
        if let Ok(u) = text.parse::<u64>() {
            return Ok(Value::Number(u.into()));
        }
        text.parse::<i64>().map(|i| Value::Number(i.into())).map_err(|_| self.error("bad integer"))
    }
}

/// Why bytes could not be read as JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JsonError(pub String);

/// Parses JSON, refusing any object that names the same key twice.
///
/// Parsers disagree on which duplicate wins, so a document with duplicates
/// could mean one thing to us and another to a different client.
pub fn parse_strict(bytes: &[u8]) -> Result<Value, JsonError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let v = StrictValue::deserialize(&mut de).map_err(|e| JsonError(e.to_string()))?;
    de.end().map_err(|e| JsonError(e.to_string()))?;
    Ok(v.0)
}

pub(crate) struct StrictValue(pub(crate) Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = StrictValue;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::Number(v.into())))
    }
    fn visit_u64<E>(self, v: u64) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::Number(v.into())))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<StrictValue, E> {
        Number::from_f64(v)
            .map(|n| StrictValue(Value::Number(n)))
            .ok_or_else(|| E::custom("non-finite number"))
    }
    fn visit_str<E>(self, v: &str) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::String(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::String(v)))
    }
    fn visit_unit<E>(self) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::Null))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StrictValue, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictValue(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(StrictValue(Value::Array(items)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<StrictValue, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            let StrictValue(v) = access.next_value()?;
            if map.insert(key.clone(), v).is_some() {
                return Err(de::Error::custom(format!("duplicate key {key:?}")));
            }
        }
        Ok(StrictValue(Value::Object(map)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn enc(v: Value) -> String {
        String::from_utf8(to_canonical_bytes(&v).unwrap()).unwrap()
    }

    #[test]
    fn sorts_and_strips_whitespace() {
        assert_eq!(enc(json!({"b": 1, "a": [true, null, "x"]})), r#"{"a":[true,null,"x"],"b":1}"#);
    }

    #[test]
    fn escapes_only_backslash_and_quote() {
        assert_eq!(enc(json!("a\"b\\c\nd\u{1}é")), "\"a\\\"b\\\\c\nd\u{1}é\"");
    }

    #[test]
    fn sorts_by_code_point_not_utf16() {
        // U+FF5E sorts before U+1F600 by code point, after it in UTF-16 units.
        assert_eq!(enc(json!({"\u{1F600}": 1, "\u{FF5E}": 2})), "{\"\u{FF5E}\":2,\"\u{1F600}\":1}");
    }

    #[test]
    fn refuses_floats() {
        assert!(matches!(to_canonical_bytes(&json!(1.5)), Err(CanonicalError::NotAnInteger(_))));
        let big = parse_strict(b"123456789012345678901234567890").unwrap();
        assert!(matches!(to_canonical_bytes(&big), Err(CanonicalError::NotAnInteger(_))));
    }

    #[test]
    fn integer_extremes() {
        assert_eq!(enc(json!([u64::MAX, i64::MIN, 0])), "[18446744073709551615,-9223372036854775808,0]");
    }

    #[test]
    fn strict_parser_refuses_duplicate_keys() {
        assert!(parse_strict(br#"{"a":1,"a":2}"#).is_err());
        assert!(parse_strict(br#"{"x":{"a":1,"a":1}}"#).is_err());
        assert!(parse_strict(br#"{"a":1} x"#).is_err());
        assert_eq!(parse_strict(br#"{"a":1,"b":{"a":2}}"#).unwrap(), json!({"a":1,"b":{"a":2}}));
    }

    #[test]
    fn canonical_bytes_read_back() {
        let v = json!({"a": [true, false, null, -3, 0, u64::MAX, i64::MIN], "b\"\\": "x\ny\u{1}\"\\é",
                       "c": {}, "d": [], "e": {"f": [{"g": ""}]}});
        assert_eq!(parse_canonical(&to_canonical_bytes(&v).unwrap()).unwrap(), v);
        for bad in
            [&b"{\"a\":1,\"a\":2}"[..], b"{\"a\":1} ", b"[1,]", b"\"\\n\"", b"1.5", b"", b"{\"a\"}", b"\"x"]
        {
            assert!(parse_canonical(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    proptest::proptest! {
        #[test]
        fn parse_of_canonical_is_identity(s in "[\\PC\\n\\t\\u{0}-\\u{1f}]{0,40}", n in proptest::num::i64::ANY) {
            let v = json!({"s": s, "n": n, "l": [s.clone()]});
            let bytes = to_canonical_bytes(&v).unwrap();
            let back = parse_strict(&bytes);
            // Raw control characters are not valid JSON, so the canonical form
            // of such a string is (as in securesystemslib) not parseable JSON.
            if s.chars().all(|c| c >= ' ') {
                proptest::prop_assert_eq!(back.unwrap(), v.clone());
            }
            // Its own reader always reads it back.
            proptest::prop_assert_eq!(parse_canonical(&bytes).unwrap(), v);
        }
    }
}
