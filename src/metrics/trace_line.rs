//! One message line of a run's trace (`trace.jsonl`): what the connection model writes for
//! every delivered segment ([`crate::net`]) and what sequence charts read
//! ([`crate::metrics::sequence`]). Audit lines (`{"time_ns", "audit"}`) are
//! [`crate::check::audit`]'s.
//!
//! The written bytes are guarded by `tests/trace-hashes.txt`: fields serialize in
//! declaration order; `method`, `path`, `status` and `body` are `null` when absent,
//! `headers` and `tls` are left out.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A delivered segment (or flight), as one trace line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TraceLine<'a> {
    /// When it was delivered \[ns\].
    pub time_ns: u64,
    /// Sender and receiver (node names).
    #[serde(borrow)]
    pub from: Cow<'a, str>,
    #[serde(borrow)]
    pub to: Cow<'a, str>,
    /// The connection; always written, optional when read.
    pub conn: Option<u32>,
    /// The OpenAPI schema of an HTTP body, else the protocol message (`TCP SYN`, `TLS
    /// ClientHello`, `HTTP request`, ...).
    #[serde(borrow)]
    pub msg: Cow<'a, str>,
    /// HTTP method (`CONNECT` for a tunnel request).
    pub method: Option<Cow<'a, str>>,
    /// Request path (the target of a `CONNECT`).
    pub path: Option<Cow<'a, str>>,
    /// HTTP status of a response.
    pub status: Option<u16>,
    /// Size on the wire; always written, optional when read.
    pub bytes: Option<u32>,
    /// The body: its JSON when it parses, else the text (a TLS alert's description).
    pub body: Option<Value>,
    /// Response headers of a CONNECT reply, in emission order (only when there are any).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "header_map")]
    pub headers: Option<Vec<(String, String)>>,
    /// `"psk"` on a ClientHello offering a PSK (TLS-PSK, resumption).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<Cow<'a, str>>,
}

impl<'a> TraceLine<'a> {
    /// Parses one line; `None` for anything that is not a message line (an audit line,
    /// bad JSON).
    pub fn parse(line: &'a [u8]) -> Option<TraceLine<'a>> {
        serde_json::from_slice(line).ok()
    }

    /// Reads a message line from parsed JSON; `None` for anything else.
    pub fn from_value(v: &'a Value) -> Option<TraceLine<'a>> {
        TraceLine::deserialize(v).ok()
    }

    /// The line as written (compact JSON, no newline).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a trace line serializes")
    }

    /// The HTTP method.
    pub fn method(&self) -> Option<&str> {
        self.method.as_deref()
    }

    /// The request path.
    pub fn path(&self) -> Option<&str> {
        self.path.as_deref()
    }

    /// The body, when it is text (not JSON).
    pub fn body_text(&self) -> Option<&str> {
        self.body.as_ref().and_then(Value::as_str)
    }

    /// The body, when it is a JSON object.
    pub fn body_object(&self) -> Option<&serde_json::Map<String, Value>> {
        self.body.as_ref().and_then(Value::as_object)
    }

    /// The first header named `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .as_ref()?
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `tls` mark (`"psk"`).
    pub fn tls(&self) -> Option<&str> {
        self.tls.as_deref()
    }
}

/// Headers as a JSON object in emission order; a repeated name keeps its first place and
/// its last value (what a JSON object with ordered keys makes of them).
mod header_map {
    use std::fmt;

    use serde::de::{MapAccess, Visitor};
    use serde::{Deserializer, Serializer};

    type Headers = Option<Vec<(String, String)>>;

    pub fn serialize<S: Serializer>(headers: &Headers, s: S) -> Result<S::Ok, S::Error> {
        let h = headers.as_deref().unwrap_or_default();
        let mut names: Vec<&str> = Vec::with_capacity(h.len());
        for (n, _) in h {
            if !names.contains(&n.as_str()) {
                names.push(n);
            }
        }
        s.collect_map(names.into_iter().map(|name| {
            let last = h.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v);
            (name, last)
        }))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Headers, D::Error> {
        struct Ordered;
        impl<'de> Visitor<'de> for Ordered {
            type Value = Headers;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of header names to values, or null")
            }
            fn visit_unit<E>(self) -> Result<Headers, E> {
                Ok(None)
            }
            fn visit_none<E>(self) -> Result<Headers, E> {
                Ok(None)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Headers, D::Error> {
                d.deserialize_map(Ordered)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Headers, A::Error> {
                let mut h = Vec::new();
                while let Some((n, v)) = m.next_entry::<String, String>()? {
                    h.push((n, v));
                }
                Ok(Some(h))
            }
        }
        d.deserialize_option(Ordered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line<'a>() -> TraceLine<'a> {
        TraceLine {
            time_ns: 1_500,
            from: "a".into(),
            to: "b".into(),
            conn: Some(3),
            msg: "HTTP CONNECT response".into(),
            method: None,
            path: None,
            status: Some(403),
            bytes: Some(120),
            body: Some(serde_json::json!({"z": 1, "a": "x"})),
            headers: None,
            tls: None,
        }
    }

    #[test]
    fn written_as_the_trace_format() {
        let mut l = line();
        assert_eq!(
            l.to_json(),
            r#"{"time_ns":1500,"from":"a","to":"b","conn":3,"msg":"HTTP CONNECT response","method":null,"path":null,"status":403,"bytes":120,"body":{"z":1,"a":"x"}}"#
        );
        l.headers = Some(vec![
            ("content-type".to_string(), "application/problem+json".to_string()),
            ("proxy-status".to_string(), "ri; error=x".to_string()),
            ("content-type".to_string(), "text/plain".to_string()),
        ]);
        let json = l.to_json();
        assert!(
            json.ends_with(r#""headers":{"content-type":"text/plain","proxy-status":"ri; error=x"}}"#),
            "{json}"
        );
        let back = TraceLine::parse(json.as_bytes()).unwrap();
        assert_eq!(back.header("Proxy-Status"), Some("ri; error=x"));
        assert_eq!(back.to_json(), json);
        l.headers = None;
        l.tls = Some("psk".into());
        assert!(l.to_json().ends_with(r#""body":{"z":1,"a":"x"},"tls":"psk"}"#));
    }

    #[test]
    fn read_leniently_but_only_message_lines() {
        let l = TraceLine::parse(br#"{"time_ns":1,"from":"a","to":"b","msg":"TCP SYN"}"#).unwrap();
        assert_eq!((l.conn, l.bytes, l.method(), l.tls()), (None, None, None, None));
        assert!(l.headers.is_none());
        assert!(TraceLine::parse(br#"{"time_ns":1,"audit":{"kind":"x"}}"#).is_none());
        assert!(TraceLine::parse(b"not json").is_none());
        let v = serde_json::json!({"time_ns": 2, "from": "a", "to": "b", "msg": "TLS Alert",
                                   "body": "bad_certificate", "headers": null});
        let l = TraceLine::from_value(&v).unwrap();
        assert_eq!((l.body_text(), l.body_object()), (Some("bad_certificate"), None));
    }
}
