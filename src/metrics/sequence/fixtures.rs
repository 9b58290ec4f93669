//! Trace lines for the sequence-chart tests.

use serde_json::{Value, json};

pub(super) fn line(t: u64, from: &str, to: &str, conn: u64, msg: &str) -> Value {
    json!({"time_ns": t, "from": from, "to": to, "conn": conn, "msg": msg, "method": null,
           "path": null, "status": null, "bytes": 74, "body": null})
}

pub(super) fn req(t: u64, from: &str, to: &str, conn: u64, msg: &str, method: &str, path: &str) -> Value {
    let mut v = line(t, from, to, conn, msg);
    v["method"] = json!(method);
    v["path"] = json!(path);
    v["bytes"] = json!(300);
    v
}

pub(super) fn rsp(t: u64, from: &str, to: &str, conn: u64, msg: &str, status: u16) -> Value {
    let mut v = line(t, from, to, conn, msg);
    v["status"] = json!(status);
    v["bytes"] = json!(500);
    v
}

pub(super) fn handshake(t: u64, c: &str, s: &str, conn: u64) -> Vec<Value> {
    vec![
        line(t, c, s, conn, "TCP SYN"),
        line(t + 1_000_000, s, c, conn, "TCP SYN-ACK"),
        line(t + 2_000_000, c, s, conn, "TLS ClientHello"),
        line(t + 3_000_000, s, c, conn, "TLS ServerHello..Finished"),
        line(t + 4_000_000, c, s, conn, "TLS Certificate..Finished"),
    ]
}

/// An invoker onboards at the CCF, then an AEF refuses it with an alert.
pub(super) fn capif_trace() -> Vec<Value> {
    let mut v = handshake(458_925_525, "invoker-1", "ccf-a", 0);
    v.push(req(
        525_009_214,
        "invoker-1",
        "ccf-a",
        0,
        "APIInvokerEnrolmentDetails",
        "POST",
        "/api-invoker-management/v1/onboardedInvokers",
    ));
    v.push(rsp(
        544_462_349,
        "ccf-a",
        "invoker-1",
        0,
        "APIInvokerEnrolmentDetails",
        201,
    ));
    v.extend(handshake(600_000_000, "aef-a1", "ccf-a", 1));
    v.push(req(
        610_000_000,
        "aef-a1",
        "ccf-a",
        1,
        "HTTP request",
        "GET",
        "/capif-security/v1/trustedInvokers/INV1421324881689490?authenticationInfo=true",
    ));
    v.push(rsp(611_000_000, "ccf-a", "aef-a1", 1, "HTTP response", 404));
    let mut alert = line(700_000_000, "aef-a1", "invoker-1", 2, "TLS Alert");
    alert["body"] = json!("bad_certificate");
    v.push(alert);
    v
}

pub(super) fn domains() -> Vec<(String, String)> {
    [
        ("ccf-a", "provider-a"),
        ("aef-a1", "provider-a"),
        ("invoker-1", "internet"),
    ]
    .iter()
    .map(|(n, d)| (n.to_string(), d.to_string()))
    .collect()
}
