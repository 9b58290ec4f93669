//! `secsim example <kind>`: complete, valid, commented experiments to start from, one per
//! kind of workload. Each is a file under `src/scenario/examples/` whose `topology` is a
//! shipped topology relative to `experiments/`, so the text saved as
//! `experiments/<name>.ron` validates and runs as it is (a test checks every one).

/// One example experiment.
#[derive(Clone, Copy, Debug)]
pub struct Example {
    /// The name given to `secsim example`.
    pub kind: &'static str,
    /// One line for `secsim example --list`.
    pub summary: &'static str,
    /// The experiment's RON text.
    pub text: &'static str,
}

/// Every example, in the order `--list` shows them.
pub const EXAMPLES: &[Example] = &[
    Example {
        kind: "http",
        summary: "HTTP/2 over TLS, direct and through a CONNECT proxy",
        text: include_str!("examples/http.ron"),
    },
    Example {
        kind: "n32",
        summary: "N32 between two SEPPs: N32-c handshake, then N32-f TLS",
        text: include_str!("examples/n32.ron"),
    },
    Example {
        kind: "n32-prins",
        summary: "N32 with PRINS through two Roaming Intermediaries, an RI policy and an outage",
        text: include_str!("examples/n32-prins.ron"),
    },
    Example {
        kind: "capif",
        summary: "CAPIF: onboarding, method negotiation, CAPIF-2e, a method change, a revocation",
        text: include_str!("examples/capif.ron"),
    },
    Example {
        kind: "capif-interconnect",
        summary: "CAPIF interconnection: invokers at one CCF using an AEF registered at another",
        text: include_str!("examples/capif-interconnect.ron"),
    },
    Example {
        kind: "sweep",
        summary: "A sweep over a topology field and the arrival rate (for `run` and `compare`)",
        text: include_str!("examples/sweep.ron"),
    },
];

/// The example of `kind`, if there is one.
pub fn example(kind: &str) -> Option<&'static Example> {
    EXAMPLES.iter().find(|e| e.kind == kind)
}
