//! HTTP/2 messages as the network carries them, and their size on the wire.
//!
//! Bodies are the serialised JSON text, so a message's size is its real JSON length plus
//! framing: TCP/IP headers, a TLS record header and tag, HTTP/2 frame headers and an HPACK
//! header block estimate. The defaults below are documented estimates, not measurements of
//! a particular stack:
//!
//! | part | bytes |
//! |---|---|
//! | TCP/IPv4 headers with timestamps | 52 |
//! | TLS 1.3 record header + AEAD tag + content type | 22 |
//! | HTTP/2 frame header | 9 |
//! | request HEADERS block (HPACK, first request on a connection larger) | 40 + path length |
//! | response HEADERS block | 30 |
//! | each extra header (HPACK literal: name, value, 2 length bytes) | name + value + 2 |
//!
//! A message is built once with [`HttpRequest::json`] / [`HttpResponse::json`]: the body is
//! encoded to JSON once (its length is the wire size) and the typed value rides along, so the
//! receiver reads it with [`HttpRequest::typed`] without parsing the text again. A message
//! that arrives without its typed value (a fuzzer's bytes, a hand-built test message) is
//! parsed from the text by [`HttpRequest::decode`].

use std::any::Any;
use std::fmt;
use std::sync::Arc;

/// The typed value a body was encoded from (shared, never mutated).
#[derive(Clone)]
pub struct Typed(Arc<dyn Any + Send + Sync>);

impl Typed {
    /// A typed value that travels with a message without being its body: simulation
    /// metadata, not on the wire (e.g. the route of a PRINS message).
    pub fn new<T: Any + Send + Sync>(value: T) -> Typed {
        Typed(Arc::new(value))
    }
}

impl fmt::Debug for Typed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Typed(..)")
    }
}

/// Two messages are equal when their wire content is: the typed value is a cache of the body.
impl PartialEq for Typed {
    fn eq(&self, _: &Typed) -> bool {
        true
    }
}

/// Header fields beyond the pseudo-headers, in order (`Authorization`, `3gpp-Sbi-Target-apiRoot`, ...).
pub type Headers = Vec<(&'static str, String)>;

fn header_of<'a>(h: &'a Headers, name: &str) -> Option<&'a str> {
    h.iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn header_bytes(h: &Headers) -> u32 {
    h.iter().map(|(n, v)| n.len() as u32 + v.len() as u32 + 2).sum()
}

fn encode<T: serde::Serialize + Any + Send + Sync>(value: T) -> (String, Option<Typed>) {
    let body = serde_json::to_string(&value).unwrap_or_default();
    (body, Some(Typed(Arc::new(value))))
}

fn typed_of<T: Any>(t: &Option<Typed>) -> Option<&T> {
    t.as_ref().and_then(|t| t.0.downcast_ref::<T>())
}

fn decode_of<T: Any + Clone + serde::de::DeserializeOwned>(t: &Option<Typed>, body: &str) -> Option<T> {
    match typed_of::<T>(t) {
        Some(v) => Some(v.clone()),
        None => serde_json::from_str(body).ok(),
    }
}

/// An HTTP/2 request.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpRequest {
    pub method: &'static str,
    pub path: String,
    /// The OpenAPI schema name of the body (e.g. `SecNegotiateReqData`), or "" if none.
    pub schema: &'static str,
    /// Header fields (counted in the wire size).
    pub headers: Headers,
    /// Serialised JSON body ("" for none).
    pub body: String,
    /// The value `body` was encoded from, if it was built with [`HttpRequest::json`].
    pub typed: Option<Typed>,
}

/// An HTTP/2 response.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpResponse {
    pub status: u16,
    /// The OpenAPI schema name of the body, or "" if none.
    pub schema: &'static str,
    /// Header fields (counted in the wire size).
    pub headers: Headers,
    /// Serialised JSON body ("" for none).
    pub body: String,
    /// The value `body` was encoded from, if it was built with [`HttpResponse::json`].
    pub typed: Option<Typed>,
}

/// TCP/IPv4 headers with the timestamp option \[bytes\].
pub const TCP_IP_OVERHEAD: u32 = 52;
/// TLS 1.3 record header (5) + AEAD tag (16) + inner content type (1) \[bytes\].
pub const TLS_RECORD_OVERHEAD: u32 = 22;
/// HTTP/2 frame header \[bytes\].
pub const H2_FRAME_HEADER: u32 = 9;

fn body_frame(body: &str) -> u32 {
    if body.is_empty() {
        0
    } else {
        H2_FRAME_HEADER + body.len() as u32
    }
}

impl HttpRequest {
    /// A request with a text body (already JSON, or "" for none) and no extra headers.
    pub fn new(method: &'static str, path: impl Into<String>, schema: &'static str, body: String) -> HttpRequest {
        HttpRequest {
            method,
            path: path.into(),
            schema,
            headers: Headers::new(),
            body,
            typed: None,
        }
    }

    /// A request whose body is `value` encoded to JSON once; the receiver gets `value` back
    /// from [`HttpRequest::typed`].
    pub fn json<T: serde::Serialize + Any + Send + Sync>(
        method: &'static str,
        path: impl Into<String>,
        schema: &'static str,
        value: T,
    ) -> HttpRequest {
        let (body, typed) = encode(value);
        HttpRequest {
            typed,
            ..HttpRequest::new(method, path, schema, body)
        }
    }

    /// Adds a header field.
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> HttpRequest {
        self.headers.push((name, value.into()));
        self
    }

    /// The first value of header `name` (case-insensitive, as HTTP/2 names are lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        header_of(&self.headers, name)
    }

    /// The typed body the sender built, without parsing.
    pub fn typed<T: Any>(&self) -> Option<&T> {
        typed_of(&self.typed)
    }

    /// The body as a `T`: the sender's typed value if it is one, else parsed from the text.
    pub fn decode<T: Any + Clone + serde::de::DeserializeOwned>(&self) -> Option<T> {
        decode_of(&self.typed, &self.body)
    }

    /// Bytes on the wire, inside TLS.
    pub fn wire_bytes(&self) -> u32 {
        TCP_IP_OVERHEAD
            + TLS_RECORD_OVERHEAD
            + H2_FRAME_HEADER
            + 40
            + self.path.len() as u32
            + header_bytes(&self.headers)
            + body_frame(&self.body)
    }
}

impl HttpResponse {
    /// A response with a text body (already JSON, or "" for none) and no extra headers.
    pub fn new(status: u16, schema: &'static str, body: String) -> HttpResponse {
        HttpResponse {
            status,
            schema,
            headers: Headers::new(),
            body,
            typed: None,
        }
    }

    /// A response whose body is `value` encoded to JSON once.
    pub fn json<T: serde::Serialize + Any + Send + Sync>(status: u16, schema: &'static str, value: T) -> HttpResponse {
        let (body, typed) = encode(value);
        HttpResponse {
            typed,
            ..HttpResponse::new(status, schema, body)
        }
    }

    /// Adds a header field.
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> HttpResponse {
        self.headers.push((name, value.into()));
        self
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header_of(&self.headers, name)
    }

    /// The typed body the sender built, without parsing.
    pub fn typed<T: Any>(&self) -> Option<&T> {
        typed_of(&self.typed)
    }

    /// The body as a `T`: the sender's typed value if it is one, else parsed from the text.
    pub fn decode<T: Any + Clone + serde::de::DeserializeOwned>(&self) -> Option<T> {
        decode_of(&self.typed, &self.body)
    }

    /// Bytes on the wire, inside TLS.
    pub fn wire_bytes(&self) -> u32 {
        TCP_IP_OVERHEAD
            + TLS_RECORD_OVERHEAD
            + H2_FRAME_HEADER
            + 30
            + header_bytes(&self.headers)
            + body_frame(&self.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Body {
        n: u32,
    }

    #[test]
    fn a_typed_body_is_encoded_once_and_read_back_without_parsing() {
        let req = HttpRequest::json("POST", "/x", "Body", Body { n: 7 });
        assert_eq!(req.body, r#"{"n":7}"#);
        assert_eq!(req.typed::<Body>(), Some(&Body { n: 7 }));
        assert_eq!(req.typed::<u32>(), None);
        // Without the typed value the text is parsed.
        let bare = HttpRequest::new("POST", "/x", "Body", req.body.clone());
        assert_eq!(bare.decode::<Body>(), Some(Body { n: 7 }));
        assert_eq!(HttpRequest::new("POST", "/x", "", "{".into()).decode::<Body>(), None);
    }

    #[test]
    fn headers_count_in_the_wire_size() {
        let bare = HttpRequest::new("GET", "/x", "", String::new());
        let with = bare.clone().with_header("authorization", "Bearer abc");
        assert_eq!(with.wire_bytes(), bare.wire_bytes() + 13 + 10 + 2);
        assert_eq!(with.header("Authorization"), Some("Bearer abc"));
        let rsp = HttpResponse::new(200, "", String::new()).with_header("retry-after", "1");
        assert_eq!(
            rsp.wire_bytes(),
            HttpResponse::new(200, "", String::new()).wire_bytes() + 11 + 1 + 2
        );
    }
}

/// Sizes of the handshake messages \[bytes\], with TCP/IP overhead. Defaults follow a TLS 1.3
/// handshake with X25519 and ECDSA P-256 certificate chains of two certificates.
#[derive(Clone, Copy, Debug)]
pub struct HandshakeSizes {
    /// SYN and SYN-ACK (with options).
    pub tcp_syn: u32,
    /// ClientHello with key share and SNI.
    pub client_hello: u32,
    /// ServerHello, EncryptedExtensions, CertificateRequest, Certificate, CertificateVerify,
    /// Finished.
    pub server_flight: u32,
    /// Client Certificate, CertificateVerify and Finished (mutual TLS).
    pub client_finished: u32,
    /// HTTP CONNECT request (HTTP/2 HEADERS with :method and :authority).
    pub connect_request: u32,
    /// HTTP CONNECT response without body.
    pub connect_response: u32,
}

impl Default for HandshakeSizes {
    fn default() -> Self {
        HandshakeSizes {
            tcp_syn: 74,
            client_hello: 52 + 280,
            server_flight: 52 + 2_350,
            client_finished: 52 + 1_900,
            connect_request: 52 + 9 + 60,
            connect_response: 52 + 9 + 20,
        }
    }
}
