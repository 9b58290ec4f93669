//! A small validator for OpenAPI 3.0 Schema Objects, the subset the 3GPP files use.
//!
//! OpenAPI 3.0 schemas are a dialect of JSON Schema (draft-wright-00) plus `nullable`. Instead
//! of rewriting them into a JSON Schema document for a third-party validator, this module
//! evaluates the dialect directly, with these JSON Schema semantics:
//!
//! - `$ref` within a file (`#/components/schemas/X`) and across files
//!   (`TS29571_CommonData.yaml#/components/schemas/X`); siblings of `$ref` are ignored (OAS 3.0).
//!   A reference into a file that is not loaded accepts anything and is recorded in
//!   [`Report::unresolved`]; a dangling reference inside a loaded file is an error.
//! - `nullable: true` admits `null`; `type`, `enum`, `pattern` (ECMA-262 syntax as far as the
//!   `regex` crate shares it), `minLength`/`maxLength`, `minimum`/`maximum` (with the OAS 3.0
//!   boolean `exclusiveMinimum`/`exclusiveMaximum`), `multipleOf`, `items`, `minItems`/`maxItems`,
//!   `uniqueItems`, `properties`, `required`, `additionalProperties` (boolean or schema),
//!   `minProperties`/`maxProperties`, `allOf`, `anyOf`, `oneOf`, `not`.
//! - Annotations are ignored: `description`, `format`, `readOnly`, `writeOnly`, `default`,
//!   `example`, `deprecated`, `title`, `externalDocs`, `xml`, `discriminator`, `x-*`.
//! - Any other keyword is an error, so an unsupported construct can never pass silently.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Mutex;

use regex::Regex;
use serde_json::{Map, Number, Value};
use yaml_rust2::{Yaml, YamlLoader};

/// Keywords that are checked.
const CHECKED: &[&str] = &[
    "$ref",
    "type",
    "nullable",
    "enum",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "items",
    "minItems",
    "maxItems",
    "uniqueItems",
    "properties",
    "required",
    "additionalProperties",
    "minProperties",
    "maxProperties",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
];

/// Keywords that are annotations only.
const IGNORED: &[&str] = &[
    "description",
    "format",
    "readOnly",
    "writeOnly",
    "default",
    "example",
    "deprecated",
    "title",
    "externalDocs",
    "xml",
    "discriminator",
];

/// Recursion bound (a `$ref` cycle that does not descend into the instance).
const DEPTH_MAX: usize = 200;

/// The loaded OpenAPI files: file name → document as JSON.
pub struct Spec {
    files: BTreeMap<String, Value>,
    regexes: Mutex<HashMap<String, Result<Regex, String>>>,
}

/// The result of one validation.
#[derive(Debug, Default)]
pub struct Report {
    /// Violations, each `"<instance JSON pointer>: <message>"`.
    pub errors: Vec<String>,
    /// References into files that are not loaded, crossed while validating (accepted as `{}`).
    pub unresolved: BTreeSet<String>,
}

/// What [`Spec::audit`] found in the schemas themselves.
#[derive(Debug, Default)]
pub struct Audit {
    /// Number of schema objects visited.
    pub schemas: usize,
    /// Problems: unknown keywords, dangling refs in loaded files, bad patterns.
    pub problems: Vec<String>,
    /// Files referenced but not loaded.
    pub missing_files: BTreeSet<String>,
}

impl Spec {
    /// Loads every `*.yaml` of each folder in `dirs` into one spec, so that a `$ref` from one
    /// folder's file into another's resolves (`openapi-more` refers to `openapi`'s common
    /// data). A file name in two folders is an error (a reference names a file, not a folder);
    /// so is a folder without YAML.
    pub fn load_dirs(dirs: &[&Path]) -> Result<Spec, String> {
        let mut files = BTreeMap::new();
        for dir in dirs {
            let before = files.len();
            Spec::load_into(dir, &mut files)?;
            if files.len() == before {
                return Err(format!("{}: no *.yaml files", dir.display()));
            }
        }
        Ok(Spec {
            files,
            regexes: Mutex::new(HashMap::new()),
        })
    }

    fn load_into(dir: &Path, files: &mut BTreeMap<String, Value>) -> Result<(), String> {
        let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for entry in entries {
            let path = entry.map_err(|e| e.to_string())?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
                continue;
            }
            let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let docs = YamlLoader::load_from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            let doc = docs
                .into_iter()
                .next()
                .ok_or_else(|| format!("{}: empty", path.display()))?;
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
            if files.insert(name.clone(), yaml_to_json(doc)).is_some() {
                return Err(format!("{}: {name} is loaded from another folder too", path.display()));
            }
        }
        Ok(())
    }

    /// The loaded file names.
    pub fn file_names(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }

    /// Finds `components.schemas.<name>` in the file whose name contains `file_hint` (an empty
    /// hint searches every file; the name must then be unique).
    pub fn find_schema(&self, name: &str, file_hint: &str) -> Result<(&str, &Value), String> {
        let hits: Vec<(&str, &Value)> = self
            .files
            .iter()
            .filter(|(f, _)| f.contains(file_hint))
            .filter_map(|(f, doc)| {
                doc.pointer(&format!("/components/schemas/{}", escape(name)))
                    .map(|s| (f.as_str(), s))
            })
            .collect();
        match hits.as_slice() {
            [one] => Ok(*one),
            [] => Err(format!("schema {name:?} not found in files matching {file_hint:?}")),
            many => Err(format!(
                "schema {name:?} is in several files matching {file_hint:?}: {:?}",
                many.iter().map(|h| h.0).collect::<Vec<_>>()
            )),
        }
    }

    /// Validates `inst` against schema `name` of the file matching `file_hint`.
    ///
    /// With `strict`, an object member that its schema does not declare (in `properties`, across
    /// `allOf`/`anyOf`/`oneOf` and `$ref`) is an error unless the schema allows additional
    /// properties or crosses a missing file. The 3GPP schemas are open (no
    /// `additionalProperties: false`), so without `strict` a misspelt optional member would pass.
    pub fn validate(&self, name: &str, file_hint: &str, inst: &Value, strict: bool) -> Report {
        let mut walk = Walk {
            spec: self,
            report: Report::default(),
            depth: 0,
            strict,
        };
        match self.find_schema(name, file_hint) {
            Ok((file, schema)) => walk.check(file, schema, inst, "", strict),
            Err(e) => walk.report.errors.push(e),
        }
        walk.report
    }

    /// Visits every schema under `components.schemas` of every file and reports keywords this
    /// validator does not know, dangling references and patterns that do not compile.
    pub fn audit(&self) -> Audit {
        let mut audit = Audit::default();
        for (file, doc) in &self.files {
            if let Some(Value::Object(schemas)) = doc.pointer("/components/schemas") {
                for (name, schema) in schemas {
                    self.audit_schema(file, schema, &format!("{file}#/components/schemas/{name}"), &mut audit);
                }
            }
        }
        audit
    }

    fn audit_schema(&self, file: &str, schema: &Value, at: &str, audit: &mut Audit) {
        audit.schemas += 1;
        let Value::Object(map) = schema else {
            audit.problems.push(format!("{at}: schema is not an object"));
            return;
        };
        for (k, v) in map {
            if !(CHECKED.contains(&k.as_str()) || IGNORED.contains(&k.as_str()) || k.starts_with("x-")) {
                audit.problems.push(format!("{at}: unsupported keyword {k:?}"));
            }
            match k.as_str() {
                "$ref" => match v.as_str().map(|r| self.resolve(file, r)) {
                    Some(Ok(Target::Found(..))) => {}
                    Some(Ok(Target::MissingFile(f))) => {
                        audit.missing_files.insert(f);
                    }
                    Some(Err(e)) => audit.problems.push(format!("{at}: {e}")),
                    None => audit.problems.push(format!("{at}: $ref is not a string")),
                },
                "pattern" => {
                    if let Err(e) = v
                        .as_str()
                        .ok_or_else(|| "not a string".to_owned())
                        .and_then(|p| self.regex(p))
                    {
                        audit.problems.push(format!("{at}: pattern: {e}"));
                    }
                }
                "properties" => {
                    for (p, s) in v.as_object().into_iter().flatten() {
                        self.audit_schema(file, s, &format!("{at}/properties/{p}"), audit);
                    }
                }
                "items" | "not" => self.audit_schema(file, v, &format!("{at}/{k}"), audit),
                "additionalProperties" if v.is_object() => self.audit_schema(file, v, &format!("{at}/{k}"), audit),
                "allOf" | "anyOf" | "oneOf" => {
                    for (i, s) in v.as_array().into_iter().flatten().enumerate() {
                        self.audit_schema(file, s, &format!("{at}/{k}/{i}"), audit);
                    }
                }
                _ => {}
            }
        }
    }

    fn resolve<'s>(&'s self, file: &'s str, reference: &str) -> Result<Target<'s>, String> {
        let (ref_file, pointer) = reference.split_once('#').unwrap_or((reference, ""));
        let (file, doc) = if ref_file.is_empty() {
            (file, &self.files[file])
        } else {
            match self.files.get_key_value(ref_file) {
                Some((f, d)) => (f.as_str(), d),
                None => return Ok(Target::MissingFile(ref_file.to_owned())),
            }
        };
        doc.pointer(pointer)
            .map(|s| Target::Found(file, s))
            .ok_or_else(|| format!("dangling $ref {reference:?} (from {file})"))
    }

    /// Collects the member names `schema` declares, through `$ref` and the combinators.
    fn declared(&self, file: &str, schema: &Value, out: &mut Declared, depth: usize) {
        let Value::Object(s) = schema else { return };
        if depth > DEPTH_MAX {
            out.open = true;
            return;
        }
        if let Some(r) = s.get("$ref").and_then(Value::as_str) {
            match self.resolve(file, r) {
                Ok(Target::Found(f, target)) => self.declared(f, target, out, depth + 1),
                _ => out.open = true,
            }
            return;
        }
        match s.get("additionalProperties") {
            None | Some(Value::Bool(false)) => {}
            Some(_) => out.open = true,
        }
        if let Some(Value::Object(props)) = s.get("properties") {
            out.names.extend(props.keys().cloned());
        }
        for k in ["allOf", "anyOf", "oneOf"] {
            for sub in s.get(k).and_then(Value::as_array).into_iter().flatten() {
                self.declared(file, sub, out, depth + 1);
            }
        }
    }

    fn regex(&self, pattern: &str) -> Result<Regex, String> {
        let mut cache = self.regexes.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .entry(pattern.to_owned())
            .or_insert_with(|| Regex::new(pattern).map_err(|e| e.to_string()))
            .clone()
    }
}

/// Member names a schema declares; `open` if it admits others.
#[derive(Default)]
struct Declared {
    names: BTreeSet<String>,
    open: bool,
}

enum Target<'s> {
    Found(&'s str, &'s Value),
    MissingFile(String),
}

struct Walk<'s> {
    spec: &'s Spec,
    report: Report,
    depth: usize,
    /// Closed world: object members must be declared (see [`Spec::validate`]).
    strict: bool,
}

impl<'s> Walk<'s> {
    fn err(&mut self, path: &str, msg: impl std::fmt::Display) {
        let path = if path.is_empty() { "/" } else { path };
        self.report.errors.push(format!("{path}: {msg}"));
    }

    /// Runs `check` into a fresh error list (for `anyOf`/`oneOf`/`not`), keeping unresolved refs.
    fn sub(&mut self, file: &'s str, schema: &'s Value, inst: &Value, path: &str) -> Vec<String> {
        let saved = std::mem::take(&mut self.report.errors);
        // The members of `inst` itself were checked against the union of the alternatives.
        self.check(file, schema, inst, path, false);
        std::mem::replace(&mut self.report.errors, saved)
    }

    /// Checks `inst` against `schema`; `closed` asks for the declared-members check on `inst`.
    fn check(&mut self, file: &'s str, schema: &'s Value, inst: &Value, path: &str, closed: bool) {
        if self.depth > DEPTH_MAX {
            self.err(path, "schema recursion too deep");
            return;
        }
        self.depth += 1;
        self.check_inner(file, schema, inst, path, closed);
        self.depth -= 1;
    }

    fn check_inner(&mut self, file: &'s str, schema: &'s Value, inst: &Value, path: &str, closed: bool) {
        let Value::Object(s) = schema else {
            self.err(path, format!("schema in {file} is not an object"));
            return;
        };
        if let Some(r) = s.get("$ref") {
            let Some(r) = r.as_str() else {
                return self.err(path, "$ref is not a string");
            };
            match self.spec.resolve(file, r) {
                Ok(Target::Found(f, target)) => self.check(f, target, inst, path, closed),
                Ok(Target::MissingFile(_)) => {
                    self.report.unresolved.insert(r.to_owned());
                }
                Err(e) => self.err(path, e),
            }
            return;
        }
        for k in s.keys() {
            if !(CHECKED.contains(&k.as_str()) || IGNORED.contains(&k.as_str()) || k.starts_with("x-")) {
                self.err(path, format!("unsupported schema keyword {k:?} in {file}"));
            }
        }
        if inst.is_null() && s.get("nullable").and_then(Value::as_bool) == Some(true) {
            return;
        }
        if let Some(t) = s.get("type").and_then(Value::as_str)
            && !type_matches(t, inst)
        {
            self.err(path, format!("expected {t}, got {}", kind(inst)));
            return;
        }
        if let Some(Value::Array(values)) = s.get("enum")
            && !values.contains(inst)
        {
            self.err(path, format!("{inst} is not one of {}", Value::Array(values.clone())));
        }
        if closed && let Value::Object(members) = inst {
            let mut declared = Declared::default();
            self.spec.declared(file, schema, &mut declared, 0);
            if !declared.open && !declared.names.is_empty() {
                for name in members.keys().filter(|m| !declared.names.contains(m.as_str())) {
                    self.err(&format!("{path}/{}", escape(name)), "member not declared by the schema");
                }
            }
        }
        match inst {
            Value::String(text) => self.check_string(s, text, path),
            Value::Number(n) => self.check_number(s, n, path),
            Value::Array(items) => self.check_array(file, s, items, path),
            Value::Object(members) => self.check_object(file, s, members, path),
            _ => {}
        }
        self.check_combinators(file, s, inst, path);
    }

    fn check_string(&mut self, s: &Map<String, Value>, text: &str, path: &str) {
        let chars = text.chars().count() as u64;
        if let Some(min) = s.get("minLength").and_then(Value::as_u64)
            && chars < min
        {
            self.err(path, format!("{text:?} is shorter than {min}"));
        }
        if let Some(max) = s.get("maxLength").and_then(Value::as_u64)
            && chars > max
        {
            self.err(path, format!("{text:?} is longer than {max}"));
        }
        if let Some(p) = s.get("pattern").and_then(Value::as_str) {
            match self.spec.regex(p) {
                Ok(re) if re.is_match(text) => {}
                Ok(_) => self.err(path, format!("{text:?} does not match {p}")),
                Err(e) => self.err(path, format!("bad pattern {p}: {e}")),
            }
        }
    }

    fn check_number(&mut self, s: &Map<String, Value>, n: &Number, path: &str) {
        let Some(x) = n.as_f64() else { return };
        let flag = |k: &str| s.get(k).and_then(Value::as_bool) == Some(true);
        if let Some(min) = s.get("minimum").and_then(Value::as_f64) {
            let bad = if flag("exclusiveMinimum") { x <= min } else { x < min };
            if bad {
                self.err(path, format!("{n} is below the minimum {min}"));
            }
        }
        if let Some(max) = s.get("maximum").and_then(Value::as_f64) {
            let bad = if flag("exclusiveMaximum") { x >= max } else { x > max };
            if bad {
                self.err(path, format!("{n} is above the maximum {max}"));
            }
        }
        if let Some(m) = s.get("multipleOf").and_then(Value::as_f64)
            && m > 0.0
            && (x / m).fract() != 0.0
        {
            self.err(path, format!("{n} is not a multiple of {m}"));
        }
    }

    fn check_array(&mut self, file: &'s str, s: &'s Map<String, Value>, items: &[Value], path: &str) {
        let len = items.len() as u64;
        if let Some(min) = s.get("minItems").and_then(Value::as_u64)
            && len < min
        {
            self.err(path, format!("{len} items, fewer than minItems {min}"));
        }
        if let Some(max) = s.get("maxItems").and_then(Value::as_u64)
            && len > max
        {
            self.err(path, format!("{len} items, more than maxItems {max}"));
        }
        if s.get("uniqueItems").and_then(Value::as_bool) == Some(true) {
            for (i, a) in items.iter().enumerate() {
                if items[..i].contains(a) {
                    self.err(path, format!("item {i} repeats an earlier item"));
                }
            }
        }
        if let Some(item_schema) = s.get("items") {
            for (i, item) in items.iter().enumerate() {
                self.check(file, item_schema, item, &format!("{path}/{i}"), self.strict);
            }
        }
    }

    fn check_object(&mut self, file: &'s str, s: &'s Map<String, Value>, members: &Map<String, Value>, path: &str) {
        for r in s.get("required").and_then(Value::as_array).into_iter().flatten() {
            if let Some(name) = r.as_str()
                && !members.contains_key(name)
            {
                self.err(path, format!("missing required member {name:?}"));
            }
        }
        let n = members.len() as u64;
        if let Some(min) = s.get("minProperties").and_then(Value::as_u64)
            && n < min
        {
            self.err(path, format!("{n} members, fewer than minProperties {min}"));
        }
        if let Some(max) = s.get("maxProperties").and_then(Value::as_u64)
            && n > max
        {
            self.err(path, format!("{n} members, more than maxProperties {max}"));
        }
        let props = s.get("properties").and_then(Value::as_object);
        for (name, value) in members {
            let member_path = format!("{path}/{}", escape(name));
            match props.and_then(|p| p.get(name)) {
                Some(ps) => self.check(file, ps, value, &member_path, self.strict),
                None => match s.get("additionalProperties") {
                    Some(Value::Bool(false)) => {
                        self.err(&member_path, "member not allowed (additionalProperties: false)")
                    }
                    Some(ap @ Value::Object(_)) => self.check(file, ap, value, &member_path, self.strict),
                    _ => {}
                },
            }
        }
    }

    fn check_combinators(&mut self, file: &'s str, s: &'s Map<String, Value>, inst: &Value, path: &str) {
        if let Some(all) = s.get("allOf").and_then(Value::as_array) {
            for sub in all {
                self.check(file, sub, inst, path, false);
            }
        }
        if let Some(any) = s.get("anyOf").and_then(Value::as_array) {
            let mut failures = Vec::new();
            for sub in any {
                let errs = self.sub(file, sub, inst, path);
                if errs.is_empty() {
                    failures.clear();
                    break;
                }
                failures.push(errs.join("; "));
            }
            if !failures.is_empty() {
                self.err(
                    path,
                    format!("matches no anyOf alternative: [{}]", failures.join("] | [")),
                );
            }
        }
        if let Some(one) = s.get("oneOf").and_then(Value::as_array) {
            let mut matched = Vec::new();
            let mut failures = Vec::new();
            for (i, sub) in one.iter().enumerate() {
                let errs = self.sub(file, sub, inst, path);
                if errs.is_empty() {
                    matched.push(i);
                } else {
                    failures.push(errs.join("; "));
                }
            }
            match matched.len() {
                1 => {}
                0 => self.err(
                    path,
                    format!("matches no oneOf alternative: [{}]", failures.join("] | [")),
                ),
                _ => self.err(path, format!("matches several oneOf alternatives {matched:?}")),
            }
        }
        if let Some(not) = s.get("not")
            && self.sub(file, not, inst, path).is_empty()
        {
            self.err(path, "matches a `not` schema");
        }
    }
}

fn type_matches(t: &str, v: &Value) -> bool {
    match t {
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        "number" => v.is_number(),
        "integer" => match v {
            Value::Number(n) => n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0),
            _ => false,
        },
        _ => false,
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// JSON pointer escaping of one reference token (RFC 6901).
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// YAML → JSON. Mapping keys become strings (`200:` → `"200"`); floats that JSON cannot hold
/// become strings.
fn yaml_to_json(y: Yaml) -> Value {
    match y {
        Yaml::Null | Yaml::BadValue | Yaml::Alias(_) => Value::Null,
        Yaml::Boolean(b) => Value::Bool(b),
        Yaml::Integer(i) => Value::from(i),
        Yaml::Real(r) => r
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map_or(Value::String(r), Value::Number),
        Yaml::String(s) => Value::String(s),
        Yaml::Array(a) => Value::Array(a.into_iter().map(yaml_to_json).collect()),
        Yaml::Hash(h) => Value::Object(
            h.into_iter()
                .map(|(k, v)| {
                    let key = match k {
                        Yaml::String(s) | Yaml::Real(s) => s,
                        Yaml::Integer(i) => i.to_string(),
                        Yaml::Boolean(b) => b.to_string(),
                        other => format!("{other:?}"),
                    };
                    (key, yaml_to_json(v))
                })
                .collect(),
        ),
    }
}
