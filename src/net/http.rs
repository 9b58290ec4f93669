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

/// An HTTP/2 request.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpRequest {
    pub method: &'static str,
    pub path: String,
    /// The OpenAPI schema name of the body (e.g. `SecNegotiateReqData`), or "" if none.
    pub schema: &'static str,
    /// Serialised JSON body ("" for none).
    pub body: String,
}

/// An HTTP/2 response.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpResponse {
    pub status: u16,
    /// The OpenAPI schema name of the body, or "" if none.
    pub schema: &'static str,
    /// Serialised JSON body ("" for none).
    pub body: String,
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
    /// Bytes on the wire, inside TLS.
    pub fn wire_bytes(&self) -> u32 {
        TCP_IP_OVERHEAD + TLS_RECORD_OVERHEAD + H2_FRAME_HEADER + 40 + self.path.len() as u32 + body_frame(&self.body)
    }
}

impl HttpResponse {
    /// Bytes on the wire, inside TLS.
    pub fn wire_bytes(&self) -> u32 {
        TCP_IP_OVERHEAD + TLS_RECORD_OVERHEAD + H2_FRAME_HEADER + 30 + body_frame(&self.body)
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
