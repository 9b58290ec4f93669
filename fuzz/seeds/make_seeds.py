#!/usr/bin/env python3
"""Writes the committed seed corpus of the fuzz targets (fuzz/seeds/<target>/).

The inputs follow each target's layout (see the doc comment at the top of each target):
N32-c and CAPIF conversations as NUL-separated (selector byte, body) messages, PRINS messages
both as received (JWE sealed with the target's fixed key, JWS signed with its fixed RI keys)
and in the target's "sealed" layout, and certificates, tokens and handshakes for
crypto_decoders. Needs the `cryptography` package. The RON loaders are seeded by
scripts/fuzz from the repository's own RON files, plus the few files written here.

Run from anywhere: python3 fuzz/seeds/make_seeds.py
"""
import base64
import json
import os
import struct

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

HERE = os.path.dirname(os.path.abspath(__file__))


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def js(v):
    return json.dumps(v, separators=(",", ":")).encode()


def key(byte):
    """The P-256 key whose scalar is 32 bytes of `byte` (as the targets' fixed keys)."""
    return ec.derive_private_key(int.from_bytes(bytes([byte]) * 32, "big"), ec.SECP256R1())


def es256(k, data):
    r, s = decode_dss_signature(k.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def compressed(k):
    return k.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)


def write(target, name, data):
    d = os.path.join(HERE, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def messages(*parts):
    """NUL-separated (selector, body) messages (a selector is never 0: NUL separates)."""
    assert all(sel != 0 for sel, _ in parts)
    return b"\0".join(bytes([sel]) + (body if isinstance(body, bytes) else js(body)) for sel, body in parts)


# --- n32_messages ----------------------------------------------------------------------------
A, B = "sepp.a.example.org", "sepp.b.example.org"
CTX, CTX2 = "0123456789ABCDEF", "FEDCBA9876543210"
cap_req = {"sender": A, "supportedSecCapabilityList": ["PRINS", "TLS"]}
cap_rsp = {"sender": B, "selectedSecCapability": "PRINS"}
policy = {
    "apiIeMappingList": [{
        "apiSignature": "/nudm-uecm/v1/{ueId}/registrations",
        "apiMethod": "PUT",
        "IeList": [{"ieLoc": "BODY", "ieType": "UEID", "reqIe": "/supi"},
                   {"ieLoc": "HEADER", "ieType": "NONSENSITIVE", "reqIe": "x-route", "isModifiable": True}],
    }],
    "dataTypeEncPolicy": ["UEID", "KEY_MATERIAL"],
}
param_req = {"n32fContextId": CTX, "jweCipherSuiteList": ["A256GCM", "A128GCM"], "jwsCipherSuiteList": ["ES256"],
             "protectionPolicyInfo": policy, "sender": A}
param_rsp = {"n32fContextId": CTX2, "selectedJweCipherSuite": "A256GCM", "selectedJwsCipherSuite": "ES256",
             "selProtectionPolicyInfo": policy, "sender": B,
             "ipxProviderSecInfoList": [{"ipxProviderId": "ri.example", "rawPublicKeyList": [b64(compressed(key(7)))]}]}
write("n32_messages", "handshake", messages(
    (0x05, cap_req), (0x08, cap_rsp), (0x01, param_req), (0x08, param_rsp),
    (0x02, {"n32fContextId": CTX}), (0x03, {"n32fMessageId": "7", "n32fErrorType": "INTEGRITY_CHECK_FAILED",
                                             "n32fContextId": CTX})))
write("n32_messages", "honest_peer", messages((0x05, cap_req), (0x01, param_req), (0x11, b""), (0x1a, b""), (0x02, {"n32fContextId": CTX})))
write("n32_messages", "problems", messages(
    (0xcb, {"status": 403, "cause": "CAPABILITY_MISMATCH", "invalidParams": [{"param": "/x", "reason": "y"}]}),
    (0xd3, {"status": 403, "cause": "N32_CONNECTION_REJECTED", "suggestedStatusCode": 504,
            "suggestedProblemDetails": {"status": 504, "cause": "TARGET_PLMN_NOT_REACHABLE"}}),
    (0x43, {"status": 403, "cause": "X", "suggestedStatus": 503, "suggestedCause": "NF_CONGESTION"}),
    (0x43, b'ri.ipx-a.example; error=http_request_denied; details="suggested-status=504 suggested-cause=TARGET_PLMN_NOT_REACHABLE"'),
    (0xc3, {"suggestedStatusCode": 504, "suggestedCause": "TARGET_PLMN_NOT_REACHABLE", "plmn": "001-01", "iat": 5})))

# --- prins -------------------------------------------------------------------------------------
KEY = bytes([0x6F]) * 32
CRI, PRI = "cri.ipx-a.example", "pri.ipx-b.example"
API_PATH = "/nudm-uecm/v1/imsi-1/registrations/amf-3gpp-access"
aad = {
    "metaData": {"n32fContextId": CTX, "messageId": "7", "authorizedIpxId": CRI},
    "requestLine": {"method": "PUT", "scheme": "https", "authority": "udm.example", "path": API_PATH,
                    "protocolVersion": "HTTP/2", "queryFragment": "dnn=internet%20more&plmn-id=00101"},
    "headers": [{"header": "x-route", "value": "hop1"}, {"header": "Authorization", "value": {"encBlockIndex": 1}}],
    "payload": [{"iePath": "/supi", "ieValueLocation": "URI_PARAM", "value": {"encBlockIndex": 2}},
                {"iePath": "", "ieValueLocation": "BODY",
                 "value": {"supi": {"encBlockIndex": 2}, "pei": "imeisv-1", "servingNetwork": {"mcc": "001"},
                           "list": [1, 2, {"x": None}]}}],
}
plain = {"dataToEncrypt": ["Bearer abc", "imsi-001010000000001"]}
mods_c = {"identity": CRI, "operations": [{"op": "replace", "path": "/headers/0/value", "value": "hop2"},
                                           {"op": "replace", "path": "/payload/1/value/servingNetwork", "value": {"mcc": "002"}}]}
mods_p = {"identity": PRI, "operations": [{"op": "test", "path": "/headers/0/value", "value": "hop2"},
                                           {"op": "copy", "from": "/payload/1/value/pei", "path": "/payload/1/value/pei2"},
                                           {"op": "move", "from": "/payload/1/value/pei2", "path": "/payload/1/value/pei"},
                                           {"op": "remove", "path": "/payload/1/value/list/2"},
                                           {"op": "add", "path": "/payload/1/value/list/-", "value": 3}]}
rsp_aad = {"metaData": {"n32fContextId": CTX, "messageId": "7", "authorizedIpxId": None}, "statusLine": "200",
           "headers": [{"header": "content-type", "value": "application/json"}],
           "payload": [{"iePath": "", "ieValueLocation": "BODY", "value": {"supi": {"encBlockIndex": 1}}}]}
write("prins", "sealed_request_two_ris", b"\x05\0" + js(aad) + b"\0" + js(plain) + b"\0" + js(mods_c) + b"\0" + js(mods_p))
write("prins", "sealed_two_ris_all_steps", b"\xc5\0" + js(aad) + b"\0" + js(plain) + b"\0" + js(mods_c) + b"\0" + js(mods_p))
write("prins", "sealed_response", b"\x03\0" + js(rsp_aad) + b"\0" + js({"dataToEncrypt": ["imsi-1"]}))
write("prins", "sealed_no_ri", b"\x08\0" + js(dict(aad, metaData={"n32fContextId": CTX, "messageId": "8"})) + b"\0" + js(plain))


def jwe(aad_obj, plaintext, iv):
    protected = b64(js({"alg": "dir", "enc": "A256GCM"}))
    aad_b64 = b64(js(aad_obj))
    ct = AESGCM(KEY).encrypt(iv, plaintext, f"{protected}.{aad_b64}".encode())
    return {"protected": protected, "aad": aad_b64, "iv": b64(iv), "ciphertext": b64(ct[:-16]), "tag": b64(ct[-16:])}


def jws(k, kid, payload):
    protected = b64(js({"alg": "ES256", "kid": kid}))
    p = b64(js(payload))
    return {"payload": p, "protected": protected, "signature": b64(es256(k, f"{protected}.{p}".encode()))}


e = jwe(aad, js(plain), bytes(12))
msg = {"reformattedData": e, "modificationsBlock": [jws(key(1), CRI, dict(mods_c, tag=e["tag"])),
                                                    jws(key(2), PRI, dict(mods_p, tag=e["tag"]))]}
write("prins", "raw_request_two_ris", js(msg))
e2 = jwe(rsp_aad, js({"dataToEncrypt": ["imsi-1"]}), bytes([1]) * 12)
write("prins", "raw_response", js({"reformattedData": e2}))

# --- capif_messages ----------------------------------------------------------------------------
inv_key = key(9)
enrol = {"onboardingInformation": {"apiInvokerPublicKey": b64(compressed(inv_key)), "onboardingSecret": "secret-inv"},
         "notificationDestination": "https://inv.example/notify", "supportedFeatures": "0"}
sec = {"securityInfo": [{"aefId": "aef-a1", "prefSecurityMethods": ["PSK", "PKI", "OAUTH"]},
                        {"interfaceDetails": {"fqdn": "aef-a1.example", "port": 443, "apiPrefix": "/api"},
                         "prefSecurityMethods": ["OAUTH"], "authenticationInfo": "aefpsk-validity-s=60",
                         "authorizationInfo": "aef-a1:api1,api2"}],
       "notificationDestination": "https://inv.example/notify"}
grant = "aefpsk=" + b64(bytes(range(32))) + ";remaining-ns=5000000000"
write("capif_messages", "onboard_negotiate_token", messages(
    (0x80, enrol), (0x09, sec), (0x02, sec), (0x0b, b""), (0x04, b"grant_type=client_credentials&client_id=INV0000000000000001&scope=3gpp%23aef-a1%3Aapi1"),
    (0x15, {"apiInvokerId": "INV0000000000000001", "supportedFeatures": "0"}), (0x05, b"")))
write("capif_messages", "aef_side", messages(
    (0x08, {"apiInvokerId": "INV0000000000000001", "supportedFeatures": "0"}),
    (0x48, {"securityInfo": [dict(sec["securityInfo"][0], selSecurityMethod="PSK", authenticationInfo=grant)],
            "notificationDestination": "x"}),
    (0x10, grant.encode()), (0x18, b"")))
write("capif_messages", "pushes", messages(
    (0x80, {"apiInvokerId": "INV1", "aefId": "aef-a1", "apiIds": ["api1"], "cause": "UNEXPECTED_REASON"}),
    (0x03, {"subscriptionId": "s1", "events": "SERVICE_API_UPDATE", "eventDetail": {"serviceAPIDescriptions": [
        {"apiName": "api1", "aefProfiles": [{"aefId": "aef-a1", "versions": [{"apiVersion": "v1"}],
                                              "securityMethods": ["PKI"], "domainName": "aef.example"}]}]}}),
    (0x02, {"status": 403, "cause": "SECURITY_METHOD_MISMATCH",
            "invalidParams": [{"param": "/supportedSecurityMethods", "reason": "PKI"}]}),
    (0x01, {"apiName": "api1", "aefProfiles": [{"aefId": "aef-a1", "versions": [{"apiVersion": "v1"}],
                                                "interfaceDescriptions": [{"ipv4Addr": "10.0.0.1", "port": 8443}]}]})))

# --- crypto_decoders ---------------------------------------------------------------------------


def cert(subject, issuer, role, domain, plmns, pub, nb, na, signer):
    def s(x):
        return struct.pack(">H", len(x)) + x.encode()
    tbs = (b"secsim-cert-v1" + struct.pack(">Q", 2) + s(subject) + s(issuer) + bytes([role]) + s(domain)
           + struct.pack(">H", len(plmns)) + b"".join(s(p) for p in plmns) + pub + struct.pack(">QQ", nb, na))
    return tbs + es256(signer, tbs)


ca_key = key(3)
leaf = cert("sepp-a", "ca.fuzz", 1, "plmn-a", ["001-01"], compressed(key(4)), 0, 1 << 40, ca_key)
write("crypto_decoders", "certificate", b"\x00" + leaf)
write("crypto_decoders", "issued_subject", b"\x04\x01" + bytes([6]) + b"sepp-a" + bytes([6]) + b"plmn-a" + b"\x01\x06001-01" + bytes(8) + b"\x00\x00\x00\x00\x00\x01\x00\x00")
claims = {"iss": "ccf-a", "scope": "aef-a1:api1,api2", "exp": 1000, "client_id": "INV1", "jti": "ccf-a-1"}
write("crypto_decoders", "jwt_parts", b"\x01" + js({"alg": "ES256", "typ": "JWT"}) + b"\0" + js(claims))
header = b64(js({"alg": "ES256", "typ": "JWT"}))
payload = b64(js(claims))
token = f"{header}.{payload}.{b64(es256(key(8), f'{header}.{payload}'.encode()))}"
write("crypto_decoders", "jwt_token", b"\x05" + token.encode())
write("crypto_decoders", "jwe_header", b"\x01" + js({"alg": "dir", "enc": "A256GCM", "kid": "k"}) + b"\0" + js({"x": 1}))
write("crypto_decoders", "tls13_psk", b"\x02\x01" + bytes(32) + b"\x01" + bytes(range(32)) + b"\x01\x04INV1" + bytes(32) + bytes(32)
      + b"\x04INV1\x01\x01" + b"\x01\x00\x01\x01" + bytes(4) + b"\x10salt-salt-salt-s\x05hello\x09exporter1\x03ctx\x00\x40")
write("crypto_decoders", "tls13_full", b"\x06\x00" + bytes(64) + b"\x00" * 8 + b"\x00\x00\x01\x01")
write("crypto_decoders", "connection_cert", b"\x03\x00\x00\x00\x02\x01" + struct.pack(">H", len(leaf)) + leaf + b"\x00\x01")
write("crypto_decoders", "connection_psk", b"\x07\x01\x01\x04INV1\x00\x00\x01")

# --- ron_loaders (the repository's RON files are added by scripts/fuzz) -------------------------
write("ron_loaders", "generator_mesh.ron", b'TopologyGenerator(seed: 3, kind: RandomMesh(plmns: 6, degree: 2))\n')
write("ron_loaders", "generator_capif.ron",
      b'TopologyGenerator(kind: CapifProviders(providers: 2, aefs_per_provider: 2, invokers: 3))\n')
write("ron_loaders", "experiment_sweep.ron", b'''Experiment(
    name: "fuzz-sweep",
    topology: "../topologies/two-domain-proxy.ron",
    duration: "2s",
    seeds: Some([1, 2]),
    workload: [Http((client: "nf-a1", server: "nf-b1", arrival: Periodic(interval: "100ms"), timeout: "1s"))],
    sweep: [(name: Some("t"), path: "workload[0].Http.timeout", values: ["1s", "500ms"])],
)
''')
print("seeds written under", HERE)
