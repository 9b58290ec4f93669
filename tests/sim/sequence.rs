//! `secsim trace`: sequence charts (Mermaid and SVG) of one seed, and its input errors.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn secsim() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_secsim"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("secsim-seq-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Runs `secsim trace <experiment> <args> --out <dir>`; returns the output and the two files.
fn trace(experiment: &str, args: &[&str], dir: &Path) -> (Output, String, String) {
    let out = secsim()
        .args(["trace", experiment])
        .args(args)
        .arg("--out")
        .arg(dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{experiment} {args:?}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (mmd, svg) = (dir.join("sequence.mmd"), dir.join("sequence.svg"));
    for p in [&mmd, &svg] {
        assert!(
            stdout.contains(&*p.display().to_string()),
            "{} not printed: {stdout}",
            p.display()
        );
    }
    let mmd = std::fs::read_to_string(mmd).unwrap();
    let svg = std::fs::read_to_string(svg).unwrap();
    (out, mmd, svg)
}

fn assert_svg(svg: &str) {
    assert!(svg.starts_with("<?xml") && svg.trim_end().ends_with("</svg>"));
    assert!(svg.len() > 5_000, "trivial SVG: {} bytes", svg.len());
    assert!(svg.contains(r#"font-family="DejaVu Sans, sans-serif""#));
    for tag in ["svg", "g", "text", "title"] {
        let open = svg.matches(&format!("<{tag}>")).count() + svg.matches(&format!("<{tag} ")).count();
        assert_eq!(open, svg.matches(&format!("</{tag}>")).count(), "<{tag}> unbalanced");
    }
}

#[test]
fn capif_onboarding_chart_is_written_and_reproducible() {
    let (a, b) = (tmp("capif-a"), tmp("capif-b"));
    let (_, mmd, svg) = trace("experiments/capif-single.ron", &["--seed", "1", "--until", "2s"], &a);
    assert!(mmd.starts_with("sequenceDiagram\n"), "{mmd}");
    for want in [
        "box rgb(238,243,251) provider-a",
        "participant invoker_1 as invoker-1",
        "Note over ccf_a,invoker_1: [458.926 ms] TLS 1.3 certificate handshake (conn 0,",
        // The CAPIF-1e resumption offers a PSK: the chart tells the two handshakes apart.
        "Note over ccf_a,invoker_1: [556.779 ms] TLS 1.3 PSK handshake (conn 1,",
        "invoker_1->>ccf_a: [525.009 ms] POST APIInvokerEnrolmentDetails\n",
        "ccf_a-->>invoker_1: [544.462 ms] 201 APIInvokerEnrolmentDetails\n",
        "PUT ServiceSecurity",
        "POST CheckAuthenticationReq",
        "GET /capif-security/v1/trustedInvokers/{id}?…",
        "200 AccessTokenRsp",
    ] {
        assert!(mmd.contains(want), "no {want:?} in\n{mmd}");
    }
    // Nothing after 2 s, no segment arrows by default.
    assert!(!mmd.contains("TCP SYN") && !mmd.contains("[2001."), "{mmd}");
    assert_svg(&svg);
    assert!(svg.contains("1. POST APIInvokerEnrolmentDetails"));
    // Same seed, same bytes.
    let (_, mmd2, svg2) = trace("experiments/capif-single.ron", &["--seed", "1", "--until", "2s"], &b);
    assert!(mmd == mmd2 && svg == svg2, "two runs differ");
    let _ = std::fs::remove_dir_all(a);
    let _ = std::fs::remove_dir_all(b);
}

#[test]
fn n32_chart_shows_the_handshake_messages_through_the_ri() {
    let d = tmp("n32");
    let (_, mmd, svg) = trace(
        "experiments/n32-prins-two-ri.ron",
        &["--seed", "1", "--until", "1s"],
        &d,
    );
    assert!(mmd.starts_with("sequenceDiagram\n"));
    for want in [
        "SecNegotiateReqData",
        "200 SecNegotiateRspData",
        "SecParamExchReqData",
        "TLS 1.3 certificate handshake via ri-a",
        "N32fReformattedReqMsg",
        "not shown (--max-messages 200)",
    ] {
        assert!(mmd.contains(want), "no {want:?} in\n{mmd}");
    }
    // Domains left to right along the path.
    let boxes: Vec<&str> = mmd.lines().filter_map(|l| l.trim().strip_prefix("box ")).collect();
    let order: Vec<&str> = boxes.iter().map(|b| b.rsplit(' ').next().unwrap()).collect();
    assert_eq!(order, ["plmn-a", "ipx-a", "ipx-b", "plmn-b"]);
    assert_svg(&svg);
    assert!(svg.contains("SecNegotiateReqData"));
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn nodes_max_messages_and_transport_flags() {
    let d = tmp("flags");
    let args = [
        "--seed",
        "1",
        "--until",
        "2s",
        "--nodes",
        "invoker-1,ccf-a",
        "--max-messages",
        "3",
    ];
    let (_, mmd, _) = trace("experiments/capif-single.ron", &args, &d);
    assert!(!mmd.contains("aef_a1") && !mmd.contains("invoker_2"), "{mmd}");
    assert_eq!(mmd.matches("->>").count(), 3, "{mmd}");
    assert!(mmd.trim_end().ends_with("not shown (--max-messages 3)"), "{mmd}");
    let (_, mmd, _) = trace(
        "experiments/capif-single.ron",
        &["--seed", "1", "--until", "1s", "--transport"],
        &d,
    );
    for want in ["-)ccf_a: [458.926 ms] TCP SYN (conn 0)", "TLS ClientHello (conn 0)"] {
        assert!(mmd.contains(want), "no {want:?} in\n{mmd}");
    }
    assert!(!mmd.contains("Note over"), "{mmd}");
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn bad_input_exits_2_with_a_message_naming_the_culprit() {
    let d = tmp("bad");
    let cases: [(&[&str], &[&str]); 6] = [
        (
            &[
                "experiments/capif-single.ron",
                "--seed",
                "1",
                "--nodes",
                "invoker-1,invoker-9",
            ],
            &["--nodes", "invoker-9", "capif-single.ron", "did you mean `invoker-1`"],
        ),
        (
            &["experiments/capif-single.ron", "--seed", "1", "--nodes", "a,,b"],
            &["--nodes"],
        ),
        (&["experiments/capif-single.ron", "--seed", "x"], &["--seed", "'x'"]),
        (
            &["experiments/capif-single.ron", "--seed", "1", "--until", "2 parsecs"],
            &["--until", "parsecs"],
        ),
        (
            &["experiments/does-not-exist.ron", "--seed", "1"],
            &["does-not-exist.ron"],
        ),
        (
            &["topologies/capif-single.ron", "--seed", "1"],
            &["capif-single.ron", "Experiment("],
        ),
    ];
    for (args, wants) in cases {
        let out = secsim().arg("trace").args(args).arg("--out").arg(&d).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        for w in wants {
            assert!(stderr.contains(w), "{args:?}: no {w:?} in {stderr}");
        }
    }
    assert!(!d.join("sequence.mmd").exists());
    let _ = std::fs::remove_dir_all(d);
}
