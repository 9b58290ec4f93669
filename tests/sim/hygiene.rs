//! Determinism hygiene over the whole source tree (STYLE.md): nothing in the simulation
//! draws on the OS or thread RNG, iterates a hash map, or reads a clock. Only the CLI, the
//! run drivers (src/run.rs, src/sweep.rs: wall time in the manifest, progress) and the benchmark drivers (src/bench/)
//! may time themselves. Comment lines are skipped, so docs may name what they forbid.

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn no_ambient_randomness_hash_iteration_or_clock_in_src() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    files.sort();
    let rng = [
        concat!("Os", "Rng"),
        concat!("thread", "_rng"),
        concat!("rand::", "rng()"),
        concat!("get", "random"),
    ];
    let hash = [concat!("Hash", "Map"), concat!("Hash", "Set")];
    let clock = [concat!("Instant", "::"), concat!("System", "Time")];
    // Wall time is measured only by the CLI, the run drivers (single runs and sweeps: the
    // manifest's wall time and the progress output) and the benchmark drivers.
    let clock_ok = |f: &Path| {
        f.ends_with("src/main.rs")
            || f.ends_with("src/run.rs")
            || f.ends_with("src/sweep.rs")
            || f.parent().is_some_and(|p| p.ends_with("src/bench"))
    };
    let mut bad = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            let mut banned: Vec<&str> = rng.iter().chain(hash.iter()).copied().collect();
            if !clock_ok(f) {
                banned.extend(clock);
            }
            for b in banned {
                if code.contains(b) {
                    bad.push(format!("{}:{}: {b}", f.display(), n + 1));
                }
            }
        }
    }
    assert!(files.len() > 20);
    assert!(bad.is_empty(), "determinism hazards:\n{}", bad.join("\n"));
}

/// Wire truth (issue 13): what in `tree` (a copy of `src/`) lets a node machine or the
/// driver see another node's state. The rules, each a line of source that breaks one:
/// - no file under `proto/` names the network, its topology or security tables, the
///   engine's context, the world, the builders or the scenario files: a machine is handed
///   only its own configuration and its inputs (`proto::effect::Input`);
/// - no machine (a type with `impl Machine for`) holds a field whose type is another machine;
/// - the world (`world.rs`, `world/`) never reads the network's global tables of keys,
///   certificates or PSKs (`.sec.`) to hand them to a machine, and only the driver may read
///   the connection table (and apply a machine's effects to its own node's TLS stack and CPU);
///   the routers ask only the node's-own-stack questions of `net/query.rs` (the ends of the
///   node's connection, its TLS secrets, the peer its TLS stack authenticated, a route).
fn wire_truth_violations(tree: &Path) -> Vec<String> {
    let mut files = Vec::new();
    sources(tree, &mut files);
    files.sort();
    let rel = |f: &Path| f.strip_prefix(tree).unwrap().to_string_lossy().replace('\\', "/");
    // (pattern, what it names)
    let forbidden_in_proto: Vec<(regex::Regex, &str)> = [
        (r"net::(Network|Topology)\b", "the network"),
        (r"net::\{[^}]*\b(Network|Topology)\b", "the network"),
        (r"&(mut\s+)?('[a-z]+\s+)?(Network|Topology|Security)\b", "the network"),
        (r"tls::Security\b", "the network's key tables"),
        (r"\bCtx<", "the engine's context"),
        (r"crate::(world|build)\b", "the world"),
        (r"\b(TopologyFile|ExperimentFile)\b", "the scenario files"),
    ]
    .into_iter()
    .map(|(p, w)| (regex::Regex::new(p).unwrap(), w))
    .collect();
    let code_lines = |text: &str| -> Vec<(usize, String)> {
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim_start().starts_with("//"))
            .map(|(n, l)| (n + 1, l.to_string()))
            .collect()
    };
    let mut bad = Vec::new();
    // Machine types and the files that define their structs.
    let impl_re = regex::Regex::new(r"impl\s+(?:[A-Za-z_:]+::)?Machine\s+for\s+([A-Za-z_][A-Za-z0-9_]*)").unwrap();
    let mut machines: Vec<String> = Vec::new();
    let texts: Vec<(String, String)> = files
        .iter()
        .map(|f| (rel(f), std::fs::read_to_string(f).unwrap()))
        .collect();
    for (_, text) in &texts {
        for c in impl_re.captures_iter(text) {
            machines.push(c[1].to_string());
        }
    }
    machines.sort();
    machines.dedup();
    for (name, text) in &texts {
        let in_proto = name.starts_with("proto/") || name == "proto.rs";
        let in_world = name.starts_with("world/") || name == "world.rs";
        for (n, line) in code_lines(text) {
            if in_proto {
                for (re, what) in &forbidden_in_proto {
                    if let Some(m) = re.find(&line) {
                        bad.push(format!("{name}:{n}: a machine names {what} (`{}`)", m.as_str()));
                    }
                }
            }
            // The driver applies a machine's effects to the node's own TLS stack and CPU.
            if in_world && name != "world/driver.rs" && line.contains(".sec.") {
                bad.push(format!(
                    "{name}:{n}: the world reads the network's key tables (`.sec.`)"
                ));
            }
            if in_world && name != "world/driver.rs" && line.contains(".conn(") {
                bad.push(format!("{name}:{n}: the world reads the connection table (`.conn(`)"));
            }
        }
        // Fields of each machine's struct.
        for m in &machines {
            let Some(start) = text
                .find(&format!("pub struct {m} {{"))
                .or_else(|| text.find(&format!("struct {m} {{")))
            else {
                continue;
            };
            let body = &text[start..];
            // The struct ends at its first closing brace (a field type has none).
            let body = &body[..body.find('}').unwrap_or(body.len())];
            for other in machines.iter().filter(|o| *o != m) {
                let word = regex::Regex::new(&format!(r"\b{other}\b")).unwrap();
                if body
                    .lines()
                    .any(|l| !l.trim_start().starts_with("//") && word.is_match(l))
                {
                    bad.push(format!("{name}: machine `{m}` holds another machine, `{other}`"));
                }
            }
        }
    }
    bad
}

/// Files whose protocol has not moved into machines yet. Each must still break a rule (so
/// the list only shrinks); empty since every node kind is a machine (issue 13).
const PENDING: &[&str] = &[];

#[test]
fn no_machine_or_driver_reads_another_nodes_state() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let all = wire_truth_violations(&root);
    let pending = |b: &String| PENDING.iter().any(|p| b.starts_with(&format!("{p}:")));
    let bad: Vec<&String> = all.iter().filter(|b| !pending(b)).collect();
    assert!(
        bad.is_empty(),
        "wire-truth hazards:\n{}",
        bad.iter().map(|b| b.as_str()).collect::<Vec<_>>().join("\n")
    );
    for p in PENDING {
        assert!(
            all.iter().any(|b| b.starts_with(&format!("{p}:"))),
            "{p} breaks no wire-truth rule any more: take it off PENDING"
        );
    }
}

/// The hygiene check is not vacuous: a copy of the tree in which a machine is handed the
/// network, holds another machine, or the world passes it a key from the global tables fails it.
#[test]
fn the_wire_truth_check_fails_when_a_machine_is_given_another_nodes_state() {
    let dir = std::env::temp_dir().join(format!("secsim-wire-truth-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("proto")).unwrap();
    std::fs::create_dir_all(dir.join("world")).unwrap();
    let clean = "use crate::proto::effect::Machine;\npub struct A { n: u32 }\nimpl Machine for A {}\npub struct B { k: u8 }\nimpl Machine for B {}\n";
    std::fs::write(dir.join("proto/a.rs"), clean).unwrap();
    std::fs::write(dir.join("world/x.rs"), "fn f() {}\n").unwrap();
    assert!(
        wire_truth_violations(&dir).is_empty(),
        "{:?}",
        wire_truth_violations(&dir)
    );
    // A machine handed the network.
    std::fs::write(
        dir.join("proto/b.rs"),
        "use crate::net::Network;\npub struct C<'a> { net: &'a Network }\n",
    )
    .unwrap();
    // A machine holding another node's machine.
    std::fs::write(
        dir.join("proto/a.rs"),
        clean.replace("pub struct A { n: u32 }", "pub struct A {\n    peer: B,\n}"),
    )
    .unwrap();
    // The world reading the global key table to hand it over.
    std::fs::write(
        dir.join("world/x.rs"),
        "fn f(net: &N) { let k = net.sec.psk(1, b\"x\", t); }\n",
    )
    .unwrap();
    let bad = wire_truth_violations(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        bad.iter()
            .any(|b| b.contains("proto/b.rs:1") && b.contains("the network")),
        "{bad:?}"
    );
    assert!(
        bad.iter()
            .any(|b| b.contains("proto/b.rs:2") && b.contains("&'a Network")),
        "{bad:?}"
    );
    assert!(
        bad.iter().any(|b| b.contains("machine `A` holds another machine, `B`")),
        "{bad:?}"
    );
    assert!(
        bad.iter().any(|b| b.contains("world/x.rs:1") && b.contains(".sec.")),
        "{bad:?}"
    );
}
