//! A lightweight RON structure locator: maps source positions to field paths and back.
//!
//! ron reports a line and column, serde reports nothing at all about *which* field; the
//! semantic checks know the field but not where it is written. [`Outline`] bridges the two
//! with one forgiving pass over the source:
//!
//! ```text
//!  source ──tokenize──► tokens ──nest──► nodes (arena, pre-order)
//!                                          │
//!            path_at(offset) ◄─────────────┤   "links[3].latency"
//!            find("links[3].target") ◄─────┘   byte offset of the value
//! ```
//!
//! The tokenizer skips strings (plain, raw, byte), chars, line comments and nested block
//! comments; the nester tracks `(`, `[`, `{` and the field names and list indices on the way.
//! It never fails: unbalanced closers are ignored and unclosed openers end at the end of the
//! file, so even a file ron refuses still gets the best path available.
//!
//! Path syntax: fields are joined with `.`, list elements are `[i]`, map entries with a
//! string key are `["key"]` (`capif.aefs["aef-a1"].methods`), and an enum variant
//! written `Variant(...)` adds `.Variant`: `links[0].latency.Uniform.max`,
//! `workload[0].Http.via`. The top-level struct name (`Topology(`), nested struct names
//! ending in `Spec` and `Some(...)` add nothing. A variant's single unnamed argument adds
//! nothing either (`Constant("20ms")` is `….latency.Constant`); several are indexed.

use std::ops::Range;

/// What a token is; only the structure matters, so values are not decoded.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum Tok {
    Ident,
    /// A string, char, number or any other atom.
    Atom,
    Open(u8),
    Close(u8),
    Colon,
    Comma,
    Hash,
}

#[derive(Clone, Copy, Debug)]
struct Token {
    tok: Tok,
    start: usize,
    end: usize,
}

/// The text of a token (token bounds are char boundaries; empty if not).
fn text(src: &str, t: &Token) -> String {
    src.get(t.start..t.end).unwrap_or_default().to_string()
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Splits `src` into structural tokens. Unterminated strings and comments run to the end.
fn tokenize(src: &str) -> Vec<Token> {
    let b = src.as_bytes();
    let n = b.len();
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        let c = b[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < n && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if c == b'/' && b.get(i + 1) == Some(&b'*') {
            i += 2;
            let mut depth = 1usize;
            while i < n && depth > 0 {
                if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                    depth -= 1;
                    i += 2;
                } else {
                    i += 1;
                }
            }
            continue;
        }
        // Raw strings: r"…", r#"…"#, br#"…"#.
        let raw_at = if c == b'r' {
            Some(i + 1)
        } else if c == b'b' && b.get(i + 1) == Some(&b'r') {
            Some(i + 2)
        } else {
            None
        };
        if let Some(mut j) = raw_at {
            let mut hashes = 0;
            while j < n && b[j] == b'#' {
                hashes += 1;
                j += 1;
            }
            if j < n && b[j] == b'"' {
                j += 1;
                'scan: while j < n {
                    if b[j] == b'"' {
                        let close = j + 1;
                        if (0..hashes).all(|k| b.get(close + k) == Some(&b'#')) {
                            j = close + hashes;
                            break 'scan;
                        }
                    }
                    j += 1;
                }
                i = j.min(n);
                out.push(Token {
                    tok: Tok::Atom,
                    start,
                    end: i,
                });
                continue;
            }
        }
        // Strings and byte strings.
        let quoted_at = if c == b'"' {
            Some(i)
        } else if c == b'b' && b.get(i + 1) == Some(&b'"') {
            Some(i + 1)
        } else {
            None
        };
        if let Some(q) = quoted_at {
            let mut j = q + 1;
            while j < n && b[j] != b'"' {
                if b[j] == b'\\' {
                    j += 1;
                }
                j += 1;
            }
            i = (j + 1).min(n);
            out.push(Token {
                tok: Tok::Atom,
                start,
                end: i,
            });
            continue;
        }
        // Chars and byte chars: 'a', '\'', '\u{1F600}'. An unclosed quote is one atom.
        let char_at = if c == b'\'' {
            Some(i)
        } else if c == b'b' && b.get(i + 1) == Some(&b'\'') {
            Some(i + 1)
        } else {
            None
        };
        if let Some(q) = char_at {
            let mut j = q + 1;
            while j < n && b[j] != b'\'' && b[j] != b'\n' {
                if b[j] == b'\\' {
                    j += 1;
                }
                j += 1;
            }
            i = if j < n && b[j] == b'\'' { j + 1 } else { q + 1 };
            out.push(Token {
                tok: Tok::Atom,
                start,
                end: i.min(n),
            });
            continue;
        }
        if c == b'r' && b.get(i + 1) == Some(&b'#') && b.get(i + 2).is_some_and(|&x| is_ident_start(x)) {
            i += 2;
            while i < n && is_ident_char(b[i]) {
                i += 1;
            }
            out.push(Token {
                tok: Tok::Ident,
                start,
                end: i,
            });
            continue;
        }
        if is_ident_start(c) {
            while i < n && is_ident_char(b[i]) {
                i += 1;
            }
            out.push(Token {
                tok: Tok::Ident,
                start,
                end: i,
            });
            continue;
        }
        let signed = (c == b'-' || c == b'+') && b.get(i + 1).is_some_and(|&x| x.is_ascii_alphanumeric() || x == b'.');
        let dotted = c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit);
        if c.is_ascii_digit() || signed || dotted {
            i += 1;
            while i < n {
                let x = b[i];
                let exp_sign = (x == b'-' || x == b'+') && matches!(b[i - 1], b'e' | b'E');
                if x.is_ascii_alphanumeric() || x == b'_' || x == b'.' || exp_sign {
                    i += 1;
                } else {
                    break;
                }
            }
            out.push(Token {
                tok: Tok::Atom,
                start,
                end: i,
            });
            continue;
        }
        let tok = match c {
            b'(' | b'[' | b'{' => Tok::Open(c),
            b')' | b']' | b'}' => Tok::Close(c),
            b':' => Tok::Colon,
            b',' => Tok::Comma,
            b'#' => Tok::Hash,
            _ => Tok::Atom,
        };
        // Step over a whole UTF-8 character so that offsets stay on char boundaries.
        i += 1;
        while i < n && !src.is_char_boundary(i) {
            i += 1;
        }
        out.push(Token { tok, start, end: i });
    }
    out
}

/// How a node hangs from its parent.
#[derive(Clone, Debug)]
enum Key {
    /// `name: value`.
    Field(String),
    /// `"key": value` in a map (`{...}`): the key as written, decoded if it is a string.
    Map { name: String, quoted: bool },
    /// The i-th unnamed element.
    Index(usize),
}

/// A map key as it appears in paths: a string's contents (`"aef-a1"` → `aef-a1`, also raw
/// strings; escapes `\"` and `\\` decoded), anything else verbatim. The flag says which.
fn map_key(token: &str) -> (String, bool) {
    let raw = token.strip_prefix('r').map(|r| r.trim_matches('#'));
    if let Some(inner) = raw.and_then(|r| r.strip_prefix('"')).and_then(|r| r.strip_suffix('"')) {
        return (inner.to_string(), true);
    }
    if let Some(inner) = token.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        let mut out = String::with_capacity(inner.len());
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            } else {
                out.push(c);
            }
        }
        return (out, true);
    }
    (token.to_string(), false)
}

#[derive(Clone, Debug)]
struct Node {
    parent: Option<usize>,
    key: Key,
    /// Where the field name (or map key) is, for `name: value`.
    key_range: Option<Range<usize>>,
    start: usize,
    end: usize,
    /// `Variant(` in front of the parenthesis, if any.
    variant: Option<String>,
    /// The delimiter this node opens, if it is a container.
    open: Option<u8>,
    /// Byte offset of that delimiter.
    open_at: usize,
    unnamed: usize,
}

/// One value of the file with its path.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Entry {
    /// The path including the value's own variant: `links[0].latency.Uniform`.
    pub path: String,
    /// The path the value is stored under: `links[0].latency`.
    pub key_path: String,
    /// Byte range of the field name (or map key), if the value is written `name: value`.
    pub key: Option<Range<usize>>,
    /// Byte range of the value.
    pub value: Range<usize>,
}

/// The structure of one RON source: every value with its path, in file order.
#[derive(Clone, Debug)]
pub struct Outline {
    entries: Vec<Entry>,
    /// Byte offsets of line starts.
    lines: Vec<usize>,
    src_len: usize,
    /// Column counting needs the source.
    src: String,
    toks: Vec<Token>,
    unclosed: Option<usize>,
    too_deep: Option<usize>,
}

/// The deepest nesting of brackets an outline follows (and the loader accepts): RON's own
/// recursion limit. Scenario files nest about ten levels.
pub const MAX_NESTING: usize = 128;

/// Struct names that add nothing to a path (besides the top-level one).
fn transparent(name: &str) -> bool {
    name == "Some" || name.ends_with("Spec")
}

impl Outline {
    /// Outlines `src`. Never fails.
    pub fn parse(src: &str) -> Outline {
        let toks = tokenize(src);
        let mut nodes: Vec<Node> = Vec::new();
        let mut stack: Vec<usize> = Vec::new();
        let mut top_level = 0usize;
        let mut pending: Option<(Key, Range<usize>)> = None;
        let mut too_deep = None;
        let mut i = 0;
        while i < toks.len() {
            let t = toks[i];
            let next = toks.get(i + 1).map(|t| t.tok);
            match t.tok {
                Tok::Ident if next == Some(Tok::Colon) && !stack.is_empty() => {
                    pending = Some((Key::Field(text(src, &t)), t.start..t.end));
                    i += 2;
                    continue;
                }
                // `"key": value` inside a map.
                Tok::Atom if next == Some(Tok::Colon) && stack.last().is_some_and(|&p| nodes[p].open == Some(b'{')) => {
                    let (name, quoted) = map_key(&text(src, &t));
                    pending = Some((Key::Map { name, quoted }, t.start..t.end));
                    i += 2;
                    continue;
                }
                Tok::Close(_) => {
                    if let Some(top) = stack.pop() {
                        nodes[top].end = t.end;
                    }
                    pending = None;
                    i += 1;
                    continue;
                }
                Tok::Comma | Tok::Colon => {
                    pending = None;
                    i += 1;
                    continue;
                }
                Tok::Hash if stack.is_empty() => {
                    // `#![enable(...)]`: skip to the matching `]`.
                    let mut depth = 0usize;
                    i += 1;
                    while i < toks.len() {
                        match toks[i].tok {
                            Tok::Open(_) => depth += 1,
                            Tok::Close(_) => {
                                depth = depth.saturating_sub(1);
                                if depth == 0 {
                                    i += 1;
                                    break;
                                }
                            }
                            _ => {}
                        }
                        i += 1;
                    }
                    continue;
                }
                _ => {}
            }
            // A value starts here.
            let parent = stack.last().copied();
            let (key, key_range) = match pending.take() {
                Some((key, range)) => (key, Some(range)),
                None => {
                    let counter = match parent {
                        Some(p) => &mut nodes[p].unnamed,
                        None => &mut top_level,
                    };
                    *counter += 1;
                    (Key::Index(*counter - 1), None)
                }
            };
            let mut node = Node {
                parent,
                key,
                key_range,
                start: t.start,
                end: t.end,
                variant: None,
                open: None,
                open_at: t.start,
                unnamed: 0,
            };
            match (t.tok, next) {
                (Tok::Ident, Some(Tok::Open(b'('))) => {
                    node.variant = Some(text(src, &t));
                    node.open = Some(b'(');
                    node.open_at = toks[i + 1].start;
                    i += 2;
                }
                (Tok::Open(d), _) => {
                    node.open = Some(d);
                    i += 1;
                }
                _ => i += 1,
            }
            let opens = node.open.is_some();
            if opens && stack.len() == MAX_NESTING {
                // Paths grow with depth: stop here rather than spend the square of the depth.
                too_deep = Some(node.open_at);
                break;
            }
            nodes.push(node);
            if opens {
                stack.push(nodes.len() - 1);
            }
        }
        let unclosed = stack.last().map(|&n| nodes[n].open_at);
        for open in stack {
            nodes[open].end = src.len();
        }

        // Paths, parents first (pre-order).
        let mut entries: Vec<Entry> = Vec::with_capacity(nodes.len());
        for node in &nodes {
            let (parent_path, parent_node) = match node.parent {
                Some(p) => (entries[p].path.as_str(), Some(&nodes[p])),
                None => ("", None),
            };
            let mut key_path = parent_path.to_string();
            match (&node.key, parent_node) {
                (Key::Field(name), _) => {
                    if !key_path.is_empty() {
                        key_path.push('.');
                    }
                    key_path.push_str(name);
                }
                (Key::Map { name, quoted }, _) => {
                    if *quoted {
                        key_path.push_str(&format!("[\"{name}\"]"));
                    } else {
                        key_path.push_str(&format!("[{name}]"));
                    }
                }
                (Key::Index(i), Some(p)) => {
                    let list = p.open == Some(b'[') && p.variant.is_none();
                    if list || p.unnamed > 1 {
                        key_path.push_str(&format!("[{i}]"));
                    }
                }
                // Top-level values: the first is the document; the rest are trailing junk.
                (Key::Index(i), None) => {
                    if *i > 0 {
                        key_path.push_str(&format!("[{i}]"));
                    }
                }
            }
            let mut path = key_path.clone();
            if let Some(v) = &node.variant {
                let is_root = node.parent.is_none();
                if !is_root && !transparent(v) {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(v);
                }
            }
            entries.push(Entry {
                path,
                key_path,
                key: node.key_range.clone(),
                value: node.start..node.end,
            });
        }
        let mut lines = vec![0];
        lines.extend(src.bytes().enumerate().filter(|&(_, c)| c == b'\n').map(|(i, _)| i + 1));
        Outline {
            entries,
            lines,
            src_len: src.len(),
            src: src.to_string(),
            toks,
            unclosed,
            too_deep,
        }
    }

    /// The byte offset of the first bracket nested deeper than [`MAX_NESTING`], if any; the
    /// outline ends there.
    pub fn too_deep(&self) -> Option<usize> {
        self.too_deep
    }

    /// The byte offset of the innermost bracket that is never closed, if any.
    pub fn unclosed(&self) -> Option<usize> {
        self.unclosed
    }

    /// All values in file order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The deepest value (or field name) that contains byte `offset`.
    pub fn entry_at(&self, offset: usize) -> Option<&Entry> {
        self.entries.iter().rev().find(|e| {
            let start = e.key.as_ref().map_or(e.value.start, |k| k.start);
            start <= offset && offset < e.value.end.max(start + 1)
        })
    }

    /// The path of the deepest value containing byte `offset`; `""` for the top level.
    pub fn path_at(&self, offset: usize) -> String {
        self.entry_at(offset).map(|e| e.path.clone()).unwrap_or_default()
    }

    /// The first value stored under `path` (its key path or its full path).
    pub fn find(&self, path: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.key_path == path || e.path == path)
    }

    /// The value at `path`, or failing that at the nearest written ancestor of `path`
    /// (a defaulted field is not in the file; its struct is).
    pub fn find_or_ancestor(&self, path: &str) -> Option<&Entry> {
        let mut p = path;
        loop {
            if let Some(e) = self.find(p) {
                return Some(e);
            }
            p = parent_path(p)?;
        }
    }

    /// 1-based line and column (in chars) of byte `offset` (clamped to the source).
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.src_len);
        let line = self.lines.partition_point(|&s| s <= offset).max(1);
        let start = self.lines[line - 1];
        let col = self
            .src
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count())
            + 1;
        (line, col)
    }

    /// Byte offset of a 1-based line and column (in chars), clamped to the source.
    pub fn offset(&self, line: usize, col: usize) -> usize {
        let Some(&start) = self.lines.get(line.saturating_sub(1)) else {
            return self.src_len;
        };
        let end = self.lines.get(line).copied().unwrap_or(self.src_len);
        let text = self.src.get(start..end).unwrap_or("");
        match text.char_indices().nth(col.saturating_sub(1)) {
            Some((i, _)) => start + i,
            None => end,
        }
    }

    /// The byte offset of the last non-whitespace, non-comment byte before `offset`, if any.
    pub fn token_before(&self, offset: usize) -> Option<usize> {
        self.toks.iter().rev().find(|t| t.end <= offset).map(|t| t.end - 1)
    }

    /// The byte range of the first token starting at or after `offset`.
    pub fn token_from(&self, offset: usize) -> Option<Range<usize>> {
        self.toks.iter().find(|t| t.start >= offset).map(|t| t.start..t.end)
    }
}

/// The leading identifier of a file and its byte offset, after comments and
/// `#![enable(...)]` attributes: `Topology` for `Topology(...)`. `None` if the first token is
/// not an identifier.
pub fn header(src: &str) -> Option<(String, usize)> {
    let toks = tokenize(src);
    let mut i = 0;
    while toks.get(i).map(|t| t.tok) == Some(Tok::Hash) {
        let mut depth = 0usize;
        i += 1;
        while let Some(t) = toks.get(i) {
            i += 1;
            match t.tok {
                Tok::Open(_) => depth += 1,
                Tok::Close(_) => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    let t = toks.get(i)?;
    (t.tok == Tok::Ident).then(|| (text(src, t), t.start))
}

/// `links[3].latency` → `links[3]` → `links` → `""` → none.
pub fn parent_path(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    let cut = path.rfind(['.', '[']).unwrap_or(0);
    Some(&path[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = r##"// a topology
Topology(
    domains: [(name: "a", kind: Plmn)],
    /* nested /* block */ comment ( [ */
    nodes: [
        (name: "n(1", domain: "a"),
        (name: 'x', domain: r#"b)"#, role: Proxy),
    ],
    links: [
        (source: "n1", target: "n2", latency: Constant("20ms")),
        (source: "n1", target: "n2", latency: Uniform(min: "1ms", max: "2ms"), down: [(from: "1s", to: Some("2s"))]),
        (source: "n1", target: "n2", latency: Empirical(["1ms", "2ms"])),
    ],
)
"##;

    fn paths(src: &str) -> Vec<String> {
        Outline::parse(src).entries().iter().map(|e| e.path.clone()).collect()
    }

    #[test]
    fn outline_paths_in_file_order() {
        let p = paths(SRC);
        for want in [
            "domains[0].name",
            "domains[0].kind",
            "nodes[1].domain",
            "nodes[1].role",
            "links[0].latency.Constant",
            "links[1].latency.Uniform.max",
            "links[1].down[0].to",
            "links[2].latency.Empirical[1]",
        ] {
            assert!(p.iter().any(|x| x == want), "missing {want} in {p:?}");
        }
        assert_eq!(p[0], "");
    }

    #[test]
    fn outline_find_and_position_roundtrip() {
        let o = Outline::parse(SRC);
        let e = o.find("links[1].latency").unwrap();
        assert_eq!(e.path, "links[1].latency.Uniform");
        let (line, col) = o.line_col(e.value.start);
        assert_eq!((line, col), (11, 47));
        assert_eq!(o.offset(line, col), e.value.start);
        assert_eq!(o.path_at(e.value.start + 12), "links[1].latency.Uniform.min");
        let to = o.find("links[1].down[0].to").unwrap();
        assert_eq!(&SRC[to.value.clone()], "Some(\"2s\")");
        assert_eq!(o.find_or_ancestor("links[0].loss").unwrap().path, "links[0]");
    }

    #[test]
    fn outline_map_keys_are_paths() {
        let src = r##"Experiment(
    capif: (
        aefs: {
            "aef-a1": (methods: Some(["PSK"])),
            r#"aef "2""#: (apis: Some([])),
            "a\"b": (),
        },
    ),
    n: {Psk: 1, 7: 2},
)"##;
        let o = Outline::parse(src);
        let e = o.find("capif.aefs[\"aef-a1\"].methods").unwrap();
        assert_eq!(o.line_col(e.value.start), (4, 33));
        let k = o.find("capif.aefs[\"aef-a1\"]").unwrap();
        assert_eq!(&src[k.key.clone().unwrap()], "\"aef-a1\"");
        assert_eq!(o.line_col(k.value.start), (4, 23));
        assert!(o.find("capif.aefs[\"aef \"2\"\"].apis").is_some());
        assert!(o.find("capif.aefs[\"a\"b\"]").is_some());
        assert!(o.find("n.Psk").is_some());
        assert!(o.find("n[7]").is_some());
        assert_eq!(o.path_at(k.key.clone().unwrap().start), "capif.aefs[\"aef-a1\"]");
        assert_eq!(
            parent_path("capif.aefs[\"aef-a1\"].methods"),
            Some("capif.aefs[\"aef-a1\"]")
        );
        assert_eq!(parent_path("capif.aefs[\"aef-a1\"]"), Some("capif.aefs"));
    }

    #[test]
    fn outline_survives_garbage() {
        for src in [
            "",
            "(",
            ")))",
            "[[[[",
            "\"unterminated",
            "/* open",
            "'",
            "Topology(a: b: c:",
            "#![enable(",
        ] {
            let o = Outline::parse(src);
            let _ = o.path_at(0);
            let _ = o.line_col(src.len() + 5);
        }
    }
}
