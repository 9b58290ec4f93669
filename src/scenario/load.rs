//! Loading scenario files, with every error located at the offending value.
//!
//! ```text
//!  bytes ──header──► ron (serde) ──► semantic checks ──► TopologyFile / Scenario
//!           │            │                 │
//!           └────────────┴─────────────────┴──► ScenarioError (file:line:col: field: …)
//! ```
//!
//! # Error format
//!
//! ```text
//! topologies/x.ron:12:5: links[3].target: unknown node `nf-x` (did you mean `nf-a`?)
//! ^ file           ^ line:column (1-based, in characters)
//!                       ^ field path (see [`locate`](super::locate))
//!                                         ^ message (lowercase)   ^ suggestion
//! ```
//!
//! The position is the start of the offending value (for an unknown or duplicate field, the
//! field name; for a bad map key such as an unknown AEF in `capif.aefs`, the key; for a
//! missing field, the struct that lacks it; for a syntax error, where ron stopped). Errors in a topology referenced by an experiment name the topology file. Only
//! the first error in file order is reported.
//!
//! # Struct names
//!
//! A file must start (after comments and `#![enable(...)]` attributes) with its struct name,
//! `Topology(` or `Experiment(`: this is how `secsim validate` tells them apart, and it is
//! checked before ron sees the file. A topology file may instead start with
//! `TopologyGenerator(` ([`generate`]): it is expanded into a topology at load, its errors
//! located in the generator file. Nested struct names are optional (ron's default) and,
//! when written, must be the Rust names (`NodeSpec(`, `HttpFlowSpec(`). A workload flow is a
//! newtype variant, written `Http((client: "a", server: "b", ...))`, or
//! `Http(client: "a", ...)` with `#![enable(unwrap_variant_newtypes)]` at the top. To write
//! files from Rust, use ron's `PrettyConfig::new().struct_names(true)`.

use std::fmt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::engine::{SimDuration, SimTime};

use super::generate;
use super::locate::{MAX_NESTING, Outline, header};
use super::schema::{ExperimentFile, TopologyFile, TopologyGenerator};
use super::validate::{self, Issue};

/// A loaded, validated experiment and its topology.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub experiment: ExperimentFile,
    pub topology: TopologyFile,
    pub experiment_path: PathBuf,
    pub topology_path: PathBuf,
    /// SHA-256 (hex) over both files' bytes: travels with every result.
    pub hash: String,
    /// How many of `experiment.workload`'s flows the file wrote (the rest, after them, came
    /// from its `workload_generators`).
    pub written_flows: usize,
}

impl Scenario {
    /// When the last scheduled disturbance of a scenario stops: the end of the last link-down
    /// window, scripted RI refusal window, N32 context termination, AEF method change, revocation
    /// or CCF restart. `None` if
    /// a link goes down for good. Continuous faults (loss, RI refusal policies, N32-f tampering)
    /// do not stop, but every procedure they touch still ends (with an error), so liveness is
    /// judged across them.
    pub fn heal_time(&self) -> Option<SimTime> {
        let scn = self;
        let mut heal = SimDuration::ZERO;
        for l in &scn.topology.links {
            for w in &l.down {
                heal = heal.max(w.to?);
            }
        }
        for t in &scn.experiment.n32.terminate_at {
            heal = heal.max(*t);
        }
        // Scripted RI refusal windows (an RI outage); an open-ended one is a policy, not a fault.
        for p in scn.experiment.n32.ri_policies.values() {
            for s in &p.scripted {
                heal = heal.max(s.until.unwrap_or(s.at));
            }
        }
        let c = &scn.experiment.capif;
        for m in &c.method_changes {
            heal = heal.max(m.at);
        }
        for r in &c.revocations {
            heal = heal.max(r.at);
        }
        for r in &c.ccf_restarts {
            heal = heal.max(r.at + r.down);
        }
        Some(SimTime::ZERO + heal)
    }
}

/// The process exit code for a [`ScenarioError`]: bad input, not a crash.
pub const INPUT_ERROR_EXIT_CODE: i32 = 2;

/// Which step refused the file.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum ErrorKind {
    /// The file could not be read (missing, a folder, larger than [`MAX_FILE_BYTES`]). No
    /// line or column.
    Read,
    /// Not RON, or the wrong file kind (bad header, unclosed paren, trailing characters,
    /// brackets nested too deep, bytes that are not UTF-8).
    Syntax,
    /// RON, but not the schema: unknown or missing field, unknown variant, wrong type, bad
    /// duration.
    Schema,
    /// The schema holds but a value makes no sense: unknown node, loss 1.5, unreachable pair.
    Invalid,
}

impl ErrorKind {
    /// Every kind is caused by what the user gave us; the CLI exits with
    /// [`INPUT_ERROR_EXIT_CODE`].
    pub fn is_input_error(self) -> bool {
        true
    }

    /// Every kind stops the run before it starts.
    pub fn is_fatal(self) -> bool {
        true
    }
}

/// A scenario file that could not be used, located at the offending value.
///
/// Display: `path:line:column: field: message (did you mean `suggestion`?)`; the field part
/// is left out when the error concerns the whole file, the position when there is none. A
/// field or message longer than [`MAX_SHOWN_CHARS`] is cut.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ScenarioError {
    pub kind: ErrorKind,
    /// The file at fault (for an error in the topology of an experiment: the topology).
    pub path: PathBuf,
    /// 1-based line; `None` only for [`ErrorKind::Read`].
    pub line: Option<u32>,
    /// 1-based column in characters; `None` only for [`ErrorKind::Read`].
    pub column: Option<u32>,
    /// Dotted field path: `links[3].latency`, `workload[0].Http.via`; empty for the file.
    pub field: String,
    /// Lowercase, names the value at fault.
    pub message: String,
    /// The nearest valid name, for a misspelt field, variant, node or domain.
    pub suggestion: Option<String>,
}

impl ScenarioError {
    /// `true` for all scenario errors: see [`ErrorKind::is_input_error`].
    pub fn is_input_error(&self) -> bool {
        self.kind.is_input_error()
    }

    /// `"line:column"`, or `""` for a read error.
    pub fn position(&self) -> String {
        match (self.line, self.column) {
            (Some(l), Some(c)) => format!("{l}:{c}"),
            _ => String::new(),
        }
    }
}

/// The most characters of a field path or message [`ScenarioError`] displays: a name of
/// megabytes quoted in a message would bury the error.
pub const MAX_SHOWN_CHARS: usize = 400;

/// `s`, or its first [`MAX_SHOWN_CHARS`] characters and how many were left out.
fn shown(s: &str) -> std::borrow::Cow<'_, str> {
    match s.char_indices().nth(MAX_SHOWN_CHARS) {
        None => s.into(),
        Some((cut, _)) => format!("{}… ({} more characters)", &s[..cut], s[cut..].chars().count()).into(),
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let (Some(l), Some(c)) = (self.line, self.column) {
            write!(f, ":{l}:{c}")?;
        }
        write!(f, ": ")?;
        if !self.field.is_empty() {
            write!(f, "{}: ", shown(&self.field))?;
        }
        write!(f, "{}", shown(&self.message))?;
        if let Some(s) = &self.suggestion {
            write!(f, " (did you mean `{s}`?)")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}

/// A source being loaded: its text, path and outline.
struct Source<'a> {
    src: &'a str,
    path: &'a Path,
    outline: Outline,
}

impl<'a> Source<'a> {
    fn new(src: &'a str, path: &'a Path) -> Self {
        Source {
            src,
            path,
            outline: Outline::parse(src),
        }
    }

    fn error_at(&self, kind: ErrorKind, offset: usize, field: String, message: String) -> ScenarioError {
        let (line, col) = self.outline.line_col(offset);
        ScenarioError {
            kind,
            path: self.path.to_path_buf(),
            line: Some(u32::try_from(line).unwrap_or(u32::MAX)),
            column: Some(u32::try_from(col).unwrap_or(u32::MAX)),
            field,
            message,
            suggestion: None,
        }
    }

    /// Locates a semantic issue at its value (or the nearest written ancestor); an issue
    /// with a map entry itself (`capif.aefs["aef-x"]`) at the entry's key.
    fn issue(&self, issue: Issue) -> ScenarioError {
        let offset = match self.outline.find_or_ancestor(&issue.field) {
            Some(e) if e.key_path == issue.field && issue.field.ends_with(']') => {
                e.key.as_ref().map_or(e.value.start, |k| k.start)
            }
            Some(e) => e.value.start,
            None => 0,
        };
        let mut e = self.error_at(ErrorKind::Invalid, offset, issue.field, issue.message);
        e.suggestion = issue.suggestion;
        e
    }

    /// The first issue in file order.
    fn first_issue(&self, issues: Vec<Issue>) -> Result<(), ScenarioError> {
        let located = issues.into_iter().map(|i| self.issue(i));
        match located.min_by_key(|e| (e.line, e.column)) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Checks the leading struct name.
    fn check_header(&self, want: &str) -> Result<(), ScenarioError> {
        let other = if want == "Topology" { "Experiment" } else { "Topology" };
        match header(self.src) {
            Some((name, _)) if name == want => Ok(()),
            Some((name, start)) if name == other => Err(self.error_at(
                ErrorKind::Syntax,
                start,
                String::new(),
                format!(
                    "this is {} file, expected {} file starting with `{want}(`",
                    article(other),
                    article(want)
                ),
            )),
            Some((name, start)) => {
                let mut e = self.error_at(
                    ErrorKind::Syntax,
                    start,
                    String::new(),
                    format!(
                        "expected the file to start with `{want}(`, found {}",
                        validate::quoted(&name)
                    ),
                );
                e.suggestion = validate::suggest(&name, [want]);
                Err(e)
            }
            None => {
                let start = self.outline.token_from(0).map_or(0, |r| r.start);
                Err(self.error_at(
                    ErrorKind::Syntax,
                    start,
                    String::new(),
                    format!("expected the file to start with `{want}(`"),
                ))
            }
        }
    }

    /// Checks the leading struct name of a topology: as [`Source::check_header`], and a
    /// name nearer `TopologyGenerator` than `Topology` is suggested as such.
    fn check_topology_header(&self) -> Result<(), ScenarioError> {
        self.check_header("Topology").map_err(|mut e| {
            if let Some((name, _)) = header(self.src)
                && name != "Experiment"
                && validate::suggest(&name, ["Topology", generate::HEADER]).as_deref() == Some(generate::HEADER)
            {
                e.message = format!(
                    "expected the file to start with `Topology(` or `{}(`, found {}",
                    generate::HEADER,
                    validate::quoted(&name)
                );
                e.suggestion = Some(generate::HEADER.to_string());
            }
            e
        })
    }

    /// Parses with ron and turns its error into a located one. Nesting deeper than
    /// [`MAX_NESTING`] is refused first, at the first bracket too deep.
    fn ron<T: serde::de::DeserializeOwned>(&self) -> Result<T, ScenarioError> {
        if let Some(at) = self.outline.too_deep() {
            return Err(self.error_at(
                ErrorKind::Syntax,
                at,
                String::new(),
                format!("brackets nested deeper than {MAX_NESTING} levels"),
            ));
        }
        ron::Options::default()
            .from_str(self.src)
            .map_err(|e| self.ron_error(e))
    }

    /// The token at `offset` quoted for a message (`"high"`), shortened if long.
    fn found_at(&self, offset: usize) -> Option<String> {
        let r = self.outline.token_from(offset)?;
        let text = self.src.get(r)?;
        let short: String = text.chars().take(24).collect();
        let more = if short.len() < text.len() { "…" } else { "" };
        Some(format!("`{short}{more}`"))
    }

    fn ron_error(&self, err: ron::error::SpannedError) -> ScenarioError {
        use ron::error::Error as R;
        let o = &self.outline;
        let start = o.offset(err.span.start.line, err.span.start.col);
        let end = o.offset(err.span.end.line, err.span.end.col);
        // The token ron consumed last (the span usually starts on it).
        let last = o.token_before(end.max(start + 1)).unwrap_or(start);
        let at = |offset: usize| o.entry_at(offset);
        match err.code {
            R::NoSuchStructField { expected, found, .. } => {
                // The span covers the field name.
                let (offset, field) = match at(start) {
                    Some(e) if e.key.as_ref().is_some_and(|k| k.start <= start && start < k.end) => {
                        (e.key.as_ref().map_or(start, |k| k.start), e.key_path.clone())
                    }
                    Some(e) => (start, join(&e.path, &found)),
                    None => (start, found.clone()),
                };
                let suggestion = validate::suggest(&found, expected.iter().copied());
                let message = if suggestion.is_some() {
                    format!("unknown field {}", validate::quoted(&found))
                } else {
                    format!(
                        "unknown field {}, expected {}",
                        validate::quoted(&found),
                        one_of(expected)
                    )
                };
                let mut e = self.error_at(ErrorKind::Schema, offset, field, message);
                e.suggestion = suggestion;
                e
            }
            R::DuplicateStructField { field, .. } => {
                let (offset, path) = match at(start) {
                    Some(e) if e.key.is_some() => (e.key.as_ref().map_or(start, |k| k.start), e.key_path.clone()),
                    Some(e) => (start, join(&e.path, field)),
                    None => (start, field.to_string()),
                };
                self.error_at(ErrorKind::Schema, offset, path, format!("duplicate field `{field}`"))
            }
            R::MissingStructField { field, .. } => {
                // ron stops on the closing parenthesis of the struct that lacks the field.
                let (offset, path) = match at(last) {
                    Some(e) => (e.value.start, join(&e.path, field)),
                    None => (start, field.to_string()),
                };
                self.error_at(ErrorKind::Schema, offset, path, format!("missing field `{field}`"))
            }
            R::NoSuchEnumVariant { expected, found, .. } => {
                let (offset, path) = match at(start) {
                    Some(e) => (e.value.start, e.key_path.clone()),
                    None => (start, String::new()),
                };
                let suggestion = validate::suggest(&found, expected.iter().copied());
                let message = if suggestion.is_some() {
                    format!("unknown variant {}", validate::quoted(&found))
                } else {
                    format!(
                        "unknown variant {}, expected {}",
                        validate::quoted(&found),
                        one_of(expected)
                    )
                };
                let mut e = self.error_at(ErrorKind::Schema, offset, path, message);
                e.suggestion = suggestion;
                e
            }
            R::Message(msg) => {
                // A custom error (a bad duration): ron has just read the value.
                let (offset, path) = match at(last) {
                    Some(e) => (e.value.start, e.key_path.clone()),
                    None => (start, String::new()),
                };
                self.error_at(ErrorKind::Schema, offset, path, lower_first(&msg))
            }
            R::InvalidValueForType { expected, found } => {
                let (offset, path) = match at(last) {
                    Some(e) => (e.value.start, e.key_path.clone()),
                    None => (start, String::new()),
                };
                self.error_at(
                    ErrorKind::Schema,
                    offset,
                    path,
                    format!("expected {expected}, found {found}"),
                )
            }
            R::ExpectedDifferentStructName { expected, found } => {
                let (offset, path) = match at(start) {
                    Some(e) => (e.value.start, e.key_path.clone()),
                    None => (start, String::new()),
                };
                let mut e = self.error_at(
                    ErrorKind::Schema,
                    offset,
                    path,
                    format!("expected struct `{expected}`, found {}", validate::quoted(&found)),
                );
                e.suggestion = Some(expected.to_string());
                e
            }
            code => {
                let kind = match code {
                    R::ExpectedString
                    | R::ExpectedInteger
                    | R::ExpectedFloat
                    | R::ExpectedBoolean
                    | R::ExpectedOption
                    | R::ExpectedArray
                    | R::ExpectedStructLike
                    | R::ExpectedNamedStructLike(_)
                    | R::IntegerOutOfBounds
                    | R::ExpectedDifferentLength { .. } => ErrorKind::Schema,
                    _ => ErrorKind::Syntax,
                };
                // Point at where ron stopped; name the innermost value around it.
                let offset = match code {
                    R::Eof => self.src.len(),
                    // ron's span may start on the whitespace before the culprit (or, for
                    // trailing characters, right after the value): point at the next token.
                    _ => o.token_from(start).map_or(start, |r| r.start),
                };
                let path = o.path_at(offset.min(self.src.len().saturating_sub(1)));
                let message = match code {
                    R::ExpectedOption => "expected an option: write `Some(value)` or `None`".to_string(),
                    R::Eof => match o.unclosed() {
                        Some(open) => {
                            let (l, c) = o.line_col(open);
                            format!(
                                "unexpected end of file: the `{}` at {l}:{c} is never closed",
                                self.src.get(open..open + 1).unwrap_or("(")
                            )
                        }
                        None => "unexpected end of file".to_string(),
                    },
                    R::TrailingCharacters => "unexpected characters after the end of the file's value".to_string(),
                    code => lower_first(&code.to_string()),
                };
                let message = match (kind, self.found_at(offset)) {
                    (ErrorKind::Schema, Some(found)) => format!("{message}, found {found}"),
                    _ => message,
                };
                self.error_at(kind, offset, path, message)
            }
        }
    }
}

fn article(kind: &str) -> &'static str {
    if kind == "Topology" {
        "a topology"
    } else {
        "an experiment"
    }
}

fn join(parent: &str, field: &str) -> String {
    if parent.is_empty() {
        field.to_string()
    } else {
        format!("{parent}.{field}")
    }
}

fn one_of(names: &[&str]) -> String {
    match names {
        [] => "nothing".to_string(),
        [one] => format!("`{one}`"),
        _ => format!(
            "one of {}",
            names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// `Expected closing` → `expected closing`; leaves `NaN`-like words alone past the first.
fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The largest scenario file read \[bytes\]: far above any real file (a 100,000-node
/// topology is about 10 MB), and it keeps `secsim validate /dev/zero` from reading forever.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

fn read(path: &Path) -> Result<String, ScenarioError> {
    use std::io::Read;
    let error = |message: String| ScenarioError {
        kind: ErrorKind::Read,
        path: path.to_path_buf(),
        line: None,
        column: None,
        field: String::new(),
        message,
        suggestion: None,
    };
    let io = |e: std::io::Error| error(format!("cannot read file: {}", lower_first(&e.to_string())));
    // Opening a named pipe would block until a writer comes: refuse what is not a file.
    if let Ok(meta) = std::fs::metadata(path)
        && !meta.is_file()
    {
        let what = if meta.is_dir() {
            "a folder"
        } else {
            "not a regular file (a named pipe, socket or device)"
        };
        return Err(error(format!(
            "cannot read file: it is {what}; scenario files are regular files"
        )));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(io)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(error(format!(
            "file is larger than the limit of {MAX_FILE_BYTES} bytes (64 MiB)"
        )));
    }
    // A UTF-8 byte order mark (some Windows editors write one) is not part of the text.
    if bytes.starts_with(&[0xef, 0xbb, 0xbf]) {
        bytes.drain(..3);
    }
    String::from_utf8(bytes).map_err(|e| {
        // Located at the first bad byte: a syntax error like any other.
        let bytes = e.as_bytes();
        let at = e.utf8_error().valid_up_to();
        let valid = std::str::from_utf8(&bytes[..at]).unwrap_or_default();
        let line = valid.matches('\n').count() + 1;
        let column = valid.rsplit('\n').next().unwrap_or_default().chars().count() + 1;
        ScenarioError {
            kind: ErrorKind::Syntax,
            line: Some(u32::try_from(line).unwrap_or(u32::MAX)),
            column: Some(u32::try_from(column).unwrap_or(u32::MAX)),
            ..error(format!("not UTF-8 text: byte 0x{:02x} at byte offset {at}", bytes[at]))
        }
    })
}

/// Parses and validates a topology from `src`; errors name `path_for_errors`. A source
/// starting with `TopologyGenerator(` is expanded ([`parse_generator_str`]).
pub fn parse_topology_str(src: &str, path_for_errors: &Path) -> Result<TopologyFile, ScenarioError> {
    if is_generator(src) {
        return parse_generator_str(src, path_for_errors).map(|(_, t)| t);
    }
    let s = Source::new(src, path_for_errors);
    s.check_topology_header()?;
    let topology: TopologyFile = s.ron()?;
    s.first_issue(validate::topology(&topology))?;
    Ok(topology)
}

/// Whether `src` starts with `TopologyGenerator(`.
fn is_generator(src: &str) -> bool {
    header(src).is_some_and(|(name, _)| name == generate::HEADER)
}

/// Parses a topology generator from `src`, checks its parameters and expands it; errors
/// name `path_for_errors` and point into the generator file.
pub fn parse_generator_str(
    src: &str,
    path_for_errors: &Path,
) -> Result<(TopologyGenerator, TopologyFile), ScenarioError> {
    let s = Source::new(src, path_for_errors);
    let g: TopologyGenerator = s.ron()?;
    let topology = generate::generate(&g).map_err(|issues| match s.first_issue(issues) {
        Err(e) => e,
        // `generate` refuses with at least one issue; should the list be empty, say so.
        Ok(()) => s.error_at(
            ErrorKind::Invalid,
            0,
            "kind".to_string(),
            "the generator was refused".to_string(),
        ),
    })?;
    // Valid by construction; should it not be, blame the generator rather than a link
    // that is not in the file.
    if let Some(i) = validate::topology(&topology).into_iter().next() {
        s.first_issue(vec![Issue::new(
            "kind",
            format!("the generated topology is invalid: {}: {}", i.field, i.message),
        )])?;
    }
    Ok((g, topology))
}

/// Parses and validates an experiment from `src` on its own (no topology checks); errors
/// name `path_for_errors`.
pub fn parse_experiment_str(src: &str, path_for_errors: &Path) -> Result<ExperimentFile, ScenarioError> {
    let s = Source::new(src, path_for_errors);
    s.check_header("Experiment")?;
    let experiment: ExperimentFile = s.ron()?;
    s.first_issue(validate::experiment(&experiment))?;
    Ok(experiment)
}

/// Reads, parses and validates a topology file.
pub fn load_topology(path: &Path) -> Result<TopologyFile, ScenarioError> {
    parse_topology_str(&read(path)?, path)
}

/// Where an experiment's `topology` field points: relative to the experiment's folder.
pub fn topology_path_of(experiment_path: &Path, experiment: &ExperimentFile) -> PathBuf {
    experiment_path
        .parent()
        .unwrap_or(Path::new("."))
        .join(&experiment.topology)
}

/// Reads, parses and validates an experiment, its topology, and the two together (workload
/// nodes exist, `via` is a proxy, the needed pairs are connected).
pub fn load_experiment(path: &Path) -> Result<Scenario, ScenarioError> {
    let src = read(path)?;
    load_experiment_source(&src, path, None)
}

/// [`load_experiment`] from the experiment's source text (errors still name `path`) and,
/// if given, its topology's source text instead of the file's (sweep points).
pub fn load_experiment_source(src: &str, path: &Path, topology_src: Option<&str>) -> Result<Scenario, ScenarioError> {
    let s = Source::new(src, path);
    s.check_header("Experiment")?;
    let mut experiment: ExperimentFile = s.ron()?;
    let topology_path = topology_path_of(path, &experiment);
    let mut issues = validate::experiment(&experiment);
    if topology_src.is_none() && !topology_path.is_file() {
        issues.push(Issue::new(
            "topology",
            format!("topology file `{}` not found", topology_path.display()),
        ));
    }
    s.first_issue(issues)?;
    let tsrc = match topology_src {
        Some(t) => t.to_string(),
        None => read(&topology_path)?,
    };
    let topology = parse_topology_str(&tsrc, &topology_path)?;
    let written = experiment.workload.len();
    let mut from = Vec::new();
    if !experiment.workload_generators.is_empty() {
        let (flows, f) =
            super::workload_gen::expand(&experiment.workload_generators, &topology).map_err(|i| s.issue(i))?;
        experiment.workload.extend(flows);
        from = f;
        // The experiment-wide checks, now on the generated flows too (the written ones passed).
        s.first_issue(generated_issues(
            validate::experiment(&experiment),
            &experiment,
            written,
            &from,
        ))?;
    }
    s.first_issue(generated_issues(
        validate::workload_on(&experiment, &topology, &topology_path),
        &experiment,
        written,
        &from,
    ))?;
    let mut h = Sha256::new();
    h.update(src.as_bytes());
    h.update(tsrc.as_bytes());
    Ok(Scenario {
        experiment,
        topology,
        experiment_path: path.to_path_buf(),
        topology_path,
        hash: hex::encode(h.finalize()),
        written_flows: written,
    })
}

/// Issues about generated flows (`workload[i]` with `i >= written`) are moved to the
/// generator that made the flow (`workload_generators[g]`, which has a place in the file),
/// the message naming the flow and its field.
fn generated_issues(issues: Vec<Issue>, experiment: &ExperimentFile, written: usize, from: &[usize]) -> Vec<Issue> {
    issues
        .into_iter()
        .map(|mut issue| {
            let Some(rest) = issue.field.strip_prefix("workload[") else {
                return issue;
            };
            let Some((idx, tail)) = rest.split_once(']') else {
                return issue;
            };
            let Ok(i) = idx.parse::<usize>() else { return issue };
            let Some(&g) = i.checked_sub(written).and_then(|k| from.get(k)) else {
                return issue;
            };
            let name = match &experiment.workload[i] {
                super::schema::WorkloadSpec::N32(f) => f.name.clone().unwrap_or_default(),
                _ => String::new(),
            };
            let tail = tail.trim_start_matches('.');
            issue.message = format!("generated flow `{name}` ({tail}): {}", issue.message);
            issue.field = format!("workload_generators[{g}]");
            issue
        })
        .collect()
}

/// What kind of scenario file a source is, by its leading struct name.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum FileKind {
    Topology,
    Experiment,
}

/// Detects the kind of a scenario source from its leading struct name (a
/// `TopologyGenerator` is a topology).
pub fn file_kind(src: &str) -> Option<FileKind> {
    match header(src)?.0.as_str() {
        "Topology" | generate::HEADER => Some(FileKind::Topology),
        "Experiment" => Some(FileKind::Experiment),
        _ => None,
    }
}

/// `secsim validate <file>`: loads a topology or an experiment (told apart by the leading
/// struct name), and each point of an experiment's sweep, and returns a summary of counts
/// (nodes per role, flows per kind; a few lines whatever the size).
pub fn validate_path(path: &Path) -> Result<String, ScenarioError> {
    validate_path_with(path, false)
}

/// [`validate_path`]; with `verbose`, the summary lists every domain, node role count and
/// flow (`secsim validate --verbose`).
pub fn validate_path_with(path: &Path, verbose: bool) -> Result<String, ScenarioError> {
    let topology_summary = if verbose {
        validate::summarize_topology
    } else {
        validate::brief_topology
    };
    let src = read(path)?;
    match file_kind(&src) {
        Some(FileKind::Topology) if is_generator(&src) => {
            let (g, t) = parse_generator_str(&src, path)?;
            Ok(format!(
                "{}: ok: {} Generated by {}.",
                path.display(),
                topology_summary(&t),
                generate::describe(&g)
            ))
        }
        Some(FileKind::Topology) => {
            let t = parse_topology_str(&src, path)?;
            Ok(format!("{}: ok: {}", path.display(), topology_summary(&t)))
        }
        Some(FileKind::Experiment) => {
            let sc = load_experiment(path)?;
            let text = if verbose {
                validate::summarize_scenario(&sc)
            } else {
                validate::brief_scenario(&sc)
            };
            let mut summary = format!("{}: ok: {text}", path.display());
            if !sc.experiment.sweep.is_empty() {
                // Every sweep point is loaded as `secsim run` loads it, a batch at a time.
                let points = super::points::Points::open(path)?;
                points.check_all(|_| Ok::<_, ScenarioError>(()))?;
                summary.push_str(&format!(" Sweep: {} points, each valid.", points.len()));
            }
            Ok(summary)
        }
        None => {
            let s = Source::new(&src, path);
            let start = s.outline.token_from(0).map_or(0, |r| r.start);
            let found = header(&src).map(|h| h.0);
            let mut e = s.error_at(
                ErrorKind::Syntax,
                start,
                String::new(),
                "expected the file to start with `Topology(` or `Experiment(`, or `TopologyGenerator(` for a generated topology"
                    .to_string(),
            );
            e.suggestion = found.and_then(|f| validate::suggest(&f, ["Topology", "Experiment", generate::HEADER]));
            Err(e)
        }
    }
}
